/**
 * Tells the relay, once at setup, which client the peer runs (`register` with only `client`), so
 * the room and list_peers can show it. The relay keeps it across later registers. One plain
 * tools/call over HTTP: the relay's fast lane answers it without an MCP session.
 */
import type { RelayTarget } from "../core/config.ts";

/** True when the relay took it; false (and setup goes on) when it could not be reached or refused. */
export async function announceClient(target: RelayTarget, client: string, timeoutMs = 10_000): Promise<boolean> {
  try {
    const response = await fetch(target.mcpUrl, {
      method: "POST",
      headers: { Authorization: `Bearer ${target.token}`, "Content-Type": "application/json", Accept: "application/json, text/event-stream" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "register", arguments: { client } } }),
      signal: AbortSignal.timeout(timeoutMs),
    });
    const text = await response.text();
    return response.ok && !/"isError":\s*true/.test(text);
  } catch {
    return false;
  }
}

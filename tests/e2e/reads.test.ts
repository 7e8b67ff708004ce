/**
 * Reads are at-least-once for a client that acks, against the real `npm start`: each batch is
 * confirmed by the client's next read, so neither a relay killed in the middle of reads nor a
 * client that gives up after the relay answered loses anything. (Without `ack`, as Claude Code
 * reads, the written response confirms: a response handed to wrangler's proxy just before both
 * die can be lost, which these tests would catch.) A message may come twice; the tests count
 * those duplicates and print them.
 */
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startRelay, type RelayServer } from "../helpers/relay-server.ts";

let relay: RelayServer;

beforeAll(async () => {
  // 200 DMs into one group: the group's hourly budget for agent messages (docs/chains.md) is not what is tested.
  relay = await startRelay({ vars: { RATE_LIMIT_COUNT: "100000", GROUP_AGENT_MESSAGES_PER_HOUR: "100000" } });
});

afterAll(async () => {
  await relay?.stop();
});

type Mail = { id: string; seq: number; text: string };

async function mcpClient(token: string): Promise<Client> {
  const client = new Client({ name: "e2e-reads", version: "1.0.0" });
  await client.connect(new StreamableHTTPClientTransport(new URL(`${relay.url}/mcp`), { requestInit: { headers: { Authorization: `Bearer ${token}` } } }));
  return client;
}

async function tool<T>(client: Client, name: string, args: Record<string, unknown> = {}): Promise<T> {
  const result = (await client.callTool({ name, arguments: args })) as { isError?: boolean; structuredContent?: T; content: { text: string }[] };
  if (result.isError) throw new Error(result.content[0]?.text ?? "tool error");
  return result.structuredContent as T;
}

async function sendDms(group: string, count: number): Promise<Set<string>> {
  const alice = await mcpClient(await relay.mint(group, "alice"));
  const bob = await mcpClient(await relay.mint(group, "bob"));
  await tool(bob, "list_peers");
  const ids = new Set<string>();
  // Four at a time: the setup, not what is tested, and a busy machine makes each call slow.
  let next = 0;
  const lane = async () => {
    while (next < count) ids.add((await tool<{ id: string }>(alice, "send_dm", { to: "bob", text: `m${next++}` })).id);
  };
  await Promise.all([lane(), lane(), lane(), lane()]);
  await Promise.all([alice.close(), bob.close()]);
  return ids;
}

/**
 * One read_new_messages as a raw streamable-HTTP POST (what a client library does), abandoned
 * after `abortAfterMs`. Resolves with the batch and its `through`, or "failed".
 */
async function rawRead(token: string, args: Record<string, unknown>, abortAfterMs = 30_000): Promise<{ messages: Mail[]; through?: number } | "failed"> {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), abortAfterMs);
  try {
    const response = await fetch(`${relay.url}/mcp`, {
      method: "POST",
      signal: abort.signal,
      headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json", Accept: "application/json, text/event-stream" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "read_new_messages", arguments: args } }),
    });
    const body = await response.text();
    const data = body.split("\n").find((line) => line.startsWith("data: "));
    const message = JSON.parse(data ? data.slice(6) : body) as { result?: { structuredContent?: { messages: Mail[]; through?: number } } };
    return message.result?.structuredContent ?? "failed";
  } catch {
    return "failed";
  } finally {
    clearTimeout(timer);
  }
}

describe("reads are at-least-once on npm start", () => {
  it("SIGKILL of the relay during 200 reads: nothing unread is lost; duplicates counted", { timeout: 240_000 }, async () => {
    const group = "reads-kill";
    const sent = await sendDms(group, 200);
    const token = await relay.mint(group, "bob");
    const received: string[] = [];
    const killAt = new Set([40, 110, 170]);
    let kills = 0;
    let ack = 0;
    for (let reads = 0; reads < 400 && new Set(received).size < sent.size; reads++) {
      // Kill while a read is in flight: the relay may die before, during or after handing it over.
      const reading = rawRead(token, { limit: 1, ack });
      if (killAt.has(reads)) {
        await new Promise((resolve) => setTimeout(resolve, kills * 3));
        await relay.crash();
        kills++;
      }
      const batch = await reading;
      if (batch === "failed") continue;
      received.push(...batch.messages.map((m) => m.id));
      if (batch.through !== undefined) ack = batch.through;
      // Mail handed out just before a kill comes back once its lease (memory) is gone.
      if (batch.messages.length === 0) await new Promise((resolve) => setTimeout(resolve, 200));
    }
    const unique = new Set(received);
    const lost = [...sent].filter((id) => !unique.has(id)).length;
    console.log(`SIGKILL x${kills} during reads of 200 DMs: ${received.length} received, ${unique.size} distinct, lost ${lost}, duplicates ${received.length - unique.size}`);
    expect(kills).toBe(3);
    expect(lost).toBe(0);
    expect([...unique].every((id) => sent.has(id))).toBe(true);
  });

  it("clients that give up mid-read lose nothing: what they did not take stays unread", { timeout: 150_000 }, async () => {
    const group = "reads-abort";
    const sent = await sendDms(group, 60);
    const token = await relay.mint(group, "bob");
    const received: string[] = [];
    let aborted = 0;
    // Clients that give up after 0-28 ms: before the relay answered, or after it wrote the answer
    // but before they read it. They ack, so what they never took is not confirmed.
    for (let i = 0; i < 40; i++) {
      const batch = await rawRead(token, { limit: 3, ack: 0 }, (i % 8) * 4);
      if (batch === "failed") aborted++;
      else received.push(...batch.messages.map((m) => m.id));
    }
    // Then a patient client that acks reads whatever is left: unconfirmed mail comes back once
    // the short leases of the abandoned reads run out.
    let ack = 0;
    const deadline = Date.now() + 60_000;
    while (new Set(received).size < sent.size && Date.now() < deadline) {
      const batch = await rawRead(token, { limit: 200, ack });
      if (batch === "failed") continue;
      received.push(...batch.messages.map((m) => m.id));
      if (batch.through !== undefined) ack = batch.through;
      if (batch.messages.length === 0) await new Promise((resolve) => setTimeout(resolve, 500));
    }
    const unique = new Set(received);
    const lost = [...sent].filter((id) => !unique.has(id)).length;
    console.log(`${aborted} of 40 reads abandoned: ${received.length} received, ${unique.size} distinct, lost ${lost}, duplicates ${received.length - unique.size}`);
    expect(aborted).toBeGreaterThan(0);
    expect(lost).toBe(0);
  });
});

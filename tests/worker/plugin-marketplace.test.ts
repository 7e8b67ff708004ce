/**
 * The relay's hosted Claude Code marketplace: /marketplace.json names the plugin archive by URL and
 * SHA-256, the archive's bytes have exactly that digest, and it holds the plugin (manifest with the
 * sensitive token option, commands, and the bridge its hooks run). Installing it with Claude Code
 * needs an https, non-loopback relay, which a test here cannot be: the local answer says so.
 */
import { describe, expect, it } from "vitest";
import { BASE, workerFetch } from "./helpers.ts";

/** The entries of a stored (uncompressed) zip, read from its central directory. */
function readZip(bytes: Uint8Array): Map<string, Uint8Array> {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const end = bytes.length - 22;
  expect(view.getUint32(end, true)).toBe(0x06054b50);
  const count = view.getUint16(end + 10, true);
  let at = view.getUint32(end + 16, true);
  const entries = new Map<string, Uint8Array>();
  for (let i = 0; i < count; i++) {
    expect(view.getUint32(at, true)).toBe(0x02014b50);
    const size = view.getUint32(at + 24, true);
    const nameLength = view.getUint16(at + 28, true);
    const local = view.getUint32(at + 42, true);
    const name = new TextDecoder().decode(bytes.subarray(at + 46, at + 46 + nameLength));
    const dataAt = local + 30 + view.getUint16(local + 26, true) + view.getUint16(local + 28, true);
    entries.set(name, bytes.subarray(dataAt, dataAt + size));
    at += 46 + nameLength + view.getUint16(at + 30, true) + view.getUint16(at + 32, true);
  }
  return entries;
}

describe("the hosted plugin marketplace", () => {
  it("lists the plugin archive with the SHA-256 of the bytes it serves", async () => {
    const catalogue = await workerFetch(`${BASE}/marketplace.json`);
    expect(catalogue.status).toBe(200);
    expect(catalogue.headers.get("X-Relay-Note")).toContain("only over https");
    const body = (await catalogue.json()) as { name: string; plugins: { name: string; source: { source: string; url: string; sha256: string } }[] };
    expect(body.name).toBe("claude-relay");
    const [plugin] = body.plugins;
    expect(plugin).toMatchObject({ name: "relay", source: { source: "archive", url: `${BASE}/relay-plugin.zip` } });

    const download = await workerFetch(plugin!.source.url);
    expect(download.headers.get("Content-Type")).toBe("application/zip");
    const bytes = new Uint8Array(await download.arrayBuffer());
    const digest = [...new Uint8Array(await crypto.subtle.digest("SHA-256", bytes))].map((b) => b.toString(16).padStart(2, "0")).join("");
    expect(digest).toBe(plugin!.source.sha256);

    const files = readZip(bytes);
    expect([...files.keys()].sort()).toEqual([".claude-plugin/plugin.json", "commands/inbox.md", "commands/peers.md", "relay-bridge.mjs"]);
    const manifest = JSON.parse(new TextDecoder().decode(files.get(".claude-plugin/plugin.json")));
    expect(manifest.userConfig.token).toMatchObject({ sensitive: true });
    expect(manifest.mcpServers.relay.headers.Authorization).toBe("Bearer ${user_config.token}");
    expect(manifest.hooks.SessionStart[0].hooks[0]).toMatchObject({ command: "node", args: ["${CLAUDE_PLUGIN_ROOT}/relay-bridge.mjs", "hook", "session-start", "--client", "claude"] });
    expect(new TextDecoder().decode(files.get("relay-bridge.mjs")!.subarray(0, 19))).toBe("#!/usr/bin/env node");
  });
});

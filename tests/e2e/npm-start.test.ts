/**
 * End to end: the real `npm start` on a free port, driven over HTTP by a real MCP client and a
 * real WebSocket, exactly as Claude Code and the bridge reach it.
 */
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { startRelay, type RelayServer } from "../helpers/relay-server.ts";

let relay: RelayServer;

beforeAll(async () => {
  relay = await startRelay();
});

afterAll(async () => {
  await relay?.stop();
});

async function mcpClient(token: string): Promise<Client> {
  const client = new Client({ name: "e2e", version: "1.0.0" });
  await client.connect(
    new StreamableHTTPClientTransport(new URL(`${relay.url}/mcp`), { requestInit: { headers: { Authorization: `Bearer ${token}` } } }),
  );
  return client;
}

function text(result: unknown): string {
  return (result as { content: { text: string }[] }).content.map((c) => c.text).join("\n");
}

describe("npm start (wrangler dev)", () => {
  it("answers /health without a token and 401 with a JSON reason without one on /mcp", async () => {
    expect((await fetch(`${relay.url}/health`)).status).toBe(200);
    const response = await fetch(`${relay.url}/mcp`, { method: "POST", body: "{}", headers: { "Content-Type": "application/json" } });
    expect(response.status).toBe(401);
    expect(((await response.json()) as { message: string }).message).toMatch(/Authorization: Bearer/);
  });

  it("carries a broadcast, a DM and a question between two MCP clients, with a notice on the socket", async () => {
    const alice = await mcpClient(await relay.mint("core", "alice"));
    const bob = await mcpClient(await relay.mint("core", "bob"));
    await bob.callTool({ name: "register", arguments: { summary: "backend" } });

    const socket = new WebSocket(`${relay.url.replace("http", "ws")}/groups/core/ws`, {
      headers: { Authorization: `Bearer ${await relay.mint("core", "bob")}` },
    });
    const frames: { type: string; [key: string]: unknown }[] = [];
    socket.on("message", (data) => frames.push(JSON.parse(String(data))));
    await new Promise((resolve, reject) => {
      socket.once("open", resolve);
      socket.once("error", reject);
    });
    socket.send(JSON.stringify({ type: "hello", last_acked: null }));
    await expect.poll(() => frames.some((f) => f.type === "replay_done")).toBe(true);

    await alice.callTool({ name: "send_message", arguments: { text: "deploy at 5" } });
    await alice.callTool({ name: "send_dm", arguments: { to: "bob", text: "psst" } });
    await expect.poll(() => frames.filter((f) => f.type === "notice").map((f) => f.kind)).toEqual(["group", "dm"]);

    const inbox = text(await bob.callTool({ name: "read_new_messages", arguments: {} }));
    expect(inbox).toContain("deploy at 5");
    expect(inbox).toContain("psst");

    const asking = alice.callTool({ name: "ask_peer", arguments: { to: "bob", question: "which port?", timeout_seconds: 30 } });
    await expect.poll(() => frames.filter((f) => f.kind === "question").length).toBe(1);
    const question = frames.find((f) => f.kind === "question")!;
    await bob.callTool({ name: "send_dm", arguments: { to: "alice", text: "8787", reply_to: question.id } });
    expect(text(await asking)).toContain("8787");

    socket.close();
    await alice.close();
    await bob.close();
  });

  it("keeps history, cursors and profiles across a restart", async () => {
    const carol = await mcpClient(await relay.mint("keep", "carol"));
    const dave = await mcpClient(await relay.mint("keep", "dave"));
    await dave.callTool({ name: "register", arguments: { summary: "infra" } });
    await carol.callTool({ name: "send_message", arguments: { text: "before restart 1" } });
    await dave.callTool({ name: "read_new_messages", arguments: {} });
    await carol.callTool({ name: "send_message", arguments: { text: "before restart 2" } });

    await relay.restart();

    const dave2 = await mcpClient(await relay.mint("keep", "dave"));
    const inbox = text(await dave2.callTool({ name: "read_new_messages", arguments: {} }));
    expect(inbox).toContain("before restart 2");
    expect(inbox).not.toContain("before restart 1");
    const peers = text(await dave2.callTool({ name: "list_peers", arguments: {} }));
    expect(peers).toContain("infra");
    const history = text(await dave2.callTool({ name: "get_history", arguments: {} }));
    expect(history).toContain("before restart 1");
    await dave2.close();
  });
});

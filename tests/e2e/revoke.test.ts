/**
 * Security against the real local relay (`npm start`, wrangler dev) with the real token CLI:
 * revocation with `npm run -s token -- --revoke`, proven with the team secret; no token
 * or secret in the relay's logs; and the DNS-rebinding guard on the real listening socket.
 */
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { spawn } from "node:child_process";
import { request } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { findSecret } from "../../scripts/secret.ts";
import { REPO_ROOT, type RelayServer, startRelay } from "../helpers/relay-server.ts";

let relay: RelayServer;
/** Every token and CLI output this file handles, to look for in the relay's logs at the end. */
const handled = { tokens: new Set<string>(), cliOutput: [] as string[] };

beforeAll(async () => {
  relay = await startRelay();
});

afterAll(async () => {
  await relay?.stop();
});

/** Runs `npm run -s token -- <args>` exactly as a person would. */
function tokenCli(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn("npm", ["run", "-s", "token", "--", ...args], { cwd: REPO_ROOT, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk) => (stdout += chunk));
    child.stderr.on("data", (chunk) => (stderr += chunk));
    child.once("error", reject);
    child.once("exit", (code) => {
      handled.cliOutput.push(stdout, stderr);
      resolve({ code: code ?? -1, stdout, stderr });
    });
  });
}

async function mintWithCli(group: string, peer: string): Promise<string> {
  const { code, stdout, stderr } = await tokenCli(["--group", group, "--peer", peer]);
  expect(code, stderr).toBe(0);
  const token = stdout.trim();
  expect(stdout).toBe(`${token}\n`);
  handled.tokens.add(token);
  return token;
}

async function mcpClient(token: string): Promise<Client> {
  const client = new Client({ name: "e2e-security", version: "1.0.0" });
  await client.connect(new StreamableHTTPClientTransport(new URL(`${relay.url}/mcp`), { requestInit: { headers: { Authorization: `Bearer ${token}` } } }));
  return client;
}

async function tool(client: Client, name: string, args: Record<string, unknown> = {}) {
  const r = (await client.callTool({ name, arguments: args })) as { isError?: boolean; content: { text?: string }[]; structuredContent?: Record<string, any> };
  return { isError: r.isError === true, text: r.content.map((c) => c.text ?? "").join("\n"), data: r.structuredContent ?? {} };
}

/** A raw MCP request (no SDK), to see the HTTP status a revoked token gets. */
async function post(token: string, method: string, params: unknown = {}): Promise<{ status: number; body: string }> {
  const response = await fetch(`${relay.url}/mcp`, {
    method: "POST",
    headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json", Accept: "application/json, text/event-stream" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }),
  });
  return { status: response.status, body: await response.text() };
}

interface Socket {
  ws: WebSocket;
  frames: { type: string; [key: string]: any }[];
  closed: Promise<{ code: number; reason: string }>;
}

/** Opens a bridge socket; resolves with the HTTP status when the upgrade is refused. */
function socket(group: string, token: string, headers: Record<string, string> = {}): Promise<Socket | { refused: number }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${relay.url.replace("http", "ws")}/groups/${group}/ws`, { headers: { Authorization: `Bearer ${token}`, ...headers } });
    const frames: Socket["frames"] = [];
    const closed = new Promise<{ code: number; reason: string }>((done) => ws.once("close", (code, reason) => done({ code, reason: String(reason) })));
    ws.on("message", (data) => frames.push(JSON.parse(String(data))));
    ws.once("unexpected-response", (_req, res) => {
      resolve({ refused: res.statusCode ?? 0 });
      res.resume();
      ws.terminate();
    });
    ws.once("open", () => {
      ws.send(JSON.stringify({ type: "hello", last_acked: null }));
      resolve({ ws, frames, closed });
    });
    ws.once("error", (error) => {
      if (!(error as Error).message.includes("Unexpected server response")) reject(error);
    });
  });
}

function opened(s: Socket | { refused: number }): Socket {
  if ("refused" in s) throw new Error(`socket refused with ${s.refused}`);
  return s;
}

describe("revocation with the real token CLI against npm start", () => {
  it("old tokens are useless at once on MCP and the socket (closed 4401); a new one works; a wrong secret cannot revoke", { timeout: 120_000 }, async () => {
    const group = "revoke";
    const alice = await mcpClient(await mintWithCli(group, "alice"));
    const oldToken = await mintWithCli(group, "bob");
    const bob = await mcpClient(oldToken);
    expect((await tool(bob, "register", { summary: "bob, about to be revoked" })).isError).toBe(false);
    const bobSocket = opened(await socket(group, oldToken));
    await expect.poll(() => bobSocket.frames.some((f) => f.type === "replay_done")).toBe(true);
    // Another group's bob is someone else: revoking bob in `revoke` must not touch him.
    const otherBob = await mcpClient(await mintWithCli("elsewhere", "bob"));

    // Someone without the team secret tries to revoke bob: refused, and bob carries on.
    const forged = await tokenCli(["--revoke", "--group", group, "--peer", "bob", "--url", relay.url], { RELAY_SECRET: "f0".repeat(32) });
    expect(forged.code).not.toBe(0);
    expect(forged.stderr).toMatch(/the relay refused: Revocation needs the team secret/);
    expect((await tool(bob, "list_peers")).isError).toBe(false);
    expect((await post(oldToken, "tools/list")).status).toBe(200);

    // The real revocation.
    const revoked = await tokenCli(["--revoke", "--group", group, "--peer", "bob", "--url", relay.url]);
    expect(revoked.code, revoked.stderr).toBe(0);
    expect(revoked.stdout).toBe("");
    expect(revoked.stderr).toMatch(/Revoked every token issued to bob in revoke until now \(1 socket\(s\) closed\)/);

    // At once: the open socket was closed with 4401, and every MCP use of the old token fails.
    expect(await bobSocket.closed).toMatchObject({ code: 4401 });
    expect(bobSocket.frames.at(-1)).toMatchObject({ type: "error", code: "revoked" });
    const refused = await post(oldToken, "tools/list");
    expect(refused.status).toBe(401);
    expect(JSON.parse(refused.body)).toMatchObject({ error: "token_revoked" });
    const initialize = await post(oldToken, "initialize", { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "x", version: "1" } });
    expect(initialize.status).toBe(401);
    const call = await tool(bob, "send_message", { text: "am I still here?" });
    expect(call.isError).toBe(true);
    expect(call.data.error).toBe("revoked");
    expect(await socket(group, oldToken)).toEqual({ refused: 401 });
    // Nothing bob tried after the revocation was stored.
    expect((await tool(alice, "get_history")).data.messages).toEqual([]);

    // A token minted now works, on MCP and on the socket; other peers were never affected.
    const newToken = await mintWithCli(group, "bob");
    const bobAgain = await mcpClient(newToken);
    const newSocket = opened(await socket(group, newToken));
    await expect.poll(() => newSocket.frames.some((f) => f.type === "replay_done")).toBe(true);
    const hello = await tool(alice, "send_dm", { to: "bob", text: "welcome back" });
    expect(hello.isError, hello.text).toBe(false);
    await expect.poll(() => newSocket.frames.filter((f) => f.type === "notice").map((f) => f.seq)).toEqual([hello.data.seq]);
    const inbox = await tool(bobAgain, "read_new_messages");
    expect(inbox.data.messages.map((m: { text: string }) => m.text)).toEqual(["welcome back"]);
    const peers = (await tool(bobAgain, "list_peers")).data.peers as { name: string; summary?: string }[];
    expect(peers.find((p) => p.name === "bob")!.summary).toBe("bob, about to be revoked");
    expect((await tool(otherBob, "list_peers")).isError).toBe(false);
    // Revocation survives a restart of the relay.
    await relay.restart();
    expect((await post(oldToken, "tools/list")).status).toBe(401);
    expect((await post(newToken, "tools/list")).status).toBe(200);

    newSocket.ws.close();
    for (const c of [alice, bob, bobAgain, otherBob]) await c.close().catch(() => {});
  });
});

describe("the relay's logs", () => {
  it("never contain the secret, a token or a token's signature, after all of the above", async () => {
    const secret = findSecret();
    expect(secret).toBeTruthy();
    const log = relay.output();
    // The log is not empty: wrangler printed its requests, so a leak would have shown.
    expect(log).toMatch(/\/mcp/);
    const needles = [secret!, ...handled.tokens, ...[...handled.tokens].map((t) => t.split(".")[2]!)];
    for (const needle of needles) expect(log.includes(needle), "a token or the secret appears in the relay's output").toBe(false);
    expect(log).not.toMatch(/rly1\.[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{20,}/);
    // The CLI prints a minted token on stdout (its job) and nothing secret anywhere else.
    for (const output of handled.cliOutput) expect(output.includes(secret!)).toBe(false);
  });
});

/** A request with exactly the Host (and Origin) given, as a rebinding browser would send it. */
function rawGet(path: string, headers: Record<string, string>): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port: relay.port, path, method: "GET", headers, setHost: false }, (res) => {
      let body = "";
      res.on("data", (chunk) => (body += chunk));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.once("error", reject);
    req.end();
  });
}

describe("the local server refuses non-local Host and Origin headers (DNS rebinding)", () => {
  it("on /health, /mcp and the socket endpoint, before looking at any token", async () => {
    const local = `127.0.0.1:${relay.port}`;
    expect((await rawGet("/health", { Host: local })).status).toBe(200);
    expect((await rawGet("/health", { Host: `localhost:${relay.port}`, Origin: `http://localhost:${relay.port}` })).status).toBe(200);

    for (const host of ["evil.example", `evil.example:${relay.port}`, `localhost.evil.example:${relay.port}`, `127.0.0.1.nip.io:${relay.port}`, `[::2]:${relay.port}`]) {
      const answer = await rawGet("/health", { Host: host });
      expect(answer.status, host).toBe(403);
      expect(JSON.parse(answer.body)).toMatchObject({ error: "host_not_allowed" });
    }
    for (const origin of ["http://evil.example", `http://evil.example:${relay.port}`, "null", "file://", `https://localhost.evil.example`]) {
      const answer = await rawGet("/health", { Host: local, Origin: origin });
      expect(answer.status, origin).toBe(403);
      expect(JSON.parse(answer.body)).toMatchObject({ error: "origin_not_allowed" });
    }

    // With a perfectly good token, a foreign Host or Origin is still refused on /mcp and the socket.
    const token = await relay.mint("rebind", "alice");
    handled.tokens.add(token);
    const mcp = await fetch(`${relay.url}/mcp`, {
      method: "POST",
      headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json", Accept: "application/json, text/event-stream", Origin: "http://evil.example" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" }),
    });
    expect(mcp.status).toBe(403);
    expect(await socket("rebind", token, { Origin: "http://evil.example" })).toEqual({ refused: 403 });
    expect(await socket("rebind", token, { Host: "evil.example" })).toEqual({ refused: 403 });
    const ok = opened(await socket("rebind", token, { Origin: `http://localhost:${relay.port}` }));
    ok.ws.close();
  });
});

/**
 * The two lanes of the MCP endpoint (worker/mcp/route.ts): a plain single tools/call is answered
 * by the fast lane, everything else by the SDK's handler, and both answer byte for byte alike.
 * Also: the relay answers MCP at /mcp/ and at the bare origin, where people point clients by
 * mistake, while a browser's GET / still gets the sign-in page.
 */
import { describe, expect, it } from "vitest";
import { BASE, call, connect, freshGroup, type Lane, LANES, mint, peer, sqlIn, workerFetch } from "./helpers.ts";

const HEADERS = { "Content-Type": "application/json", Accept: "application/json, text/event-stream" };

type Params = { name: string; arguments?: Record<string, unknown>; _meta?: Record<string, unknown> };

/**
 * A raw tools/call. "fast": as a client sends it. "sdk": the same call with a `_meta` key the SDK
 * passes through untouched but the fast lane leaves to the SDK, so the SDK answers the very same
 * single request. "batch": as a JSON-RPC batch of one.
 */
function rawCall(token: string, params: Params, form: "fast" | "sdk" | "batch", path = "/mcp"): Promise<Response> {
  const message = {
    jsonrpc: "2.0",
    id: 7,
    method: "tools/call",
    params: form === "sdk" ? { ...params, _meta: { ...params._meta, "io.modelcontextprotocol/test-lane": "sdk" } } : params,
  };
  return workerFetch(`${BASE}${path}`, {
    method: "POST",
    headers: { ...HEADERS, Authorization: `Bearer ${token}` },
    body: JSON.stringify(form === "batch" ? [message] : message),
  });
}

/** Status, headers (but the lane's own) and body text: what a client can see of a response. */
async function seen(response: Response) {
  const headers = [...response.headers].filter(([name]) => name !== "x-relay-lane");
  return { status: response.status, headers, body: await response.text() };
}

describe("which lane answers", () => {
  it("a plain single tools/call takes the fast lane; a batch, or an odd _meta, the SDK's", async () => {
    const token = await mint(freshGroup("lane"), "alice");
    const fast = await rawCall(token, { name: "list_peers" }, "fast");
    expect(fast.headers.get("X-Relay-Lane")).toBe("fast");
    expect(fast.headers.get("Content-Type")).toBe("text/event-stream");
    expect(await fast.text()).toMatch(/^event: message\ndata: \{"result":\{"content":\[\{"type":"text","text":"1 peer in lane-/);
    for (const form of ["sdk", "batch"] as const) {
      const response = await rawCall(token, { name: "list_peers" }, form);
      expect(response.headers.get("X-Relay-Lane"), form).toBe("sdk");
      expect(await response.text(), form).toContain('"you":"alice"');
    }
  });

  it("what the fast lane does not take goes to the SDK: a wrong Accept, a modern protocol header, initialize", async () => {
    const token = await mint(freshGroup("lane"), "alice");
    const body = JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "list_peers" } });
    const post = (headers: Record<string, string>, text = body) =>
      workerFetch(`${BASE}/mcp`, { method: "POST", headers: { ...HEADERS, Authorization: `Bearer ${token}`, ...headers }, body: text });
    expect((await post({ Accept: "application/json" })).status).toBe(406);
    expect((await post({ "Content-Type": "text/plain" })).status).toBe(415);
    expect((await post({ "MCP-Protocol-Version": "1999-01-01" })).status).toBe(400);
    const initialize = await post(
      {},
      JSON.stringify({ jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "t", version: "1" } } }),
    );
    expect(initialize.status).toBe(200);
    expect(initialize.headers.get("X-Relay-Lane")).toBeNull();
  });
});

describe("both lanes answer alike, byte for byte", () => {
  it("results, tool errors, validation errors, unknown tools and an observer's write tools", async () => {
    const group = freshGroup("same");
    const alice = await mint(group, "alice");
    const owl = await mint(group, "owl", { r: "observer" });
    const cases: [token: string, params: Params][] = [
      [alice, { name: "get_state", arguments: { key: "missing" } }],
      [alice, { name: "get_state" }],
      [alice, { name: "leave_group", arguments: {} }],
      [alice, { name: "set_state", arguments: { key: "big", value: "é".repeat(8_192) } }],
      [alice, { name: "send_message", arguments: { text: "" } }],
      [alice, { name: "send_message", arguments: { text: 3, tags: ["Bad Tag", 4] } }],
      [alice, { name: "send_dm", arguments: { to: "Not A Name" } }],
      [alice, { name: "get_history", arguments: { limit: 0, before: -1 } }],
      [alice, { name: "set_state", arguments: { key: "k" } }],
      [alice, { name: "send_dm", arguments: { to: "alice", text: "me" } }],
      [alice, { name: "send_email", arguments: { to: "bob" } }],
      [alice, { name: "list_peers", _meta: { progressToken: 3 } }],
      [owl, { name: "send_message", arguments: { text: "hi" } }],
      [owl, { name: "get_state", arguments: { key: "missing" } }],
    ];
    for (const [token, params] of cases) {
      const label = JSON.stringify(params).slice(0, 100);
      const fast = await rawCall(token, params, "fast");
      expect(fast.headers.get("X-Relay-Lane"), label).toBe("fast");
      const sdk = await rawCall(token, params, "sdk");
      expect(sdk.headers.get("X-Relay-Lane"), label).toBe("sdk");
      expect(await seen(fast), label).toEqual(await seen(sdk));
    }
  });
});

describe.each(LANES)("mail is marked read once the response is written (%s lane)", (lane: Lane) => {
  it("read_new_messages: leased while the response is unread, read once it is", async () => {
    const group = freshGroup("hand");
    const alice = await peer(group, "alice", lane);
    const bob = await peer(group, "bob", lane);
    await bob.call("list_peers");
    await alice.call("send_dm", { to: "bob", text: "one" });
    const response = await rawCall(bob.token, { name: "read_new_messages", arguments: {} }, lane === "fast" ? "fast" : "batch");
    expect(response.headers.get("X-Relay-Lane")).toBe(lane);
    const cursor = async () => (await sqlIn(group, "SELECT read_cursor FROM peers WHERE name = 'bob'"))[0]!.read_cursor as number;
    const before = await cursor();
    // Handed to this response, so not to another read; not confirmed until the response is taken.
    expect((await bob.call("read_new_messages")).data.messages).toEqual([]);
    expect(await cursor()).toBe(before);
    expect(await response.text()).toContain('"text":"one"');
    await expect.poll(cursor).toBeGreaterThan(before);
  });
});

describe("MCP where people point Claude Code by mistake", () => {
  for (const path of ["/", "/mcp/"]) {
    it(`a real MCP client at ${path} lists and calls the tools`, async () => {
      const group = freshGroup("path");
      const client = await connect(await mint(group, "alice"), { path });
      expect((await client.listTools()).tools.map((t) => t.name)).toContain("send_message");
      const sent = await call(client, "send_message", { text: `via ${path}` });
      expect(sent.isError).toBe(false);
      expect(sent.text).toContain(`Sent to group ${group}`);
      await client.close();
    });
  }

  it("a browser's GET / is still the sign-in page; a client's GET / is MCP's; a POST / without a token is told how to send one", async () => {
    const page = await workerFetch(`${BASE}/`, { headers: { Accept: "text/html,application/xhtml+xml,*/*;q=0.8" } });
    expect(page.status).toBe(200);
    expect(page.headers.get("Content-Type")).toMatch(/text\/html/);
    expect(await page.text()).toContain("claude-relay");
    // A client's GET of the event stream is MCP's (a stateless relay has none to offer).
    const token = await mint(freshGroup("path"), "alice");
    const stream = await workerFetch(`${BASE}/`, { headers: { Accept: "text/event-stream", Authorization: `Bearer ${token}` } });
    expect(stream.status).toBe(405);
    const anonymous = await workerFetch(`${BASE}/`, { method: "POST", headers: HEADERS, body: "{}" });
    expect(anonymous.status).toBe(401);
    expect(((await anonymous.json()) as { error: string }).error).toBe("missing_token");
  });
});

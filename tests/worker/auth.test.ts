/**
 * Tokens: the token alone says who is calling. Missing, garbage, forged, tampered, expired and
 * cross-group tokens are refused on /mcp (401 with a JSON reason) and on the socket endpoint;
 * revocation cuts off old tokens everywhere while new ones work.
 */
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it } from "vitest";
import { signAdminProof } from "../../contract/token.ts";
import app from "../../worker/index.ts";
import { TEST_SECRET } from "../test-secret.ts";
import { BASE, bridge, closeSockets, connect, freshGroup, mint, openSocket, peer, snapshot, upgradeRequest, workerFetch } from "./helpers.ts";

afterEach(closeSockets);

const OTHER_SECRET = "another-relays-secret-0123456789abcdef0123";

const INITIALIZE = {
  jsonrpc: "2.0",
  id: 1,
  method: "initialize",
  params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "raw", version: "1" } },
};

function postMcp(authorization: string | null, body: unknown = INITIALIZE): Promise<Response> {
  const headers: Record<string, string> = { "Content-Type": "application/json", Accept: "application/json, text/event-stream" };
  if (authorization !== null) headers.Authorization = authorization;
  return workerFetch(`${BASE}/mcp`, { method: "POST", headers, body: JSON.stringify(body) });
}

function b64url(text: string): string {
  return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** Signs arbitrary claims text with the suite's secret, bypassing signToken's own checks. */
async function signRaw(claimsJson: string, secret = TEST_SECRET): Promise<string> {
  const body = `rly1.${b64url(claimsJson)}`;
  const key = await crypto.subtle.importKey("raw", new TextEncoder().encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(body)));
  return `${body}.${b64url(String.fromCharCode(...mac))}`;
}

/** Every kind of bad credential, with what the refusal must say. */
async function badCredentials(group: string): Promise<{ what: string; header: string | null; error: string; says: RegExp }[]> {
  const good = await mint(group, "alice");
  const [prefix, claims, mac] = good.split(".") as [string, string, string];
  const asBob = b64url(JSON.stringify({ ...JSON.parse(atob(claims.replace(/-/g, "+").replace(/_/g, "/"))), p: "bob" }));
  const flipped = mac.slice(0, -2) + (mac.at(-2) === "A" ? "B" : "A") + mac.at(-1);
  return [
    { what: "no Authorization header", header: null, error: "missing_token", says: /Authorization: Bearer <token>.*npm run -s token/ },
    { what: "an empty bearer", header: "Bearer ", error: "missing_token", says: /Authorization: Bearer/ },
    { what: "another scheme", header: `Basic ${btoa("alice:pw")}`, error: "missing_token", says: /Authorization: Bearer/ },
    { what: "garbage", header: "Bearer not-a-token", error: "invalid_token", says: /not a relay token/ },
    { what: "garbage with the right shape", header: "Bearer rly1.!!!.???", error: "invalid_token", says: /signature is malformed/ },
    { what: "a short signature", header: `Bearer ${prefix}.${claims}.AAAA`, error: "invalid_token", says: /signature is malformed/ },
    {
      what: "a token forged with another secret",
      header: `Bearer ${await mint(group, "alice", {}, OTHER_SECRET)}`,
      error: "invalid_token",
      says: /does not match this relay's secret/,
    },
    { what: "claims edited to another peer", header: `Bearer ${prefix}.${asBob}.${mac}`, error: "invalid_token", says: /does not match/ },
    { what: "a flipped signature", header: `Bearer ${prefix}.${claims}.${flipped}`, error: "invalid_token", says: /does not match/ },
    {
      what: "an expired token",
      header: `Bearer ${await mint(group, "alice", { exp: Date.now() - 1_000 })}`,
      error: "invalid_token",
      says: /expired at \d{4}-\d\d-\d\dT/,
    },
    {
      what: "signed claims with an invalid peer name",
      header: `Bearer ${await signRaw(JSON.stringify({ g: group, p: "Alice!", iat: Date.now() }))}`,
      error: "invalid_token",
      says: /claims are malformed/,
    },
    {
      what: "signed claims that are not JSON",
      header: `Bearer ${await signRaw("{nope")}`,
      error: "invalid_token",
      says: /claims are malformed/,
    },
  ];
}

describe("/mcp refuses bad tokens with 401 and a JSON reason", () => {
  it("missing, garbage, forged, tampered, expired", async () => {
    const group = freshGroup("auth");
    for (const bad of await badCredentials(group)) {
      const response = await postMcp(bad.header);
      expect(response.status, bad.what).toBe(401);
      expect(response.headers.get("Content-Type"), bad.what).toMatch(/application\/json/);
      const body = (await response.json()) as { error: string; message: string };
      expect(body.error, bad.what).toBe(bad.error);
      expect(body.message, bad.what).toMatch(bad.says);
      // Never echo the token back.
      if (bad.header) expect(JSON.stringify(body), bad.what).not.toContain(bad.header.slice(7, 40) || "\u0000");
    }
    // Nothing reached the group: no peer was created by any of those attempts.
    expect((await snapshot(group)).peers).toEqual([]);
  });

  it("refuses bad tokens on every method and on tool calls too", async () => {
    const group = freshGroup("auth");
    const forged = `Bearer ${await mint(group, "alice", {}, OTHER_SECRET)}`;
    const toolCall = { jsonrpc: "2.0", id: 2, method: "tools/call", params: { name: "send_message", arguments: { text: "x" } } };
    for (const response of [
      await postMcp(forged, toolCall),
      await postMcp(null, toolCall),
      await postMcp(forged, { jsonrpc: "2.0", id: 3, method: "tools/list" }),
      await workerFetch(`${BASE}/mcp`, { method: "GET", headers: { Authorization: forged, Accept: "text/event-stream" } }),
      await workerFetch(`${BASE}/mcp`, { method: "DELETE" }),
    ]) {
      expect(response.status).toBe(401);
      expect(((await response.json()) as { message: string }).message).toBeTruthy();
    }
    expect((await snapshot(group)).messages).toEqual([]);
  });

  it("the MCP client cannot connect with a bad token", async () => {
    const group = freshGroup("auth");
    await expect(connect(await mint(group, "alice", {}, OTHER_SECRET))).rejects.toThrow(/401|does not match/);
    await expect(connect("garbage")).rejects.toThrow(/401|not a relay token/);
    await expect(connect(await mint(group, "alice", { exp: Date.now() - 1 }))).rejects.toThrow(/401|expired/);
  });

  it("accepts a good token, including one with a future expiry and a lower-case scheme", async () => {
    const group = freshGroup("auth");
    const response = await postMcp(`bearer ${await mint(group, "alice", { exp: Date.now() + 60_000 })}`);
    expect(response.status).toBe(200);
    const alice = await connect(await mint(group, "alice", { exp: Date.now() + 60_000 }));
    expect((await alice.listTools()).tools.length).toBe(15);
  });
});

describe("the token alone says who is calling", () => {
  it("a token for one group never reaches another group's data", async () => {
    const groupA = freshGroup("auth-a");
    const groupB = freshGroup("auth-b");
    const aliceA = await peer(groupA, "alice");
    const bobA = await peer(groupA, "bob");
    const aliceB = await peer(groupB, "alice");
    await bobA.call("list_peers");
    await aliceA.call("send_message", { text: "only in A" });
    await aliceA.call("send_dm", { to: "bob", text: "dm in A" });
    await aliceA.call("set_state", { key: "where", value: "A" });

    expect((await aliceB.call("get_history")).data.messages).toEqual([]);
    expect((await aliceB.call("get_history", { query: "only" })).data.messages).toEqual([]);
    expect((await aliceB.call("read_new_messages")).data.messages).toEqual([]);
    expect((await aliceB.call("list_peers")).data.peers.map((p: { name: string }) => p.name)).toEqual(["alice"]);
    expect((await aliceB.call("get_state")).data.keys).toEqual([]);
    // bob exists only in A: from B he is unknown.
    const dm = await aliceB.call("send_dm", { to: "bob", text: "hello?" });
    expect(dm.isError).toBe(true);
    expect(dm.data.error).toBe("unknown_peer");
    // Arguments cannot name a group or a sender: unknown fields are ignored, the token decides.
    const sneaky = await aliceB.call("send_message", { text: "from B", group: groupA, from: "bob", sender: "bob" } as Record<string, unknown>);
    expect(sneaky.isError).toBe(false);
    expect((await bobA.call("read_new_messages")).data.messages.map((m: { text: string }) => m.text)).toEqual(["only in A", "dm in A"]);
    expect((await aliceB.call("get_history")).data.messages).toMatchObject([{ from: "alice", text: "from B" }]);
  });

  it("leave_group and read_new_messages act on the caller, whatever the arguments say", async () => {
    const group = freshGroup("auth");
    const alice = await peer(group, "alice");
    const bob = await peer(group, "bob");
    await alice.call("send_message", { text: "for bob" });
    await alice.call("leave_group", { peer: "bob" } as Record<string, unknown>);
    expect((await bob.call("list_peers")).data.peers.map((p: { name: string }) => p.name)).toEqual(["bob"]);
    await alice.call("read_new_messages", { peer: "bob" } as Record<string, unknown>);
    expect((await bob.call("read_new_messages")).data.messages.map((m: { text: string }) => m.text)).toEqual(["for bob"]);
  });
});

describe("the socket endpoint refuses bad tokens", () => {
  it("401 for missing, garbage, forged, tampered and expired tokens", async () => {
    const group = freshGroup("auth");
    for (const bad of await badCredentials(group)) {
      const headers: Record<string, string> = { Upgrade: "websocket", Host: "localhost" };
      if (bad.header !== null) headers.Authorization = bad.header;
      const response = await workerFetch(new Request(`${BASE}/groups/${group}/ws`, { headers }));
      expect(response.status, bad.what).toBe(401);
      expect(response.webSocket, bad.what).toBeNull();
      const body = (await response.json()) as { error: string; message: string };
      expect(body.error, bad.what).toBe(bad.error);
      expect(body.message, bad.what).toMatch(bad.says);
    }
    expect((await snapshot(group)).peers).toEqual([]);
  });

  it("403 when the token's group is not the path's group; 400 for a bad group name; 426 without Upgrade", async () => {
    const groupA = freshGroup("auth-a");
    const groupB = freshGroup("auth-b");
    const tokenA = await mint(groupA, "alice");
    const mismatch = await workerFetch(upgradeRequest(groupB, tokenA));
    expect(mismatch.status).toBe(403);
    const body = (await mismatch.json()) as { error: string; message: string };
    expect(body.error).toBe("wrong_group");
    expect(body.message).toContain(`for group '${groupA}', not '${groupB}'`);
    expect((await snapshot(groupB)).peers).toEqual([]);

    const badName = await workerFetch(upgradeRequest("Not_A_Group!", tokenA));
    expect(badName.status).toBe(400);
    expect(((await badName.json()) as { message: string }).message).toMatch(/lower-case letters/);

    const plain = await workerFetch(`${BASE}/groups/${groupA}/ws`, { headers: { Authorization: `Bearer ${tokenA}` } });
    expect(plain.status).toBe(426);

    // The right group works.
    const socket = await openSocket(groupA, tokenA);
    expect(socket.welcome).toMatchObject({ type: "welcome", group: groupA, peer: "alice" });
  });
});

describe("revocation", () => {
  async function revoke(group: string, target: string, proof: string): Promise<Response> {
    return workerFetch(`${BASE}/groups/${group}/revoke`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ peer: target, proof }),
    });
  }
  const proofFor = (group: string, target: string, at = Date.now(), secret = TEST_SECRET) => signAdminProof(secret, "revoke", `${group}/${target}`, at);

  it("old tokens are refused on MCP and on the socket; a new token works", async () => {
    const group = freshGroup("revoke");
    // Issued a moment ago, so strictly before the revocation's cut-off.
    const oldToken = await mint(group, "alice", { iat: Date.now() - 1_000 });
    const oldClient = await connect(oldToken);
    const bob = await peer(group, "bob");
    await oldClient.callTool({ name: "send_message", arguments: { text: "before revocation" } });
    const oldSocket = await bridge(group, oldToken);

    const response = await revoke(group, "alice", await proofFor(group, "alice"));
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ revoked: true, group, peer: "alice", sockets_closed: 1 });

    // The open socket is told and closed with the final code.
    const closed = await oldSocket.closed;
    expect(closed.code).toBe(4401);
    expect(oldSocket.frames.at(-1)).toMatchObject({ type: "error", code: "revoked" });

    // MCP: a new session is refused with 401; an open session's tool calls fail with a tool error.
    const refused = await postMcp(`Bearer ${oldToken}`);
    expect(refused.status).toBe(401);
    expect(await refused.json()).toMatchObject({ error: "token_revoked", message: expect.stringMatching(/revoked.*new token/) });
    await expect(connect(oldToken)).rejects.toThrow();
    const before = await snapshot(group);
    for (const [tool, args] of [
      ["send_message", { text: "after" }],
      ["send_dm", { to: "bob", text: "after" }],
      ["read_new_messages", {}],
      ["get_history", {}],
      ["list_peers", {}],
      ["register", { summary: "x" }],
      ["set_state", { key: "k", value: 1 }],
      ["get_state", {}],
      ["leave_group", {}],
      ["wait_for_messages", { timeout_seconds: 0 }],
      ["ask_peer", { to: "bob", question: "q", timeout_seconds: 0 }],
    ] as const) {
      const result = (await oldClient.callTool({ name: tool, arguments: args })) as { isError?: boolean; content: { text: string }[] };
      expect(result.isError, tool).toBe(true);
      expect(result.content[0]!.text, tool).toMatch(/was revoked/);
    }
    expect(await snapshot(group)).toEqual(before);

    // The socket endpoint refuses the old token outright.
    const reopen = await workerFetch(upgradeRequest(group, oldToken));
    expect(reopen.status).toBe(401);
    expect(((await reopen.json()) as { error: string }).error).toBe("token_revoked");

    // A token minted after the revocation works everywhere, and the peer's history is intact.
    const fresh = await peer(group, "alice");
    expect((await fresh.call("get_history")).data.messages.map((m: { text: string }) => m.text)).toEqual(["before revocation"]);
    expect((await fresh.call("send_message", { text: "new token" })).isError).toBe(false);
    expect((await bob.call("read_new_messages")).data.messages.map((m: { text: string }) => m.text)).toEqual(["before revocation", "new token"]);
    const freshSocket = await bridge(group, fresh.token);
    expect(freshSocket.welcome.peer).toBe("alice");
    // Other peers are untouched.
    expect((await bob.call("send_message", { text: "still here" })).isError).toBe(false);
  });

  it("a bad proof is refused and revokes nothing", async () => {
    const group = freshGroup("revoke");
    const alice = await peer(group, "alice");
    const cases: { what: string; body: unknown; status: number; error: string }[] = [
      { what: "wrong secret", body: { peer: "alice", proof: await proofFor(group, "alice", Date.now(), OTHER_SECRET) }, status: 401, error: "invalid_proof" },
      { what: "proof for another peer", body: { peer: "alice", proof: await proofFor(group, "bob") }, status: 401, error: "invalid_proof" },
      { what: "proof for another group", body: { peer: "alice", proof: await proofFor("other-group", "alice") }, status: 401, error: "invalid_proof" },
      { what: "stale proof", body: { peer: "alice", proof: await proofFor(group, "alice", Date.now() - 10 * 60_000) }, status: 401, error: "invalid_proof" },
      { what: "garbage proof", body: { peer: "alice", proof: "123.abc" }, status: 401, error: "invalid_proof" },
      { what: "no proof", body: { peer: "alice" }, status: 400, error: "invalid_body" },
      { what: "bad peer name", body: { peer: "Alice", proof: await proofFor(group, "Alice") }, status: 400, error: "invalid_body" },
    ];
    for (const c of cases) {
      const response = await workerFetch(`${BASE}/groups/${group}/revoke`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(c.body),
      });
      expect(response.status, c.what).toBe(c.status);
      const body = (await response.json()) as { error: string; message: string };
      expect(body.error, c.what).toBe(c.error);
      expect(body.message, c.what).toBeTruthy();
    }
    const notJson = await workerFetch(`${BASE}/groups/${group}/revoke`, { method: "POST", body: "peer=alice" });
    expect(notJson.status).toBe(400);
    expect((await snapshot(group)).revocations).toEqual([]);
    expect((await alice.call("send_message", { text: "still works" })).isError).toBe(false);
  });
});

describe("a relay without a usable secret never runs open", () => {
  it("refuses every route but /health with 503 and says how to set the secret", async () => {
    for (const secret of [undefined, "", "too-short"]) {
      const broken = { ...env, RELAY_SECRET: secret };
      const token = await mint("g", "alice");
      for (const request of [
        new Request(`${BASE}/mcp`, { method: "POST", headers: { Host: "localhost", Authorization: `Bearer ${token}` }, body: JSON.stringify(INITIALIZE) }),
        upgradeRequest("g", token),
        new Request(`${BASE}/groups/g/revoke`, { method: "POST", headers: { Host: "localhost" }, body: "{}" }),
      ]) {
        const response = await app.fetch(request, broken);
        expect(response.status).toBe(503);
        const body = (await response.json()) as { error: string; message: string };
        expect(body.error).toBe("relay_not_configured");
        expect(body.message).toMatch(/wrangler secret put RELAY_SECRET/);
      }
      const health = await app.fetch(new Request(`${BASE}/health`, { headers: { Host: "localhost" } }), broken);
      expect(health.status).toBe(200);
      expect(await health.json()).toMatchObject({ ok: false });
    }
  });
});

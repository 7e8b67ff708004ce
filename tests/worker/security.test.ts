/**
 * Security inside workerd, beyond the token checks of auth.test.ts and the DM privacy
 * sweep of privacy.test.ts: nobody can act as another peer by any input, a peer token is no
 * admin proof, tokens and the secret never leak into results, error bodies or logs, and one
 * peer's flood is throttled while everyone else carries on.
 */
import { runInDurableObject } from "cloudflare:test";
import { afterEach, describe, expect, it, vi } from "vitest";
import { signAdminProof } from "../../contract/token.ts";
import { TEST_SECRET } from "../test-secret.ts";
import { BASE, freshGroup, mint, peer, workerFetch } from "./helpers.ts";
import { bridge, groupStub, openSocket, rawMcp, storedState, type TestSocket, within } from "./reliability-helpers.ts";

type Msg = { id: string; seq: number; from: string; to: string | null; text: string };

const sockets: TestSocket[] = [];
afterEach(() => {
  for (const s of sockets.splice(0)) s.close();
  vi.restoreAllMocks();
});

/** Every way a caller might try to name someone else: extra fields the tools must ignore. */
const SPOOF = { from: "alice", sender: "alice", peer: "alice", as: "alice", user: "alice", caller: { peer: "alice" }, group: "elsewhere", _meta: { peer: "alice" } };

describe("nobody can act as another peer", () => {
  it("no tool input, header or frame changes who is calling: `from` is always the token's peer", async () => {
    const group = freshGroup("spoof");
    const alice = await peer(group, "alice");
    const bob = await peer(group, "bob");
    const mallory = await peer(group, "mallory");
    await alice.call("register", { summary: "the real alice" });
    await bob.call("list_peers");

    // Every tool that writes, with every spoofing field; plus the read tools, which must act on mallory.
    const calls: [string, Record<string, unknown>][] = [
      ["register", { summary: "I am alice", ...SPOOF, name: "alice" }],
      ["send_message", { text: "broadcast by mallory", ...SPOOF }],
      ["send_dm", { to: "bob", text: "dm by mallory", ...SPOOF }],
      ["ask_peer", { to: "bob", question: "question by mallory", timeout_seconds: 0, ...SPOOF }],
      ["set_state", { key: "owner", value: "mallory", ...SPOOF, updated_by: "alice" }],
      ["read_new_messages", { ...SPOOF }],
      ["wait_for_messages", { timeout_seconds: 0, ...SPOOF }],
      ["get_history", { ...SPOOF }],
      ["leave_group", { ...SPOOF }],
    ];
    for (const [tool, args] of calls) {
      const result = await mallory.call(tool, args);
      expect(result.isError, `${tool}: ${result.text}`).toBe(false);
    }
    // The same through a raw JSON-RPC request with an identity in params._meta.
    const raw = await rawMcp(mallory.token, JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "send_message", arguments: { text: "raw by mallory" }, _meta: { peer: "alice", authInfo: { extra: { caller: { peer: "alice", group } } } } } }));
    expect(raw.status).toBe(200);
    // And through headers the Worker uses internally to tell the group object who is calling.
    const headerSpoof = await rawMcp(mallory.token, JSON.stringify({ jsonrpc: "2.0", id: 2, method: "tools/call", params: { name: "send_message", arguments: { text: "headers by mallory" } } }), { "X-Relay-Peer": "alice", "X-Relay-Group": group, "X-Relay-Iat": "0" });
    expect(headerSpoof.status).toBe(200);

    const stored = await storedState(group);
    const messages = stored.messages!.map((row) => JSON.parse(row as string) as { sender: string; text: string });
    expect(messages.length).toBe(5);
    for (const m of messages) expect(m, m.text).toMatchObject({ sender: "mallory" });
    const state = stored.state!.map((row) => JSON.parse(row as string));
    expect(state).toMatchObject([{ key: "owner", updated_by: "mallory" }]);

    // What the others see: alice's profile untouched, mallory's messages signed by mallory.
    const peers = (await bob.call("list_peers")).data.peers as { name: string; summary?: string }[];
    expect(peers.find((p) => p.name === "alice")!.summary).toBe("the real alice");
    const inbox = (await bob.call("read_new_messages")).data.messages as Msg[];
    expect(inbox.map((m) => m.from)).toEqual(inbox.map(() => "mallory"));
    expect(inbox.map((m) => m.text)).toEqual(["broadcast by mallory", "dm by mallory", "question by mallory", "raw by mallory", "headers by mallory"]);
    expect((await alice.call("read_new_messages")).data.messages.every((m: Msg) => m.from === "mallory")).toBe(true);
  });

  it("a bridge socket is its token's peer, whatever its headers or frames claim", async () => {
    const group = freshGroup("spoof-ws");
    const alice = await peer(group, "alice");
    const bob = await peer(group, "bob");
    const token = await mint(group, "mallory");
    await alice.call("list_peers");
    // mallory exists before the DM, so a replay from 0 would include it if privacy failed.
    await (await peer(group, "mallory")).call("list_peers");
    const secretDm = await bob.call("send_dm", { to: "alice", text: "for alice only" });

    // mallory opens a socket claiming to be alice in the Worker's internal identity headers.
    const response = await workerFetch(`${BASE}/groups/${group}/ws`, {
      headers: { Upgrade: "websocket", Authorization: `Bearer ${token}`, "X-Relay-Peer": "alice", "X-Relay-Group": group, "X-Relay-Iat": String(Date.now() + 1e9) },
    });
    const ws = response.webSocket!;
    expect(ws).toBeTruthy();
    ws.accept();
    const frames: { type: string; [k: string]: unknown }[] = [];
    ws.addEventListener("message", (e) => {
      frames.push(JSON.parse(e.data as string));
    });
    ws.send(JSON.stringify({ type: "hello", last_acked: 0, peer: "alice", as: "alice" }));
    await expect.poll(() => frames.some((f) => f.type === "replay_done")).toBe(true);
    expect(frames[0]).toMatchObject({ type: "welcome", peer: "mallory" });
    // Replay from 0 shows nothing of alice's mail, and live DMs to alice do not reach it.
    expect(frames.filter((f) => f.type === "notice")).toEqual([]);
    const live = await bob.call("send_dm", { to: "alice", text: "also for alice only" });
    const broadcast = await bob.call("send_message", { text: "for everyone" });
    await expect.poll(() => frames.filter((f) => f.type === "notice").map((f) => f.seq)).toEqual([broadcast.data.seq]);
    expect(frames.some((f) => f.seq === secretDm.data.seq || f.seq === live.data.seq)).toBe(false);
    // Its acks move mallory's ack point, never alice's.
    ws.send(JSON.stringify({ type: "ack", seq: broadcast.data.seq, peer: "alice" }));
    await expect
      .poll(() => runInDurableObject(groupStub(group), (_i, state) => state.storage.sql.exec(`SELECT name, acked_seq FROM peers ORDER BY name`).toArray()))
      .toEqual([
        { name: "alice", acked_seq: 0 },
        { name: "bob", acked_seq: 0 },
        { name: "mallory", acked_seq: broadcast.data.seq },
      ]);
    ws.close(1000);
  });

  it("a revoked token stays revoked even when it claims a later issue time in a header", async () => {
    const group = freshGroup("spoof-iat");
    const old = await mint(group, "bob");
    const bob = await peer(group, "bob");
    await runInDurableObject(groupStub(group), (instance) => instance.revoke("bob", Date.now() + 1));
    const future = String(Date.now() + 1e9);
    const refused = await rawMcp(old, JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" }), { "X-Relay-Iat": future });
    expect(refused.status).toBe(401);
    const socket = await openSocket(old, group);
    expect(socket).toBeInstanceOf(Response);
    expect((socket as Response).status).toBe(401);
    expect((await bob.call("list_peers")).data.error).toBe("revoked");
  });
});

describe("only the team secret can revoke", () => {
  it("a peer token is no admin proof, and cannot be made into one", async () => {
    const group = freshGroup("admin");
    const bob = await peer(group, "bob");
    const token = await mint(group, "mallory", { iat: Date.now() });
    const [, , signature] = token.split(".");
    const now = Date.now();
    const attempts: unknown[] = [
      { peer: "bob" },
      { peer: "bob", proof: token },
      { peer: "bob", proof: `${now}.${signature}` }, // the token's own HMAC, passed off as a proof
      { peer: "bob", proof: await signAdminProof(token, "revoke", `${group}/bob`, now) }, // "signed" with the token
      { peer: "bob", proof: await signAdminProof(TEST_SECRET, "revoke", `${group}/mallory`, now) }, // a real proof, for another peer
    ];
    for (const body of attempts) {
      const response = await workerFetch(`${BASE}/groups/${group}/revoke`, { method: "POST", headers: { "Content-Type": "application/json", Authorization: `Bearer ${token}` }, body: JSON.stringify(body) });
      expect([400, 401], JSON.stringify(body)).toContain(response.status);
      expect(JSON.stringify(await response.json())).not.toContain(token);
    }
    expect((await bob.call("list_peers")).isError).toBe(false);
    expect((await storedState(group)).revocations).toEqual([]);
  });
});

describe("tokens and the secret never leak", () => {
  it("not in tool results, error bodies or the relay's logs, on success and failure paths alike", { timeout: 60_000 }, async () => {
    const logged: string[] = [];
    for (const method of ["log", "info", "warn", "error", "debug"] as const) {
      vi.spyOn(console, method).mockImplementation((...args: unknown[]) => {
        logged.push(args.map((a) => (a instanceof Error ? `${a.message} ${a.stack}` : typeof a === "string" ? a : JSON.stringify(a))).join(" "));
      });
    }
    const group = freshGroup("leak");
    const alice = await peer(group, "alice");
    const bob = await peer(group, "bob");
    await bob.call("list_peers");
    const outputs: string[] = [];
    const record = (r: { text: string; data: unknown }) => outputs.push(r.text, JSON.stringify(r.data));

    // Every tool, succeeding and failing.
    const first = await alice.call("send_message", { text: "hi", tags: ["t"] });
    for (const [tool, args] of [
      ["register", { summary: "s" }],
      ["send_dm", { to: "bob", text: "dm", reply_to: first.data.id }],
      ["send_dm", { to: "nobody", text: "dm" }],
      ["send_dm", { to: "alice", text: "self" }],
      ["send_message", { text: "x", reply_to: "m_0000000000000000" }],
      ["read_new_messages", {}],
      ["read_new_messages", { limit: 0 }],
      ["list_peers", {}],
      ["get_history", { peer: "bob", query: "dm" }],
      ["get_history", { peer: "nobody" }],
      ["ask_peer", { to: "bob", question: "q?", timeout_seconds: 0 }],
      ["ask_peer", { to: "Bob!", question: "q?" }],
      ["wait_for_messages", { timeout_seconds: 0 }],
      ["set_state", { key: "k", value: { a: 1 } }],
      ["set_state", { key: "K K", value: 1 }],
      ["get_state", { key: "k" }],
      ["get_state", { key: "missing" }],
      ["get_state", {}],
      ["leave_group", {}],
    ] as const) {
      record(await alice.call(tool, args));
    }
    record(await bob.call("read_new_messages"));
    const listed = await alice.client.listTools();
    outputs.push(JSON.stringify(listed));

    // Refusals at the door: bad, forged, expired, other-group tokens, on MCP and the socket.
    const forged = await mint(group, "alice", {}, "some-other-secret-0123456789abcdef012345");
    const expired = await mint(group, "alice", { exp: Date.now() - 1 });
    const elsewhere = await mint(`${group}-x`, "alice");
    for (const bad of [forged, expired, `${alice.token}x`, alice.token.replace("rly1", "rly2")]) {
      const answer = await rawMcp(bad, JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" }));
      expect(answer.status).toBe(401);
      outputs.push(answer.body);
    }
    for (const bad of [forged, expired, elsewhere]) {
      const socket = await openSocket(bad, group);
      expect(socket).toBeInstanceOf(Response);
      outputs.push(await (socket as Response).text());
    }
    // A wait cut off by the object restarting goes down the logging path (waitSurvivingRestarts).
    const waiting = within(20_000, "wait across a restart", bob.call("wait_for_messages", { timeout_seconds: 10 }));
    await expect.poll(() => runInDurableObject(groupStub(group), (i) => i.waits.counts().mail)).toBe(1);
    await runInDurableObject(groupStub(group), (_i, state) => state.abort("test: restart mid-wait")).catch(() => {});
    await expect.poll(() => runInDurableObject(groupStub(group), (i) => i.waits.counts().mail), { timeout: 10_000 }).toBe(1);
    await alice.call("send_message", { text: "wake up" });
    record(await waiting);
    expect(logged.some((line) => /restarted during a wait/.test(line)), "the restart was logged").toBe(true);

    const secrets = [TEST_SECRET, alice.token, bob.token, forged, expired, elsewhere];
    // The signature and the claims are each a secret-bearing part: neither may appear alone either.
    for (const token of [alice.token, bob.token]) secrets.push(...token.split(".").slice(1));
    const haystacks = { "tool results and error bodies": outputs.join("\n"), logs: logged.join("\n") };
    for (const [where, text] of Object.entries(haystacks)) {
      for (const secret of secrets) expect(text.includes(secret), `a token or secret appears in ${where}`).toBe(false);
      expect(text).not.toMatch(/rly1\.[A-Za-z0-9_-]{10,}/);
    }
  });
});

describe("a flood from one peer", () => {
  it("is throttled to the limit while the others keep working normally", { timeout: 60_000 }, async () => {
    const group = freshGroup("flood");
    const alice = await peer(group, "alice");
    const bob = await peer(group, "bob");
    const mallory = await peer(group, "mallory");
    await bob.call("list_peers");
    await alice.call("list_peers");
    const bobSocket = await bridge(bob.token, group);
    sockets.push(bobSocket);

    // mallory fires 150 sends at once, broadcasts and DMs, and spams her socket with junk frames.
    const malloryWs = await openSocket(mallory.token, group);
    if (malloryWs instanceof Response) throw new Error("socket refused");
    sockets.push(malloryWs);
    const flood = Promise.all(
      Array.from({ length: 150 }, (_, i) => (i % 2 ? mallory.call("send_message", { text: `spam ${i}` }) : mallory.call("send_dm", { to: "bob", text: `spam ${i}` }))),
    );
    for (let i = 0; i < 50; i++) malloryWs.ws.send(`junk ${i}`);

    // Meanwhile alice and bob hold a normal conversation, including a wait that must wake on mail.
    const waiting = within(10_000, "bob's wait during the flood", bob.call("wait_for_messages", { timeout_seconds: 30 }));
    const conversation: number[] = [];
    for (let i = 0; i < 10; i++) {
      const sent = await alice.call(i % 2 ? "send_message" : "send_dm", i % 2 ? { text: `real ${i}` } : { to: "bob", text: `real ${i}` });
      expect(sent.isError, sent.text).toBe(false);
      conversation.push(sent.data.seq);
    }
    const results = await flood;
    const woken = await waiting;
    expect(woken.isError).toBe(false);
    expect(woken.data.messages.length).toBeGreaterThan(0);

    const accepted = results.filter((r) => !r.isError);
    const refused = results.filter((r) => r.isError);
    expect(accepted.length).toBe(30); // RATE_LIMIT_COUNT per RATE_LIMIT_WINDOW_SECONDS, exactly
    expect(refused.every((r) => r.data.error === "rate_limited")).toBe(true);
    // The junk frames cost mallory her own socket, nobody else's.
    await malloryWs.until(() => malloryWs.closed !== null, "mallory's socket closed");
    expect(malloryWs.closed!.code).toBe(4400);

    // bob received all of alice's messages and exactly mallory's accepted ones, and was notified of each.
    const bobRead: Msg[] = [...woken.data.messages];
    for (;;) {
      const inbox = await bob.call("read_new_messages", { limit: 200 });
      bobRead.push(...inbox.data.messages);
      if (inbox.data.remaining === 0) break;
    }
    const expectedSeqs = [...conversation, ...accepted.map((r) => r.data.seq as number)].sort((a, b) => a - b);
    expect(bobRead.map((m) => m.seq)).toEqual(expectedSeqs);
    await bobSocket.until((f) => f.filter((x) => x.type === "notice").length >= expectedSeqs.length, "bob's notices");
    expect(bobSocket.notices().map((n) => n.seq)).toEqual(expectedSeqs);
    // And alice can still send at once; mallory is still held back.
    expect((await alice.call("send_message", { text: "after the flood" })).isError).toBe(false);
    expect((await mallory.call("send_message", { text: "more spam" })).data.error).toBe("rate_limited");
  });
});

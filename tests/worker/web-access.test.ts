/**
 * The room's HTTP side inside workerd, through the real Worker: the session cookie and what ends
 * it, same-origin writes and sockets, the feed's visibility, observers, and pause.
 */
import { afterEach, describe, expect, it } from "vitest";
import { ASSETS } from "../../worker/web/assets.gen.ts";
import { signToken } from "../../contract/token.ts";
import { BASE, call, closeSockets, connect, freshGroup, mint, openSocket, peer, sqlIn, stubFor, workerFetch } from "./helpers.ts";
import { TEST_SECRET } from "../test-secret.ts";

const ORIGIN = BASE;

afterEach(closeSockets);

async function signIn(token: string): Promise<{ status: number; cookie: string; setCookie: string }> {
  const response = await workerFetch(`${BASE}/session`, { method: "POST", headers: { Origin: ORIGIN, "Content-Type": "application/json" }, body: JSON.stringify({ token }) });
  const setCookie = response.headers.get("Set-Cookie") ?? "";
  return { status: response.status, cookie: setCookie.split(";")[0]!, setCookie };
}

function api(group: string, path: string, cookie: string, init: { body?: unknown; origin?: string | null } = {}): Promise<Response> {
  const headers: Record<string, string> = { Cookie: cookie };
  if (init.origin !== null) headers.Origin = init.origin ?? ORIGIN;
  if (init.body !== undefined) headers["Content-Type"] = "application/json";
  return workerFetch(`${BASE}/g/${group}/api/${path}`, init.body === undefined ? { headers } : { method: "POST", headers, body: JSON.stringify(init.body) });
}

describe("sign-in and the session cookie", () => {
  it("exchanges a token for an HttpOnly, SameSite=Strict cookie scoped to the group; only from this origin", async () => {
    const group = freshGroup("web");
    const token = await mint(group, "dana");
    const foreign = await workerFetch(`${BASE}/session`, { method: "POST", headers: { Origin: "http://127.0.0.1:9", "Content-Type": "application/json" }, body: JSON.stringify({ token }) });
    expect(foreign.status).toBe(403);
    const none = await workerFetch(`${BASE}/session`, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ token }) });
    expect(none.status).toBe(403);
    const { status, setCookie, cookie } = await signIn(token);
    expect(status).toBe(200);
    expect(setCookie).toMatch(new RegExp(`^relay_session=[^;]+; Path=/g/${group}; Max-Age=\\d+; HttpOnly; SameSite=Strict$`));
    expect(cookie).not.toContain(token.split(".")[2]);
    const room = await api(group, "room", cookie, { origin: null });
    expect(room.status).toBe(200);
    expect(await room.json()).toMatchObject({ group, me: "dana", role: null, pause: null });
  });

  it("refuses a tampered cookie, another group's cookie, and a bad token", async () => {
    const group = freshGroup("web");
    const { cookie } = await signIn(await mint(group, "dana"));
    const [name, value] = cookie.split("=") as [string, string];
    const flipped = `${name}=${value.slice(0, 5)}${value[5] === "A" ? "B" : "A"}${value.slice(6)}`;
    expect((await api(group, "room", flipped)).status).toBe(401);
    expect((await api("elsewhere", "room", cookie)).status).toBe(403);
    const forged = await signIn(await signToken("f0".repeat(32), { g: group, p: "dana", iat: Date.now() }));
    expect(forged.status).toBe(401);
    // A role that does not exist makes the claims invalid: not silently a plain peer.
    const odd = await signIn(await signToken(TEST_SECRET, { g: group, p: "dana", iat: Date.now(), r: "admin" as never }));
    expect(odd.status).toBe(401);
  });

  it("ends the session at once when the token is revoked or expires", async () => {
    const group = freshGroup("web");
    const { cookie } = await signIn(await mint(group, "dana"));
    const short = await signIn(await mint(group, "erin", { exp: Date.now() + 1_500 }));
    expect((await api(group, "room", short.cookie)).status).toBe(200);
    await stubFor(group).revoke("dana", Date.now() + 1);
    const revoked = await api(group, "room", cookie);
    expect(revoked.status).toBe(401);
    expect(((await revoked.json()) as { message: string }).message).toContain("revoked");
    await new Promise((r) => setTimeout(r, 1_600));
    const expired = await api(group, "room", short.cookie);
    expect(expired.status).toBe(401);
    expect(((await expired.json()) as { message: string }).message).toContain("expired");
  });

  it("signing out ends that session on the server: a copied cookie is refused and its page socket closes; other sessions and the token carry on", async () => {
    const group = freshGroup("web");
    const token = await mint(group, "dana");
    const { cookie } = await signIn(token);
    const other = await signIn(token);
    const copied = cookie;
    const upgraded = await workerFetch(`${BASE}/g/${group}/ws`, { headers: { Upgrade: "websocket", Cookie: copied, Origin: ORIGIN } });
    expect(upgraded.status).toBe(101);
    const ws = upgraded.webSocket!;
    const frames: { type: string; message?: string }[] = [];
    let closedWith: number | null = null;
    ws.addEventListener("message", (event) => frames.push(JSON.parse(String(event.data))));
    ws.addEventListener("close", (event) => (closedWith = event.code));
    ws.accept();

    const out = await workerFetch(`${BASE}/g/${group}/session/end`, { method: "POST", headers: { Cookie: cookie, Origin: ORIGIN } });
    expect(out.status).toBe(200);
    expect(out.headers.get("Set-Cookie")).toMatch(/^relay_session=; .*Max-Age=0/);
    expect(await out.json()).toMatchObject({ signed_out: true, sockets_closed: 1 });
    await expect.poll(() => closedWith).toBe(4401);
    expect(frames).toContainEqual({ type: "signed_out", message: "You signed out. Sign in again with your link." });

    // The copy of the cookie reads nothing, sends nothing, and cannot open another socket.
    const read = await api(group, "room", copied);
    expect(read.status).toBe(401);
    expect(((await read.json()) as { message: string }).message).toContain("signed out");
    expect((await api(group, "feed?after=0", copied)).status).toBe(401);
    expect((await api(group, "send", copied, { body: { text: "after sign-out" } })).status).toBe(401);
    expect((await workerFetch(`${BASE}/g/${group}/ws`, { headers: { Upgrade: "websocket", Cookie: copied, Origin: ORIGIN } })).status).toBe(401);

    // The peer's other session and its token are untouched.
    expect((await api(group, "room", other.cookie)).status).toBe(200);
    const scripted = await workerFetch(`${BASE}/g/${group}/api/send`, { method: "POST", headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" }, body: JSON.stringify({ text: "still here" }) });
    expect(scripted.status).toBe(200);
    // Signing out needs this origin, as every cookie write does.
    expect((await workerFetch(`${BASE}/g/${group}/session/end`, { method: "POST", headers: { Cookie: other.cookie } })).status).toBe(403);
    expect((await api(group, "room", other.cookie)).status).toBe(200);
  });

  it("accepts a cookie write only with this origin; a script may use its Bearer token instead", async () => {
    const group = freshGroup("web");
    const token = await mint(group, "dana");
    const { cookie } = await signIn(token);
    expect((await api(group, "send", cookie, { body: { text: "no origin" }, origin: null })).status).toBe(403);
    expect((await api(group, "send", cookie, { body: { text: "evil origin" }, origin: "http://localhost:1" })).status).toBe(403);
    const ok = await api(group, "send", cookie, { body: { text: "from the page", tags: ["web"] } });
    expect(ok.status).toBe(200);
    const scripted = await workerFetch(`${BASE}/g/${group}/api/send`, { method: "POST", headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" }, body: JSON.stringify({ text: "from a script" }) });
    expect(scripted.status).toBe(200);
    // The tools' own limits and error texts.
    const empty = await api(group, "send", cookie, { body: { text: "" } });
    expect(empty.status).toBe(400);
    expect(((await empty.json()) as { message: string }).message).toContain("text must not be empty");
    const tooMany = await api(group, "send", cookie, { body: { text: "t", tags: Array.from({ length: 9 }, (_, i) => `t${i}`) } });
    expect(((await tooMany.json()) as { message: string }).message).toContain("at most 8 tags");
  });
});

describe("the feed and live sockets", () => {
  it("shows a peer broadcasts and its own DMs, an observer everything; marks nothing read", async () => {
    const group = freshGroup("web");
    const alice = await peer(group, "alice");
    const bob = await peer(group, "bob");
    const carol = await peer(group, "carol");
    await bob.call("list_peers");
    await carol.call("list_peers");
    await alice.call("send_message", { text: "hello all" });
    await alice.call("send_dm", { to: "bob", text: "for bob only" });
    await alice.call("send_dm", { to: "carol", text: "for carol only" });
    const carolSession = await signIn(carol.token);
    const owl = await signIn(await mint(group, "owl", { r: "observer" }));
    const seen = async (cookie: string) => ((await (await api(group, "feed?after=0&limit=50", cookie)).json()) as { messages: { text: string }[] }).messages.map((m) => m.text);
    expect(await seen(carolSession.cookie)).toEqual(["hello all", "for carol only"]);
    expect(await seen(owl.cookie)).toEqual(["hello all", "for bob only", "for carol only"]);
    // Nothing was marked read by the feed: bob's mail is all still unread.
    expect((await bob.call("read_new_messages")).data.messages.map((m: { text: string }) => m.text)).toEqual(["hello all", "for bob only"]);
    // Reading in the page marks the person's mail read.
    expect(((await (await api(group, "read", carolSession.cookie, { body: {} })).json()) as { read: number }).read).toBe(2);
    expect((await carol.call("read_new_messages")).data.messages).toEqual([]);
  });

  it("a page socket needs the cookie and this origin, and hears whole messages it may see", async () => {
    const group = freshGroup("web");
    const alice = await peer(group, "alice");
    const bob = await peer(group, "bob");
    await bob.call("list_peers");
    const { cookie } = await signIn(await mint(group, "dana"));
    const upgrade = (headers: Record<string, string>) => workerFetch(`${BASE}/g/${group}/ws`, { headers: { Upgrade: "websocket", ...headers } });
    expect((await upgrade({ Cookie: cookie })).status).toBe(403);
    expect((await upgrade({ Cookie: cookie, Origin: "http://localhost:1" })).status).toBe(403);
    expect((await upgrade({ Origin: ORIGIN })).status).toBe(401);
    const response = await upgrade({ Cookie: cookie, Origin: ORIGIN });
    expect(response.status).toBe(101);
    const ws = response.webSocket!;
    const frames: { type: string; message?: { text: string } }[] = [];
    ws.addEventListener("message", (event) => frames.push(JSON.parse(String(event.data))));
    ws.accept();
    await alice.call("send_dm", { to: "bob", text: "not for dana" });
    await alice.call("send_message", { text: "<b>for everyone</b>" });
    await expect.poll(() => frames.length).toBe(1);
    expect(frames[0]).toMatchObject({ type: "message", message: { from: "alice", to: null, text: "<b>for everyone</b>" } });
    ws.close(1000, "done");
  });

  it("a bridge cannot pass itself off as a page or an observer with forged headers", async () => {
    const group = freshGroup("web");
    const alice = await peer(group, "alice");
    const bob = await peer(group, "bob");
    await bob.call("list_peers");
    const mallory = await mint(group, "mallory");
    const response = await workerFetch(`${BASE}/groups/${group}/ws`, {
      headers: { Upgrade: "websocket", Host: "localhost", Authorization: `Bearer ${mallory}`, "X-Relay-Web": "1", "X-Relay-Role": "observer" },
    });
    expect(response.status).toBe(101);
    const ws = response.webSocket!;
    const raw: string[] = [];
    ws.addEventListener("message", (event) => raw.push(String(event.data)));
    ws.accept();
    await expect.poll(() => raw.some((f) => f.includes('"welcome"'))).toBe(true);
    ws.send(JSON.stringify({ type: "hello", last_acked: null }));
    await expect.poll(() => raw.some((f) => f.includes("replay_done"))).toBe(true);
    await alice.call("send_dm", { to: "bob", text: "secret for bob" });
    await alice.call("send_message", { text: "public" });
    await expect.poll(() => raw.some((f) => f.includes('"notice"'))).toBe(true);
    expect(raw.join("\n")).not.toContain("secret for bob");
    expect(raw.join("\n")).not.toContain('"type":"message"');
    ws.close(1000, "done");
  });
});

describe("the board in pages", () => {
  it("a board at its size limit: the room's first load stays small, pages bring every key once, and a key's whole value on request", async () => {
    const group = freshGroup("web");
    const { cookie } = await signIn(await mint(group, "dana"));
    await api(group, "whoami", cookie);
    // 200 keys of 16,000 characters, several changed in the same millisecond.
    const value = JSON.stringify("v".repeat(15_998));
    const base = Date.now() - 60_000;
    await sqlIn(group, `WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 199)
      INSERT INTO state (key, value, updated_by, updated_at) SELECT printf('key-%03d', i), ?1, 'ada', ?2 + i / 3 FROM n`, value, base);

    const room = await api(group, "room", cookie);
    const text = await room.text();
    expect(text.length).toBeLessThan(64 * 1024);
    const snapshot = JSON.parse(text) as { board: { key: string; value_json: string; truncated?: true }[]; board_next: { updated_at: string; key: string } | null; board_total: number };
    expect(snapshot.board_total).toBe(200);
    expect(snapshot.board).toHaveLength(50);
    expect(snapshot.board[0]).toMatchObject({ key: "key-198", truncated: true });
    expect(snapshot.board.every((e) => e.truncated && e.value_json.length === 280)).toBe(true);

    const seen = snapshot.board.map((e) => e.key);
    let next = snapshot.board_next;
    while (next) {
      const page = (await (await api(group, `board?after=${encodeURIComponent(next.updated_at)}&key=${next.key}&limit=70`, cookie)).json()) as { entries: { key: string }[]; next: typeof next };
      seen.push(...page.entries.map((e) => e.key));
      next = page.next;
    }
    expect(seen).toHaveLength(200);
    expect(new Set(seen).size).toBe(200);

    const whole = (await (await api(group, "board/value?key=key-007", cookie)).json()) as { entry: { key: string; value_json: string } };
    expect(whole.entry).toMatchObject({ key: "key-007", value_json: value });
    expect((await api(group, "board/value?key=nothing-here", cookie)).status).toBe(404);
  });
});

describe("observers and pause", () => {
  it("an observer cannot send or write the board; list_peers shows it", async () => {
    const group = freshGroup("web");
    const owl = await connect(await mint(group, "owl", { r: "observer" }));
    const alice = await peer(group, "alice");
    // An observer's session is not offered the writing tools at all, and calling one fails.
    const tools = (await owl.listTools()).tools.map((t) => t.name);
    expect(tools).toContain("read_new_messages");
    expect(tools).not.toContain("send_message");
    await expect(call(owl, "send_message", { text: "hi" })).rejects.toThrow(/send_message not found/);
    await expect(call(owl, "set_state", { key: "k", value: 1 })).rejects.toThrow(/set_state not found/);
    // The group object refuses an observer's writes whatever the route (the page, a script).
    const direct = await stubFor(group).send({ group, peer: "owl", iat: Date.now(), role: "observer" }, { text: "hi", kind: "group" });
    expect(direct.ok === false && direct.problem.code).toBe("read_only");
    const peers = await alice.call("list_peers");
    expect(peers.data.peers.find((p: { name: string }) => p.name === "owl")).toMatchObject({ observer: true });
    expect(peers.data.peers.find((p: { name: string }) => p.name === "alice").observer).toBeUndefined();
  });

  it("a lead pauses over HTTP with a Bearer token: sends and board writes refuse with the reason; reads work; resume", async () => {
    const group = freshGroup("web");
    const lead = await mint(group, "lee", { r: "lead" });
    const alice = await peer(group, "alice");
    const bob = await peer(group, "bob");
    await bob.call("list_peers");
    const post = (token: string, path: string, body: unknown) =>
      workerFetch(`${BASE}/g/${group}/api/${path}`, { method: "POST", headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" }, body: JSON.stringify(body) });
    const byPeer = await post(alice.token, "pause", { reason: "mine" });
    expect(byPeer.status).toBe(403);
    expect(((await byPeer.json()) as { message: string }).message).toContain("--lead");
    expect((await post(lead, "pause", { reason: "  " })).status).toBe(400);
    expect((await post(lead, "pause", { reason: "deploy freeze" })).status).toBe(200);
    const expected = "the group is paused by lee: deploy freeze";
    for (const [tool, args] of [
      ["send_message", { text: "x" }],
      ["send_dm", { to: "bob", text: "x" }],
      ["ask_peer", { to: "bob", question: "x", timeout_seconds: 0 }],
      ["set_state", { key: "k", value: 1 }],
    ] as const) {
      const refused = await alice.call(tool, args);
      expect(refused.isError, tool).toBe(true);
      expect(refused.text, tool).toBe(expected);
    }
    expect((await alice.call("read_new_messages")).isError).toBe(false);
    expect((await alice.call("get_state")).isError).toBe(false);
    expect((await alice.call("list_peers")).data.paused).toMatchObject({ by: "lee", reason: "deploy freeze" });
    expect((await post(lead, "resume", {})).status).toBe(200);
    expect((await alice.call("send_message", { text: "free again" })).isError).toBe(false);
  });
});

describe("pages and assets", () => {
  it("serves the pages with a strict CSP and the hashed assets for a year", async () => {
    for (const path of ["/", "/g/core"]) {
      const page = await workerFetch(`${BASE}${path}`);
      expect(page.status).toBe(200);
      expect(page.headers.get("Content-Security-Policy")).toBe(
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
      );
      expect(page.headers.get("Referrer-Policy")).toBe("no-referrer");
      const html = await page.text();
      expect(html).toContain(`/assets/${ASSETS.js}`);
      // No inline script and no inline event handler: every script is a same-origin file.
      expect(html).not.toMatch(/<script(?![^>]*\ssrc=)|\son[a-z]+=/);
    }
    expect((await workerFetch(`${BASE}/g/${encodeURIComponent("<x>")}`)).status).toBe(404);
    const js = await workerFetch(`${BASE}/assets/${ASSETS.js}`);
    expect(js.headers.get("Content-Type")).toContain("javascript");
    expect(js.headers.get("Cache-Control")).toContain("immutable");
    expect((await workerFetch(`${BASE}/assets/room-000000000000.js`)).status).toBe(404);
  });
});

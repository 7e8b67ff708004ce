/**
 * Bridge sockets, opened through the Worker with the Hibernation API behind them: the frames a
 * bridge receives, replay from an acked seq, presence, and surviving eviction.
 */
import { evictDurableObject } from "cloudflare:test";
import { afterEach, describe, expect, it } from "vitest";
import * as z from "zod/mini";
import { NoticeFrame, ReplayDoneFrame, WelcomeFrame } from "../../contract/frames.ts";
import { signAdminProof } from "../../contract/token.ts";
import { TEST_SECRET } from "../test-secret.ts";
import { BASE, bridge, closeSockets, freshGroup, isMarkedInstance, markInstance, mint, openSocket, peer, sqlIn, stubFor, workerFetch, trio } from "./helpers.ts";

afterEach(closeSockets);


describe("notification frames", () => {
  it("welcome on connect, replay_done after hello, then a notice per piece of mail, with no text", async () => {
    const { group, alice, bob, carol } = await trio("ws");
    const first = await alice.call("send_message", { text: "before the socket" });

    const socket = await openSocket(group, bob.token);
    // Exactly the welcome frame, and nothing else before hello.
    expect(z.strictObject(WelcomeFrame.shape).parse(socket.welcome)).toEqual({ type: "welcome", group, peer: "bob", latest_seq: first.data.seq });
    expect(socket.frames).toHaveLength(1);

    const { notices, done } = await socket.hello(null);
    // bob had never read: his cursor started at first sight, before alice's message.
    expect(notices.map((n) => n.seq)).toEqual([first.data.seq]);
    expect(z.strictObject(ReplayDoneFrame.shape).parse(done)).toEqual({ type: "replay_done", after_seq: 0, through_seq: first.data.seq });

    const texts = ["to everyone", "just for bob", "a question for bob", "urgent, everyone"];
    const group1 = await alice.call("send_message", { text: texts[0] });
    const dm = await alice.call("send_dm", { to: "bob", text: texts[1], urgent: true });
    const question = await carol.call("ask_peer", { to: "bob", question: texts[2], timeout_seconds: 0 });
    const urgent = await carol.call("send_message", { text: texts[3], urgent: true });
    // bob's own broadcast is not announced to him; a DM from bob to alice is not for him either.
    const own = await bob.call("send_message", { text: "bob speaking" });
    await bob.call("send_dm", { to: "alice", text: "bob to alice" });
    const last = await carol.call("send_message", { text: "the end" });

    await socket.waitFor((f) => f.type === "notice" && f.seq === last.data.seq);
    const live = socket.notices().slice(1);
    expect(live).toEqual([
      { type: "notice", seq: group1.data.seq, id: group1.data.id, from: "alice", kind: "group", urgent: false },
      { type: "notice", seq: dm.data.seq, id: dm.data.id, from: "alice", kind: "dm", urgent: true },
      { type: "notice", seq: question.data.question.seq, id: question.data.question.id, from: "carol", kind: "question", urgent: false },
      { type: "notice", seq: urgent.data.seq, id: urgent.data.id, from: "carol", kind: "group", urgent: true },
      { type: "notice", seq: last.data.seq, id: last.data.id, from: "carol", kind: "group", urgent: false },
    ]);
    expect(live.map((n) => n.seq)).not.toContain(own.data.seq);
    // Every notice is exactly the protocol's frame: no text, no extra fields.
    for (const notice of socket.notices()) z.strictObject(NoticeFrame.shape).parse(notice);
    for (const raw of socket.raw) for (const text of [...texts, "before the socket", "bob to alice"]) expect(raw).not.toContain(text);
  });

  it("live notices wait for hello: mail sent before it is replayed, not pushed twice", async () => {
    const { group, alice, bob } = await trio("ws");
    const socket = await openSocket(group, bob.token);
    const early = await alice.call("send_dm", { to: "bob", text: "before hello" });
    const { notices } = await socket.hello(null);
    expect(notices.map((n) => n.seq)).toEqual([early.data.seq]);
    const later = await alice.call("send_dm", { to: "bob", text: "after hello" });
    await socket.waitFor((f) => f.type === "notice" && f.seq === later.data.seq);
    expect(socket.notices().map((n) => n.seq)).toEqual([early.data.seq, later.data.seq]);
  });

  it("every socket of the peer is notified; other peers' sockets get only what concerns them", async () => {
    const { group, alice, bob, carol } = await trio("ws");
    const bob1 = await bridge(group, bob.token);
    const bob2 = await bridge(group, bob.token);
    const carolSocket = await bridge(group, carol.token);
    const dm = await alice.call("send_dm", { to: "bob", text: "x" });
    const all = await alice.call("send_message", { text: "y" });
    for (const socket of [bob1, bob2]) {
      await socket.waitFor((f) => f.type === "notice" && f.seq === all.data.seq);
      expect(socket.notices().map((n) => n.seq)).toEqual([dm.data.seq, all.data.seq]);
    }
    await carolSocket.waitFor((f) => f.type === "notice" && f.seq === all.data.seq);
    expect(carolSocket.notices().map((n) => n.seq)).toEqual([all.data.seq]);
  });

  it("a peer who left hears no broadcasts but still hears DMs, until they rejoin", async () => {
    const { group, alice, bob } = await trio("ws");
    const socket = await bridge(group, bob.token);
    await bob.call("leave_group");
    const broadcast = await alice.call("send_message", { text: "all" });
    const dm = await alice.call("send_dm", { to: "bob", text: "you" });
    await socket.waitFor((f) => f.type === "notice" && f.seq === dm.data.seq);
    expect(socket.notices().map((n) => n.seq)).toEqual([dm.data.seq]);
    // Not in a replay either.
    expect((await bridge(group, bob.token, 0)).replay.notices.map((n) => n.seq)).toEqual([dm.data.seq]);

    await bob.call("register", { summary: "back" });
    const after = await alice.call("send_message", { text: "welcome back" });
    await socket.waitFor((f) => f.type === "notice" && f.seq === after.data.seq);
    expect(socket.notices().map((n) => n.seq)).toEqual([dm.data.seq, after.data.seq]);
    expect(socket.notices().map((n) => n.seq)).not.toContain(broadcast.data.seq);
  });

  it("malformed frames get an error frame and the socket stays open; ping gets pong", async () => {
    const { group, alice, bob } = await trio("ws");
    const socket = await bridge(group, bob.token);
    for (const bad of ["not json", '{"type":"hello"}', '{"type":"ack","seq":-1}', '{"type":"shout"}', JSON.stringify({ type: "ack", seq: 1, pad: "x".repeat(5000) })]) {
      const from = socket.frames.length;
      socket.send(bad);
      const { frame } = await socket.waitFor((f) => f.type === "error", { from });
      expect(frame).toMatchObject({ type: "error", code: "bad_frame", message: expect.stringMatching(/hello.*ack/) });
    }
    const rawBefore = socket.raw.length;
    socket.send("ping");
    await expect.poll(() => socket.raw.slice(rawBefore)).toContain("pong");
    const dm = await alice.call("send_dm", { to: "bob", text: "still open" });
    await socket.waitFor((f) => f.type === "notice" && f.seq === dm.data.seq);
  });

  it("too many malformed frames close the socket with the protocol-error code", async () => {
    const { group, bob } = await trio("ws");
    const socket = await bridge(group, bob.token);
    for (let i = 0; i < 10; i++) socket.send("garbage");
    expect((await socket.closed).code).toBe(4400);
  });
});

describe("replay from an acked seq", () => {
  it("hello with last_acked=N replays exactly the seqs after N that concern the peer", async () => {
    const { group, alice, bob, carol } = await trio("ws");
    const sent = {
      g1: await alice.call("send_message", { text: "g1" }),
      dmBob: await alice.call("send_dm", { to: "bob", text: "dm bob" }),
      dmCarol: await alice.call("send_dm", { to: "carol", text: "dm carol" }),
      own: await bob.call("send_message", { text: "bob's own" }),
      q: await carol.call("ask_peer", { to: "bob", question: "q?", timeout_seconds: 0 }),
      g2: await carol.call("send_message", { text: "g2" }),
    };
    const seq = (k: keyof typeof sent) => (k === "q" ? sent.q.data.question.seq : sent[k].data.seq) as number;
    const forBob = ["g1", "dmBob", "q", "g2"] as const;

    const fromZero = await bridge(group, bob.token, 0);
    expect(fromZero.replay.notices.map((n) => n.seq)).toEqual(forBob.map(seq));
    expect(fromZero.replay.notices.map((n) => n.kind)).toEqual(["group", "dm", "question", "group"]);
    expect(fromZero.replay.done).toEqual({ type: "replay_done", after_seq: 0, through_seq: seq("g2") });

    // Every N in between: exactly the later ones.
    for (const n of [seq("g1"), seq("dmBob"), seq("dmCarol"), seq("own"), seq("q")]) {
      const socket = await bridge(group, bob.token, n);
      expect(socket.replay.notices.map((f) => f.seq), `after ${n}`).toEqual(forBob.map(seq).filter((s) => s > n));
      expect(socket.replay.done.after_seq).toBe(n);
      socket.close();
    }
    const upToDate = await bridge(group, bob.token, seq("g2"));
    expect(upToDate.replay.notices).toEqual([]);
  });

  it("skips what the peer already read through the tools", async () => {
    const { group, alice, bob } = await trio("ws");
    const a = await alice.call("send_message", { text: "a" });
    const b = await alice.call("send_dm", { to: "bob", text: "b" });
    const c = await alice.call("send_message", { text: "c" });
    expect((await bob.call("read_new_messages", { limit: 2 })).data.messages.map((m: { text: string }) => m.text)).toEqual(["a", "b"]);
    const socket = await bridge(group, bob.token, 0);
    expect(socket.replay.notices.map((n) => n.seq)).toEqual([c.data.seq]);
    expect(socket.replay.done.after_seq).toBe(b.data.seq);
    expect(a.data.seq).toBeLessThan(b.data.seq);
  });

  it("reading mail through the tools tells the peer's bridges how far it has read", async () => {
    const { group, alice, bob, carol } = await trio("ws");
    const bobSocket = await bridge(group, bob.token, null);
    const carolSocket = await bridge(group, carol.token, null);
    await alice.call("send_dm", { to: "bob", text: "one" });
    const second = await alice.call("send_message", { text: "two" });
    const from = bobSocket.frames.length;
    await bob.call("read_new_messages");
    const { frame } = await bobSocket.waitFor((f) => f.type === "read", { from });
    expect(frame).toEqual({ type: "read", through_seq: second.data.seq });
    // Only the reader's own sockets hear it.
    await carol.call("read_new_messages");
    await carolSocket.waitFor((f) => f.type === "read");
    expect(carolSocket.frames.filter((f) => f.type === "read")).toHaveLength(1);
    expect(bobSocket.frames.filter((f) => f.type === "read")).toHaveLength(1);
  });

  it("hello with null resumes after the last seq this peer's bridge acked", async () => {
    const { group, alice, bob } = await trio("ws");
    const first = await bridge(group, bob.token);
    const m1 = await alice.call("send_dm", { to: "bob", text: "1" });
    const m2 = await alice.call("send_dm", { to: "bob", text: "2" });
    await first.waitFor((f) => f.type === "notice" && f.seq === m2.data.seq);
    first.send({ type: "ack", seq: m1.data.seq });
    await expect.poll(() => sqlIn(group, `SELECT acked_seq FROM peers WHERE name = 'bob'`)).toEqual([{ acked_seq: m1.data.seq }]);
    first.close();

    const m3 = await alice.call("send_dm", { to: "bob", text: "3" });
    const resumed = await bridge(group, bob.token, null);
    expect(resumed.replay.notices.map((n) => n.seq)).toEqual([m2.data.seq, m3.data.seq]);
    expect(resumed.replay.done.after_seq).toBe(m1.data.seq);

    // Acks never move backwards.
    resumed.send({ type: "ack", seq: m3.data.seq });
    resumed.send({ type: "ack", seq: 0 });
    // Frames are handled in order: once a bad frame after them is answered, both acks were.
    resumed.send("not a frame");
    await resumed.waitFor((f) => f.type === "error");
    // Acks are written together a moment later: the row gets there and stays.
    await expect.poll(() => sqlIn(group, `SELECT acked_seq FROM peers WHERE name = 'bob'`)).toEqual([{ acked_seq: m3.data.seq }]);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(await sqlIn(group, `SELECT acked_seq FROM peers WHERE name = 'bob'`)).toEqual([{ acked_seq: m3.data.seq }]);
  });
});

describe("presence and hibernation", () => {
  it("a socket survives eviction of the group object and is still notified", async () => {
    const { group, alice, bob } = await trio("ws");
    const socket = await bridge(group, bob.token);
    const before = await alice.call("send_dm", { to: "bob", text: "before" });
    await socket.waitFor((f) => f.type === "notice" && f.seq === before.data.seq);

    await markInstance(group);
    await evictDurableObject(stubFor(group), { webSockets: "hibernate" });
    // A fresh instance now; the socket itself was hibernated, not closed.
    expect(await isMarkedInstance(group)).toBe(false);
    expect(socket.ws.readyState).toBe(WebSocket.OPEN);

    // The new instance finds the socket, its peer tag and its "ready" state from the attachment.
    expect((await alice.call("list_peers")).data.peers.find((p: { name: string }) => p.name === "bob").online).toBe(true);
    const after = await alice.call("send_dm", { to: "bob", text: "after" });
    const broadcast = await alice.call("send_message", { text: "after, to all" });
    await socket.waitFor((f) => f.type === "notice" && f.seq === broadcast.data.seq);
    expect(socket.notices().map((n) => n.seq)).toEqual([before.data.seq, after.data.seq, broadcast.data.seq]);

    // The socket still talks back: acks are handled by the woken object.
    socket.send({ type: "ack", seq: broadcast.data.seq });
    await expect.poll(() => sqlIn(group, `SELECT acked_seq FROM peers WHERE name = 'bob'`)).toEqual([{ acked_seq: broadcast.data.seq }]);

    // And a second eviction changes nothing.
    await evictDurableObject(stubFor(group));
    const third = await alice.call("send_dm", { to: "bob", text: "again" });
    await socket.waitFor((f) => f.type === "notice" && f.seq === third.data.seq);
  });

  it("after eviction the woken object still knows who left and whose tokens are revoked", async () => {
    const { group, alice, bob, carol } = await trio("ws");
    const oldCarolToken = await mint(group, "carol", { iat: Date.now() - 1_000 });
    const bobSocket = await bridge(group, bob.token);
    const carolSocket = await bridge(group, oldCarolToken);
    await bob.call("leave_group");

    await markInstance(group);
    await evictDurableObject(stubFor(group), { webSockets: "hibernate" });
    expect(await isMarkedInstance(group), "first eviction").toBe(false);

    // bob left: the broadcast is not announced to him, the DM is.
    await alice.call("send_message", { text: "all" });
    const dm = await alice.call("send_dm", { to: "bob", text: "you" });
    await bobSocket.waitFor((f) => f.type === "notice" && f.seq === dm.data.seq);
    expect(bobSocket.notices().map((n) => n.seq)).toEqual([dm.data.seq]);

    // Revoking carol's old token reaches her hibernated socket through its attachment.
    await markInstance(group);
    await evictDurableObject(stubFor(group), { webSockets: "hibernate" });
    expect(await isMarkedInstance(group), "second eviction").toBe(false);
    const proof = await signAdminProof(TEST_SECRET, "revoke", `${group}/carol`, Date.now());
    const revoked = await workerFetch(`${BASE}/groups/${group}/revoke`, { method: "POST", body: JSON.stringify({ peer: "carol", proof }) });
    expect(await revoked.json()).toMatchObject({ sockets_closed: 1 });
    expect((await carolSocket.closed).code).toBe(4401);
    // Every token issued before the revocation is refused; one minted after it works.
    expect((await carol.call("list_peers")).isError).toBe(true);
    expect((await (await peer(group, "carol")).call("list_peers")).isError).toBe(false);
  });

  it("a socket closed by eviction (not hibernated) is gone, and presence says so", async () => {
    const { group, alice, bob } = await trio("ws");
    const socket = await bridge(group, bob.token);
    await evictDurableObject(stubFor(group), { webSockets: "close" });
    await socket.closed;
    await expect.poll(async () => (await alice.call("list_peers")).data.peers.find((p: { name: string }) => p.name === "bob").online).toBe(false);
    // The mail is still kept for the bridge's reconnect.
    const dm = await alice.call("send_dm", { to: "bob", text: "while away" });
    const back = await bridge(group, bob.token, null);
    expect(back.replay.notices.map((n) => n.seq)).toEqual([dm.data.seq]);
  });
});

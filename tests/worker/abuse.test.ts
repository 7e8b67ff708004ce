/**
 * One hostile token against one group: each attack ends the way the limits say (the socket is
 * closed, the upgrade refused, the notices stop, the search stays bounded), and a bystander in the
 * same group still sends, and still hears about mail, while it runs. The bystander's latency
 * under attack is measured properly by `npm run bench:abuse`; here it only has to stay far below
 * what the unbounded versions cost (seconds).
 */
import { runInDurableObject } from "cloudflare:test";
import { afterEach, describe, expect, it } from "vitest";
import { CLOSE_CODES, KEEPALIVE_PING } from "../../contract/frames.ts";
import { MAX_BAD_FRAMES, MAX_SOCKETS_PER_PEER, MAX_UNACKED_NOTICES, REPLAY_MAX_NOTICES } from "../../contract/limits.ts";
import { bridge, closeSockets, openSocket, stubFor, timed, trio, upgradeRequest, workerFetch } from "./helpers.ts";

afterEach(closeSockets);

/**
 * What a bystander may take per call while an attack runs: generous, so a busy 2-core machine
 * does not fail it, while an attack left unbounded (minutes of an unanswering group) still does.
 * How fast the bystander answers is measured by the bench (bench:abuse), not asserted here.
 */
const BYSTANDER_BOUND_MS = 10_000;

type Trio = Awaited<ReturnType<typeof trio>>;

/** carol (the bystander) broadcasts `count` times; every send must succeed within the bound. */
async function bystanderSends(t: Trio, count: number, label: string): Promise<number[]> {
  const seqs: number[] = [];
  for (let i = 0; i < count; i++) {
    const { value, ms } = await timed(t.carol.call("send_message", { text: `${label} ${i}` }));
    expect(value.isError, value.text).toBe(false);
    expect(ms, `${label}: send ${i} took ${ms} ms`).toBeLessThan(BYSTANDER_BOUND_MS);
    seqs.push(value.data.seq);
  }
  return seqs;
}

describe("(a) one socket floods frames", () => {
  const floods: [string, (i: number) => string | ArrayBuffer, number][] = [
    ["acks", () => JSON.stringify({ type: "ack", seq: 0 }), CLOSE_CODES.tooManyFrames],
    ["hellos", () => JSON.stringify({ type: "hello", last_acked: null }), CLOSE_CODES.protocolError],
    ["malformed text", (i) => `garbage ${i}`, CLOSE_CODES.protocolError],
    ["oversized frames", () => JSON.stringify({ type: "ack", seq: 0, pad: "x".repeat(8_000) }), CLOSE_CODES.protocolError],
    ["binary frames", () => new Uint8Array(16).buffer, CLOSE_CODES.protocolError],
  ];
  for (const [kind, frame, code] of floods) {
    it(`1,000 ${kind}: the socket is closed with ${code}; the bystander sends and hears notices throughout`, async () => {
      const t = await trio("abuse");
      const watcher = await bridge(t.group, t.bob.token);
      const attacker = await openSocket(t.group, t.alice.token);
      // Hellos must come first to be a flood of hellos; the others flood a socket past its hello.
      if (kind !== "hellos") await attacker.hello(null);
      const sent = (async () => {
        for (let i = 0; i < 1_000; i++) {
          try {
            attacker.ws.send(frame(i));
          } catch {
            return; // Closed under us: the relay has done its part.
          }
        }
      })();
      const seqs = await bystanderSends(t, 3, `during ${kind}`);
      await sent;
      const closed = await attacker.closed;
      expect(closed.code).toBe(code);
      // The attacker got at most a budget's worth of answers, not 1,000.
      const errors = attacker.frames.filter((f) => f.type === "error").length;
      expect(errors).toBeLessThanOrEqual(MAX_BAD_FRAMES);
      expect(attacker.frames.filter((f) => f.type === "replay_done")).toHaveLength(1);
      // The bystander's mail reached a bridge that behaves.
      await watcher.waitFor((f) => f.type === "notice" && f.seq === seqs.at(-1));
    });
  }

  it("1,000 keep-alive pings are answered by the runtime without waking the group, and close nothing", async () => {
    const t = await trio("abuse");
    const attacker = await bridge(t.group, t.alice.token);
    for (let i = 0; i < 1_000; i++) attacker.send(KEEPALIVE_PING);
    const seqs = await bystanderSends(t, 3, "during pings");
    await attacker.waitFor((f) => f.type === "notice" && f.seq === seqs.at(-1));
    await expect.poll(() => attacker.raw.filter((r) => r === "pong").length).toBe(1_000);
  });
});

describe("(b) many sockets, many hellos", () => {
  it(`past ${MAX_SOCKETS_PER_PEER} open sockets a peer is refused with 429; others still connect`, async () => {
    const t = await trio("abuse");
    for (let i = 0; i < MAX_SOCKETS_PER_PEER; i++) await openSocket(t.group, t.alice.token);
    for (let i = 0; i < 5; i++) {
      const refused = await workerFetch(upgradeRequest(t.group, t.alice.token));
      expect(refused.status).toBe(429);
      expect(await refused.json()).toMatchObject({ error: "too_many_sockets", message: expect.stringContaining(`${MAX_SOCKETS_PER_PEER} open sockets`) });
    }
    const watcher = await bridge(t.group, t.bob.token);
    const seqs = await bystanderSends(t, 3, "many sockets");
    await watcher.waitFor((f) => f.type === "notice" && f.seq === seqs.at(-1));
  });

  it("20 hellos on each of the peer's sockets: each is replayed once and closed at its second hello", async () => {
    const t = await trio("abuse");
    // Unread mail for alice, so a replay has something to cost.
    for (let i = 0; i < 5; i++) await t.carol.call("send_dm", { to: "alice", text: `unread ${i}` });
    const sockets = await Promise.all(Array.from({ length: MAX_SOCKETS_PER_PEER }, () => openSocket(t.group, t.alice.token)));
    for (const socket of sockets) for (let i = 0; i < 20; i++) socket.send({ type: "hello", last_acked: null });
    const seqs = await bystanderSends(t, 3, "hellos");
    for (const socket of sockets) {
      const closed = await socket.closed;
      expect(closed).toMatchObject({ code: CLOSE_CODES.protocolError, reason: expect.stringContaining("one hello per connection") });
      expect(socket.frames.filter((f) => f.type === "replay_done")).toHaveLength(1);
      // One replay's notices, not twenty.
      expect(socket.notices().length).toBeLessThanOrEqual(5 + seqs.length);
    }
  });
});

describe("(c) a socket that never reads", () => {
  it(`gets at most ${MAX_UNACKED_NOTICES} notices it has not acked; an ack lets them flow again; others are unaffected`, async () => {
    const t = await trio("abuse");
    // More unread mail than one replay sends, stored directly (sending it would take minutes at
    // the send rate): the replay then owes MAX_UNACKED_NOTICES acks at once.
    await runInDurableObject(stubFor(t.group), (_instance, state) => {
      for (let i = 0; i < REPLAY_MAX_NOTICES + 50; i++) {
        state.storage.sql.exec(
          `INSERT INTO messages (id, sender, recipient, kind, text, created_at) VALUES (?, 'carol', 'alice', 'dm', 'x', ?)`,
          `m_flood${i}`,
          // A minute old, so the send rate limit does not count them against carol now.
          Date.now() - 60_000,
        );
      }
    });
    const reader = await bridge(t.group, t.alice.token);
    expect(reader.replay.notices).toHaveLength(REPLAY_MAX_NOTICES);
    expect(REPLAY_MAX_NOTICES).toBeGreaterThanOrEqual(MAX_UNACKED_NOTICES);
    const watcher = await bridge(t.group, t.bob.token);

    // alice's bridge never acks: new mail for her is not queued to it.
    const seqs = await bystanderSends(t, 5, "to a slow reader");
    await watcher.waitFor((f) => f.type === "notice" && f.seq === seqs.at(-1));
    const dm = await t.carol.call("send_dm", { to: "alice", text: "are you there?" });
    // A broadcast after it, seen by the watcher: anything the DM caused has been sent by then.
    const after = await bystanderSends(t, 1, "after the dm");
    await watcher.waitFor((f) => f.type === "notice" && f.seq === after[0]);
    expect(reader.notices().length).toBe(REPLAY_MAX_NOTICES);
    expect(reader.ws.readyState).toBe(WebSocket.OPEN);

    // Once it acks, notices flow again.
    reader.send({ type: "ack", seq: dm.data.seq });
    const next = await t.carol.call("send_dm", { to: "alice", text: "now?" });
    await reader.waitFor((f) => f.type === "notice" && f.seq === next.data.seq);
  });
});

describe("(d) the worst search, looped, over 20 MB of history", () => {
  it("every call stays bounded and the bystander keeps sending", async () => {
    const t = await trio("abuse");
    // 320 broadcasts of 64 KiB: one letter repeated, the text that makes trigrams least selective.
    await runInDurableObject(stubFor(t.group), (_instance, state) => {
      const text = "a".repeat(65_536);
      for (let i = 0; i < 320; i++) {
        state.storage.sql.exec(`INSERT INTO messages (id, sender, kind, text, created_at) VALUES (?, 'alice', 'group', ?, ?)`, `m_big${i}`, text, Date.now());
      }
    });
    const queries = [
      "zzz", // in no message: a scan would read all 20 MB to say so
      "a".repeat(199) + "b", // every trigram in every message, the query in none
      "a".repeat(200), // in every message
      "ab", // too short for the index: walks the channel
      "a".repeat(47) + "b", // as long as the old LIKE search could take, matching nothing
    ];
    const searchTimes: number[] = [];
    let stop = false;
    const loop = async () => {
      for (let i = 0; !stop; i++) {
        const { value, ms } = await timed(t.alice.call("get_history", { query: queries[i % queries.length] }));
        expect(value.isError, value.text).toBe(false);
        searchTimes.push(ms);
      }
    };
    const loops = [loop(), loop()];
    try {
      await bystanderSends(t, 10, "during searches");
    } finally {
      stop = true;
      await Promise.all(loops);
    }
    expect(searchTimes.length).toBeGreaterThanOrEqual(queries.length);
    expect(Math.max(...searchTimes)).toBeLessThan(BYSTANDER_BOUND_MS);
  });
});

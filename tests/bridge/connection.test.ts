/**
 * The bridge's socket logic against a real `ws` server speaking the relay protocol (a protocol
 * peer, tests/helpers/protocol-peer.ts): hello/resume, acks after delivery, reconnect with
 * backoff, dead-link detection, and refusals that end the bridge instead of looping.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { signToken } from "../../contract/token.ts";
import { CLOSE_CODES, type NoticeFrame } from "../../contract/frames.ts";
import { AckStore } from "../../local-bridge/core/ack-store.ts";
import { Bridge, highestSeq, type NoticeSink } from "../../local-bridge/core/bridge.ts";
import { resolveTarget } from "../../local-bridge/core/config.ts";
import { backoffDelay, RelayConnection, type ConnectionState } from "../../local-bridge/core/connection.ts";
import { BridgeError } from "../../local-bridge/core/errors.ts";
import { noticeRecord, renderLine } from "../../local-bridge/core/notices.ts";
import { StatusLine } from "../../local-bridge/core/status.ts";
import { ProtocolPeer } from "../helpers/protocol-peer.ts";
import { ScriptedRelay, type ScriptedSocket } from "./scripted-relay.ts";
import { TEST_SECRET } from "../test-secret.ts";
import { waitFor } from "../helpers/wait.ts";

const FAST = { pingIntervalMs: 50, deadAfterMs: 400, backoffBaseMs: 50, backoffCapMs: 200, stableAfterMs: 1_000 };

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

async function peer(): Promise<ProtocolPeer> {
  const p = await ProtocolPeer.start();
  cleanups.push(() => p.stop());
  return p;
}

function token(group = "core", name = "alice"): Promise<string> {
  return signToken(TEST_SECRET, { g: group, p: name, iat: Date.now() });
}

/** A notice from bob, for the scripted relay to send. */
function notice(seq: number): NoticeFrame {
  return { type: "notice", seq, id: `m_${seq}`, from: "bob", kind: "group", urgent: false };
}

/** A sink that records batches; `gate` can hold deliveries back. */
class RecordingSink implements NoticeSink {
  readonly maxBatch: number;
  readonly batches: number[][] = [];
  gate: Promise<void> = Promise.resolve();
  constructor(maxBatch = Number.POSITIVE_INFINITY) {
    this.maxBatch = maxBatch;
  }
  ready(): Promise<void> {
    return this.gate;
  }
  render(batch: readonly NoticeFrame[]): string {
    return JSON.stringify(batch.map((n) => n.seq));
  }
  async write(text: string): Promise<void> {
    this.batches.push(JSON.parse(text) as number[]);
  }
  seqs(): number[] {
    return this.batches.flat();
  }
}

async function bridge(relay: { url: string }, opts: { stateDir?: string; sink?: RecordingSink; group?: string } = {}) {
  const target = resolveTarget(relay.url, await token(opts.group ?? "core"));
  const stateDir = opts.stateDir ?? mkdtempSync(join(tmpdir(), "bridge-state-"));
  const sink = opts.sink ?? new RecordingSink();
  const acks = new AckStore({ url: target.baseUrl, group: target.group, peer: target.peer }, stateDir);
  const notes: string[] = [];
  const status = new StatusLine("test", { write: (text: string) => notes.push(text) });
  const b = new Bridge({ ...target, sink, acks, status, connection: FAST });
  const running = b.run();
  running.catch(() => {});
  cleanups.push(async () => {
    b.stop();
    await running.catch(() => {});
  });
  return { bridge: b, sink, acks, running, stateDir, notes };
}

/** A bare RelayConnection (no bridge, no sink) that records its states. */
async function connectionOnly(relay: ProtocolPeer): Promise<ConnectionState[]> {
  const states: ConnectionState[] = [];
  const target = resolveTarget(relay.url, await token());
  const connection = new RelayConnection({
    socketUrl: target.socketUrl,
    token: target.token,
    helloLastAcked: () => null,
    onNotice: () => {},
    onState: (s) => states.push(s),
    ...FAST,
  });
  const running = connection.run();
  cleanups.push(async () => {
    connection.stop();
    await running;
  });
  return states;
}

describe("backoffDelay", () => {
  it("doubles from the base, stays within [window/2, window], and caps near 30 s", () => {
    for (let attempt = 0; attempt < 12; attempt++) {
      const window = Math.min(30_000, 1_000 * 2 ** attempt);
      expect(backoffDelay(attempt, 1_000, 30_000, () => 0)).toBe(window / 2);
      expect(backoffDelay(attempt, 1_000, 30_000, () => 1)).toBe(window);
    }
    expect(backoffDelay(100, 1_000, 30_000, () => 1)).toBe(30_000);
  });
});

describe("Bridge over a socket", () => {
  it("says hello with null when it has no record, acks each delivered batch, then resumes from disk", async () => {
    const relay = await peer();
    relay.post({ from: "bob" });
    const first = await bridge(relay);
    await waitFor(() => relay.hellos.length === 1, { what: "hello" });
    expect(relay.hellos[0]).toEqual({ peer: "alice", last_acked: null });

    relay.post({ from: "bob", kind: "dm", to: "alice" });
    relay.post({ from: "carol" });
    relay.post({ from: "alice" }); // her own broadcast: no notice
    await waitFor(() => relay.acks.at(-1)?.seq === 3, { what: "ack of seq 3" });
    expect(first.sink.seqs()).toEqual([2, 3]);
    expect(first.acks.load()).toBe(3);

    // A new bridge process (same state dir) resumes: hello carries 3, nothing is noticed twice.
    first.bridge.stop();
    await first.running;
    relay.post({ from: "carol" });
    const second = await bridge(relay, { stateDir: first.stateDir });
    await waitFor(() => second.sink.seqs().includes(5), { what: "seq 5 after restart" });
    expect(relay.hellos.at(-1)).toEqual({ peer: "alice", last_acked: 3 });
    expect(second.sink.seqs()).toEqual([5]);
  });

  it("merges notices that arrive while a delivery is pending, and acks only after it landed", async () => {
    const relay = await peer();
    let open!: () => void;
    const sink = new RecordingSink();
    sink.gate = new Promise((resolve) => (open = resolve));
    await bridge(relay, { sink });
    await waitFor(() => relay.hellos.length === 1, { what: "hello" });
    for (let i = 0; i < 5; i++) relay.post({ from: "bob" });
    await waitFor(() => relay.messages.length === 5);
    // Nothing has landed: nothing may be acked.
    await new Promise((r) => setTimeout(r, 200));
    expect(relay.acks).toEqual([]);
    open();
    await waitFor(() => relay.acks.at(-1)?.seq === 5, { what: "ack 5" });
    // The first notice went to the sink at once; the rest, arriving while it waited, became one.
    expect(sink.batches.flat()).toEqual([1, 2, 3, 4, 5]);
    expect(sink.batches.length).toBeLessThanOrEqual(2);
  });

  it("reconnects after the relay goes away, retrying visibly, and catches up", async () => {
    const relay = await peer();
    const { sink } = await bridge(relay);
    await waitFor(() => relay.hellos.length === 1, { what: "hello" });
    relay.post({ from: "bob" });
    await waitFor(() => relay.acks.at(-1)?.seq === 1, { what: "ack 1" });

    await relay.stop();
    relay.post({ from: "carol" }); // arrives while the bridge is away
    await relay.listen();
    await waitFor(() => relay.hellos.length === 2, { what: "hello after restart", timeoutMs: 5_000 });
    expect(relay.hellos[1]!.last_acked).toBe(1);
    await waitFor(() => sink.seqs().includes(2), { what: "the missed notice" });
    expect(sink.seqs()).toEqual([1, 2]);
  });

  it("keeps retrying with growing, capped delays while nothing listens", async () => {
    const relay = await peer();
    await relay.stop(); // the port is now closed
    const states: ConnectionState[] = [];
    const connection = new RelayConnection({
      socketUrl: `ws://127.0.0.1:${relay.port}/groups/core/ws`,
      token: await token(),
      helloLastAcked: () => null,
      onNotice: () => {},
      onState: (s) => states.push(s),
      ...FAST,
    });
    const running = connection.run();
    cleanups.push(async () => {
      connection.stop();
      await running;
    });
    await waitFor(() => states.filter((s) => s.state === "retrying").length >= 5, { what: "five retries" });
    const retries = states.flatMap((s) => (s.state === "retrying" ? [s] : []));
    expect(retries[0]!.reason).toMatch(/relay unreachable: nothing listening at 127\.0\.0\.1:\d+/);
    expect(retries.every((r) => r.delayMs >= 25 && r.delayMs <= FAST.backoffCapMs)).toBe(true);
    expect(retries.at(-1)!.delayMs).toBeGreaterThanOrEqual(FAST.backoffCapMs / 2);
  });

  it("drops a link that stopped answering and reconnects", async () => {
    const relay = await peer();
    const states = await connectionOnly(relay);
    await waitFor(() => relay.hellos.length === 1, { what: "hello" });
    relay.silent = true; // the socket stays open, but nothing comes back
    await waitFor(() => states.some((s) => s.state === "retrying" && /nothing heard from the relay/.test(s.reason)), {
      what: "the dead link to be dropped",
      timeoutMs: 5_000,
    });
    relay.silent = false;
    await waitFor(() => relay.hellos.length === 2, { what: "a fresh hello" });
  });

  it("reconnects when the relay sweeps the socket as stale (4408)", async () => {
    const relay = await peer();
    await bridge(relay);
    await waitFor(() => relay.hellos.length === 1, { what: "hello" });
    relay.closeAll(CLOSE_CODES.stale, "no keep-alive; reconnect");
    await waitFor(() => relay.hellos.length === 2, { what: "hello after 4408" });
  });

  it("ends with the relay's own message on 401, without retrying", async () => {
    const relay = await peer();
    relay.refuse = { status: 401, body: { error: "invalid_token", message: "Token refused: the token expired. Ask your team for a new token." } };
    const { running } = await bridge(relay);
    const error = await running.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BridgeError);
    expect((error as Error).message).toContain("HTTP 401");
    expect((error as Error).message).toContain("Token refused: the token expired. Ask your team for a new token.");
    expect(relay.attempts).toBe(1);
  });

  it("ends on 403 (token for another group)", async () => {
    const relay = await peer();
    relay.refuse = { status: 403, body: { error: "wrong_group", message: "Your token is for group 'core', not 'infra'." } };
    const { running } = await bridge(relay);
    await expect(running).rejects.toThrow(/HTTP 403.*not 'infra'/);
    expect(relay.attempts).toBe(1);
  });

  it("ends when the token is revoked while connected (4401)", async () => {
    const relay = await peer();
    const { running } = await bridge(relay);
    await waitFor(() => relay.hellos.length === 1, { what: "hello" });
    relay.closeAll(CLOSE_CODES.revoked, "token revoked");
    await expect(running).rejects.toThrow(/revoked this token \(token revoked\): ask whoever runs the relay for a new token/);
    expect(relay.attempts).toBe(1);
  });

  it("retries, rather than ends, on a 503 from a proxy or a relay starting up", async () => {
    const relay = await peer();
    relay.refuse = { status: 503, body: { error: "relay_not_configured", message: "RELAY_SECRET is not set." } };
    const states = await connectionOnly(relay);
    await waitFor(() => relay.attempts >= 2, { what: "a second attempt" });
    expect(states.find((s) => s.state === "retrying")).toMatchObject({ reason: expect.stringMatching(/HTTP 503: RELAY_SECRET is not set/) });
    relay.refuse = null;
    await waitFor(() => relay.hellos.length === 1, { what: "hello once the relay is ready" });
  });

  it("forgets its record when the relay's history is older than it (a relay started afresh)", async () => {
    const relay = await peer();
    const first = await bridge(relay);
    await waitFor(() => relay.hellos.length === 1);
    for (let i = 0; i < 3; i++) relay.post({ from: "bob" });
    await waitFor(() => first.acks.load() === 3, { what: "ack 3 saved" });
    first.bridge.stop();
    await first.running;

    // A new relay on the same address, with no history: its seqs start again at 1.
    await relay.stop();
    const fresh = await ProtocolPeer.start(relay.port);
    cleanups.push(() => fresh.stop());
    const second = await bridge(fresh, { stateDir: first.stateDir });
    await waitFor(() => fresh.hellos.length === 1);
    expect(fresh.hellos[0]!.last_acked).toBeNull();
    expect(second.acks.load()).toBeNull();
    fresh.post({ from: "bob" });
    await waitFor(() => second.sink.seqs().includes(1), { what: "the new relay's seq 1" });
  });

  // A batch that piled up while Claude was busy can be longer than the engine's argument limit, where
  // `Math.max(...seqs)` or `push(...batch)` throws RangeError. Proven on the functions a batch goes
  // through with 300,000 notices (beyond the limit, checked), and end to end through a real socket
  // with a batch large enough to be one write, small enough that a loaded machine sends it quickly.
  it("handles a batch beyond the engine's argument limit: highest seq, the pane's line, the stdout record", () => {
    const huge = Array.from({ length: 300_000 }, (_, i) => notice(i + 1));
    expect(() => Math.max(...huge.map((n) => n.seq))).toThrow(RangeError);
    expect(highestSeq(huge)).toBe(300_000);
    expect(renderLine("core", huge)).toContain("300000 new messages in core");
    expect(noticeRecord("core", huge).count).toBe(300_000);
  });

  it("delivers and acks, as one write, a batch that piled up while the sink was busy", async () => {
    const count = 5_000;
    const relay = await ScriptedRelay.start(() => ({
      accept: async (socket) => {
        await socket.greet();
        for (let seq = 1; seq <= count; seq++) socket.send(notice(seq));
        // Frames arrive in order: once this is printed, every notice is in the bridge.
        socket.send({ type: "error", code: "marker", message: "all sent" });
      },
    }));
    cleanups.push(() => relay.stop());
    let open!: () => void;
    const sink = new RecordingSink();
    sink.gate = new Promise((resolve) => (open = resolve));
    const { notes, running } = await bridge(relay, { sink });
    let ended: unknown = null;
    running.then(
      () => (ended = "resolved"),
      (error: unknown) => (ended = error),
    );
    // Bounds against a hang only.
    await waitFor(() => notes.some((n) => n.includes("all sent")), { what: "every notice sent", timeoutMs: 100_000 });
    open();
    await waitFor(() => relay.acks.at(-1) === count || ended !== null, { what: `the ack for seq ${count}`, timeoutMs: 100_000 });
    expect(ended).toBeNull();
    expect(relay.acks.at(-1)).toBe(count);
    expect(sink.seqs()).toHaveLength(count);
    expect(sink.batches).toHaveLength(1);
  }, 240_000);

  it("ignores a notice whose seq no relay could have issued: it neither hides later mail nor poisons the ack file", async () => {
    const relay = await ScriptedRelay.start((attempt) => ({
      accept: async (socket) => {
        await socket.greet(attempt === 1 ? 0 : 2);
        if (attempt === 1) for (const seq of [1, Number.MAX_SAFE_INTEGER, 2]) socket.send(notice(seq));
        else socket.send(notice(3));
      },
    }));
    cleanups.push(() => relay.stop());
    const first = await bridge(relay);
    await waitFor(() => relay.acks.at(-1) === 2, { what: "the ack for seq 2" });
    expect(first.sink.seqs()).toEqual([1, 2]);
    expect(relay.acks.every((seq) => seq <= 2)).toBe(true);
    expect(first.acks.load()).toBe(2);
    first.bridge.stop();
    await first.running;

    // Restarted on the same record: it resumes from 2 (no "relay was reset") and hears seq 3.
    const second = await bridge(relay, { stateDir: first.stateDir });
    await waitFor(() => second.sink.seqs().includes(3), { what: "seq 3 after restart" });
    expect(relay.hellos).toEqual([null, 2]);
  });

  it("drops notices read while the sink was not ready, acks them, and writes nothing for them", async () => {
    let live!: ScriptedSocket;
    const relay = await ScriptedRelay.start(() => ({
      accept: async (socket) => {
        await socket.greet();
        live = socket;
      },
    }));
    cleanups.push(() => relay.stop());
    let open!: () => void;
    const sink = new RecordingSink();
    sink.gate = new Promise((resolve) => (open = resolve));
    await bridge(relay, { sink });
    await waitFor(() => live !== undefined, { what: "hello" });
    live.send(notice(1));
    live.send(notice(2));
    live.send({ type: "read", through_seq: 2 });
    await waitFor(() => relay.acks.includes(2), { what: "the read notices acked unsent" });
    open();
    live.send(notice(3));
    await waitFor(() => relay.acks.includes(3), { what: "the ack for seq 3" });
    expect(sink.batches).toEqual([[3]]);
  });
});

/**
 * `connect` and `channel`, wired together: notices from the socket go to a sink (a tmux pane,
 * pane/pane-sink.ts; stdout, below; a channel event, channel/channel.ts); once a
 * sink says a batch landed, its highest seq is saved to disk and then acked to the relay.
 *
 * One way down: a single pump per bridge waits until the sink is ready (for a pane: Claude idle),
 * then takes everything pending as one batch, renders it once (notices.ts, where it is sanitised),
 * writes the text to the sink and acks the batch once it landed. The sink never calls back for data.
 * Because the batch is taken only after the wait, a burst that arrives while Claude is busy becomes
 * one line, and nothing is held back on purpose: the first notice goes to the sink at once. The
 * single pump is also what keeps one line at a time in the pane.
 *
 * Read mail: when the relay says the peer has read up to a seq (a `read` frame), pending notices
 * at or below it are dropped and acked unsent; if that empties what the pump was waiting to
 * deliver, nothing is written.
 */
import type { NoticeFrame, ReadFrame, WelcomeFrame } from "../../contract/frames.ts";
import type { AckStore } from "./ack-store.ts";
import { RelayConnection, type ConnectionOptions, type ConnectionState } from "./connection.ts";
import { BridgeError } from "./errors.ts";
import { noticeRecord } from "./notices.ts";
import type { PressingBoard } from "./pressing-file.ts";
import { REANNOUNCE_CHECK_MS, Reannouncer } from "./reannounce.ts";
import { clock, type StatusLine } from "./status.ts";

/** Where notices go: the pump waits for `ready()`, then hands `write` the text `render` made. */
export interface NoticeSink {
  /** Most notices one write may cover. */
  readonly maxBatch: number;
  /** Resolves once a write would go out at once. */
  ready(): Promise<void>;
  /** The text for a batch, sanitised: a pane's one line, or one JSON record. */
  render(batch: readonly NoticeFrame[]): string;
  /** Emits the text; resolves once it really landed. */
  write(text: string): Promise<void>;
}

/**
 * One JSON object per line per notice. No merging here: a line covers one seq, so a bridge killed
 * between writing a line and saving its seq repeats exactly one seq after restart.
 */
export class StdoutSink implements NoticeSink {
  readonly maxBatch = 1;
  private readonly group: string;
  private readonly out: NodeJS.WritableStream;

  constructor(group: string, out: NodeJS.WritableStream = process.stdout) {
    this.group = group;
    this.out = out;
  }

  async ready(): Promise<void> {}

  render(batch: readonly NoticeFrame[]): string {
    return JSON.stringify(noticeRecord(this.group, batch));
  }

  write(record: string): Promise<void> {
    return new Promise((resolve, reject) => {
      this.out.write(`${record}\n`, (error) =>
        error ? reject(new BridgeError(`cannot write notices to stdout (${error.message}): whatever read them has gone`)) : resolve(),
      );
    });
  }
}

/**
 * Above this a notice's seq cannot be one the relay issued (2^48 is nine years of a million
 * messages a second), so it is ignored. Accepting it would raise `highestSeen`, which then hides
 * every real notice as "already handled", and save it as the ack, which a restarted bridge would
 * resume from. Nothing tighter is checked: live notices legitimately run ahead of the welcome's
 * `latest_seq`, by however many messages the group sent meanwhile, and a notice's seq skips every
 * message that does not concern this peer, so no smaller gap is proof of a lie. (The frame schema
 * already refuses seqs that are not safe integers.) Acks never exceed a notice accepted here: the
 * pump acks what it delivered, a `read` frame acks at most `highestSeen`.
 */
const MAX_PLAUSIBLE_SEQ = 2 ** 48;

/**
 * The highest seq in a batch, 0 for none. A loop, not `Math.max(...seqs)`: spreading passes every
 * element as an argument, and a batch that piled up while Claude was busy can exceed the engine's
 * argument limit (about 100k), which throws RangeError.
 */
export function highestSeq(batch: readonly NoticeFrame[]): number {
  let highest = 0;
  for (const notice of batch) if (notice.seq > highest) highest = notice.seq;
  return highest;
}

export interface BridgeOptions {
  socketUrl: string;
  token: string;
  group: string;
  peer: string;
  sink: NoticeSink;
  acks: AckStore;
  status: StatusLine | null;
  /** Overrides for keep-alive and backoff timings (tests). */
  connection?: Partial<ConnectionOptions>;
  /** Keeps the file the PostToolUse hook reads (pressing-file.ts), when given. */
  pressing?: PressingBoard;
  /** Announces mail still unread long after its notice once more (reannounce.ts); off when absent. */
  reannounce?: { afterMs: number; checkMs?: number };
}

/** Told to the person (the status line in the sidebar) after the relay connection came back. */
export const RECONNECT_HINT =
  "the relay connection dropped and came back (a relay restart?). If Claude Code shows \"MCP server 'relay' has disconnected\", type /mcp there, pick relay, then Reconnect";

export class Bridge {
  private readonly opts: BridgeOptions;
  private readonly connection: RelayConnection;
  private pending: NoticeFrame[] = [];
  /** Highest seq saved to disk or already waiting in `pending`: anything at or below is a repeat. */
  private highestSeen: number;
  private pumping: Promise<void> | null = null;
  private failure: ((error: unknown) => void) | null = null;
  private stopped = false;
  private readonly reannouncer: Reannouncer | null;
  /** Seqs in `pending` that are a second announcement. */
  private readonly repeats = new Set<number>();
  private reannounceTimer: NodeJS.Timeout | null = null;
  /** The socket dropped after having been connected: the next connect is a comeback. */
  private dropped = false;
  private everConnected = false;

  constructor(options: BridgeOptions) {
    this.opts = options;
    this.reannouncer = options.reannounce ? new Reannouncer(options.reannounce.afterMs) : null;
    this.highestSeen = options.acks.load() ?? 0;
    this.connection = new RelayConnection({
      socketUrl: options.socketUrl,
      token: options.token,
      helloLastAcked: (welcome) => this.helloLastAcked(welcome),
      onNotice: (frame) => this.onNotice(frame),
      onState: (state) => this.onState(state),
      onErrorFrame: (frame) => options.status?.note(`relay: ${frame.message} (${frame.code})`),
      onRead: (frame) => this.onRead(frame),
      ...options.connection,
    });
  }

  /** Runs until `stop()` (resolves) or a final error: refused token, pane gone (rejects). */
  run(): Promise<void> {
    if (this.reannouncer) {
      this.reannounceTimer = setInterval(() => this.announceAgain(), this.opts.reannounce?.checkMs ?? REANNOUNCE_CHECK_MS);
      this.reannounceTimer.unref();
    }
    return new Promise((resolve, reject) => {
      this.failure = (error) => {
        this.connection.stop();
        reject(error);
      };
      this.connection.run().then(resolve, this.failure);
    });
  }

  /** Ends `run()` with `error` (e.g. the pane is gone). */
  fail(error: unknown): void {
    this.failure?.(error);
  }

  /** Stops cleanly. Notices not yet delivered stay unacked, so the relay replays them next time. */
  stop(): void {
    this.stopped = true;
    if (this.reannounceTimer) clearInterval(this.reannounceTimer);
    this.opts.pressing?.setConnected(false);
    this.connection.stop();
  }

  private helloLastAcked(welcome: WelcomeFrame): number | null {
    const saved = this.opts.acks.load();
    if (saved !== null && saved > welcome.latest_seq) {
      // Our record is newer than anything the relay has: it was started afresh (a wiped local
      // relay). Our seqs mean nothing there; let the relay use its own record instead.
      // This holds only because `latest_seq` is the highest seq the relay ever issued, which
      // never goes back: retention emptying the messages table must not read as a reset here.
      this.opts.status?.note(
        `the relay's newest seq (${welcome.latest_seq}) is older than this bridge's last ack (${saved}): the relay was reset; forgetting the local record`,
      );
      this.opts.acks.reset();
      this.highestSeen = highestSeq(this.pending);
      return null;
    }
    return saved;
  }

  private onNotice(frame: NoticeFrame): void {
    if (frame.seq > MAX_PLAUSIBLE_SEQ) {
      this.opts.status?.note(`relay: ignored a notice with seq ${frame.seq}, beyond any seq a relay issues`);
      return;
    }
    this.opts.pressing?.noticed(frame);
    if (frame.seq <= this.highestSeen) return; // replayed after a reconnect, already pending or handled
    this.highestSeen = frame.seq;
    this.pending.push(frame);
    this.pumping ??= this.pump().finally(() => {
      this.pumping = null;
    });
  }

  private onRead(frame: ReadFrame): void {
    this.opts.pressing?.read(frame);
    this.reannouncer?.read(frame);
    const before = this.pending.length;
    const readOutOfOrder = new Set(frame.seqs ?? []);
    this.pending = this.pending.filter((n) => n.seq > frame.through_seq && !readOutOfOrder.has(n.seq));
    if (this.pending.length === before) return;
    // Read mail needs no notice; acking it keeps a restarted bridge from announcing it again.
    // Everything at or below the read cursor is read, so acking up to it never skips unsent mail
    // (a seq read out of order is not acked: the relay's replay already leaves it out).
    const seq = Math.min(frame.through_seq, this.highestSeen);
    this.opts.acks.save(seq);
    this.connection.sendAck(seq);
    this.opts.status?.update({ delivery: null });
  }

  private async pump(): Promise<void> {
    try {
      const sink = this.opts.sink;
      while (this.pending.length > 0) {
        await sink.ready();
        // Taken only now: notices that came while the sink was not ready join this batch, and
        // those read meanwhile are gone (onRead); if that was all of them, nothing is written.
        const batch = this.pending.splice(0, sink.maxBatch);
        if (batch.length === 0) break;
        await sink.write(sink.render(batch));
        const again = batch.filter((n) => this.repeats.delete(n.seq));
        this.reannouncer?.delivered(again, Date.now(), true);
        this.reannouncer?.delivered(batch.filter((n) => !again.includes(n)), Date.now(), false);
        const seq = highestSeq(batch);
        // Saved before it is sent: the relay never holds an ack this bridge could forget.
        this.opts.acks.save(seq);
        this.connection.sendAck(seq);
        this.opts.status?.update({
          last: `last notice ${clock()} (${batch.length} message${batch.length === 1 ? "" : "s"})`,
        });
      }
    } catch (error) {
      if (!this.stopped) this.failure?.(error);
    }
  }

  /** Mail still unread long after its notice goes through the pump once more. */
  private announceAgain(): void {
    const due = this.reannouncer?.due(Date.now()) ?? [];
    const known = new Set(this.pending.map((n) => n.seq));
    const fresh = due.filter((n) => !known.has(n.seq));
    if (fresh.length === 0) return;
    for (const n of fresh) this.repeats.add(n.seq);
    this.pending.push(...fresh);
    this.pending.sort((a, b) => a.seq - b.seq);
    this.opts.status?.note(`announcing ${fresh.length} message${fresh.length === 1 ? "" : "s"} again: still unread ${Math.round((this.opts.reannounce?.afterMs ?? 0) / 60_000)} min after the notice`);
    this.pumping ??= this.pump().finally(() => {
      this.pumping = null;
    });
  }

  private onState(state: ConnectionState): void {
    this.opts.pressing?.setConnected(state.state === "connected");
    if (state.state === "retrying" && this.everConnected) this.dropped = true;
    if (state.state === "connected") {
      // The socket came back after a drop: most often the relay restarted. Claude Code may have
      // lost the relay's tools then, and only the person can bring them back.
      if (this.dropped) this.opts.status?.note(RECONNECT_HINT);
      this.dropped = false;
      this.everConnected = true;
    }
    const status = this.opts.status;
    if (!status) return;
    switch (state.state) {
      case "connecting":
        status.update({ connection: state.attempt === 0 ? "connecting" : "reconnecting" });
        break;
      case "connected":
        status.update({ connection: "connected" });
        break;
      case "retrying":
        status.update({ connection: `retrying in ${Math.max(1, Math.round(state.delayMs / 1000))} s (${state.reason})` });
        break;
    }
  }
}

/**
 * The bridge side of the group's sockets: the protocol in contract/frames.ts. A bridge is welcomed,
 * says hello once and is replayed the notices it missed, then hears live notices (no text) and
 * acks them; it is told when mail was read elsewhere, so it drops notices not yet shown.
 *
 * A replay reads only a notice's columns and stops at REPLAY_MAX_NOTICES, and a socket that stops
 * acknowledging hears nothing more until it acks: one slow bridge never costs the rest.
 */
import { ClientFrame, CLOSE_CODES, type HelloFrame, type NoticeFrame, type ReadFrame } from "../../../contract/frames.ts";
import { MAX_BAD_FRAMES, MAX_CLIENT_FRAME_BYTES, REPLAY_MAX_NOTICES } from "../../../contract/limits.ts";
import type { Caller, Message } from "../types.ts";
import { hears, type Listener } from "../audience.ts";
import type { NoticeFacts } from "../rows.ts";
import type { FrameBudgets } from "./budget.ts";
import { closeQuietly, sendFrame, sendText } from "./wire.ts";

/** Kept on each bridge socket; survives hibernation (the object's memory does not). */
export interface BridgeAttachment {
  peer: string;
  iat: number;
  /** The token's expiry (epoch ms), if any: the socket is closed once it passes. */
  exp?: number;
  connectedAt: number;
  lastFrameAt: number;
  /** False until the hello has been answered with a replay; live notices wait for it. */
  ready: boolean;
  badFrames: number;
}

/** What the bridge protocol needs to know about the group, answered by the object. */
export interface BridgeGroup {
  latestSeq(): number;
  /** The peer's read cursor and the highest seq a bridge of its acked, or undefined if unknown. */
  cursors(peer: string): { read_cursor: number; acked_seq: number } | undefined;
  noticesAfter(listener: Listener, after: number, limit: number): NoticeFacts[];
  setAcked(peer: string, seq: number): void;
  listener(peer: string): Listener;
  /** Closes the socket if its token was revoked or has expired; says whether it did. */
  closeIfInvalid(ws: WebSocket, attachment: { peer: string; iat: number; exp?: number }, now: number): boolean;
}

const REPLAY_PAGE = 200;

/** How long an ack may wait to be written with the others (see recordAck). */
const ACK_WRITE_DELAY_MS = 250;

/**
 * A bridge's frame: an ack (nearly every frame a bridge sends, one per batch of notices) is
 * recognised by hand, anything else is checked against the protocol's schema. Both accept the
 * same acks: a whole, non-negative, safe-integer seq; other members are ignored.
 */
function clientFrame(data: string): ClientFrame | null {
  let json: unknown;
  try {
    json = JSON.parse(data);
  } catch {
    return null;
  }
  const ack = json as { type?: unknown; seq?: unknown } | null;
  if (typeof ack === "object" && ack !== null && ack.type === "ack" && Number.isSafeInteger(ack.seq) && (ack.seq as number) >= 0) {
    return { type: "ack", seq: ack.seq as number };
  }
  const parsed = ClientFrame.safeParse(json);
  return parsed.success ? parsed.data : null;
}

function noticeFrame(m: NoticeFacts | Message): NoticeFrame {
  return { type: "notice", seq: m.seq, id: m.id, from: m.from, kind: m.kind, urgent: m.urgent };
}

export class BridgeSockets {
  private readonly ctx: DurableObjectState;
  private readonly group: BridgeGroup;
  private readonly budgets: FrameBudgets;
  /**
   * A seq the group is known to have issued: seqs only grow and are never reused, so an ack at or
   * below it is for a real notice without asking SQLite. Above it, SQLite is asked.
   */
  private issuedThrough = 0;
  /** The highest ack each peer's bridges sent: an ack that does not pass it changes nothing. */
  private readonly ackedAtLeast = new Map<string, number>();
  /** Acks not yet written to the peers' rows, and the write that will take them all. */
  private readonly unwrittenAcks = new Map<string, number>();
  private ackWrite: ReturnType<typeof setTimeout> | null = null;

  constructor(ctx: DurableObjectState, group: BridgeGroup, budgets: FrameBudgets) {
    this.ctx = ctx;
    this.group = group;
    this.budgets = budgets;
  }

  /** Accepts an upgrade already checked by the hub, and sends the welcome. */
  accept(caller: Caller, now: number): Response {
    const { 0: client, 1: server } = new WebSocketPair();
    const attachment: BridgeAttachment = { peer: caller.peer, iat: caller.iat, connectedAt: now, lastFrameAt: now, ready: false, badFrames: 0 };
    if (caller.exp !== undefined) attachment.exp = caller.exp;
    // The tag lets getWebSockets(peer) find this peer's bridges after hibernation.
    this.ctx.acceptWebSocket(server, [caller.peer]);
    server.serializeAttachment(attachment);
    sendFrame(server, { type: "welcome", group: caller.group, peer: caller.peer, latest_seq: this.group.latestSeq() });
    return new Response(null, { status: 101, webSocket: client });
  }

  /** Tells every ready bridge that hears about `message`. */
  notify(message: Message): void {
    if (message.seq > this.issuedThrough) this.issuedThrough = message.seq;
    const frame = JSON.stringify(noticeFrame(message));
    const sockets = message.to !== null ? this.ctx.getWebSockets(message.to) : this.ctx.getWebSockets();
    const now = Date.now();
    for (const ws of sockets) {
      const attachment = ws.deserializeAttachment() as BridgeAttachment | { kind: "web" } | null;
      if (!attachment || !("ready" in attachment) || !attachment.ready || this.group.closeIfInvalid(ws, attachment, now)) continue;
      if (!hears(this.group.listener(attachment.peer), message)) continue;
      // A socket that stopped acknowledging is not read by anyone: stop queueing for it. Its
      // bridge's notice already says "call read_new_messages", which finds all of the mail.
      if (this.budgets.saturated(ws, now)) continue;
      this.budgets.owe(ws, 1, now);
      sendText(ws, frame);
    }
  }

  /** Tells the peer's ready bridges that mail was read, so they drop notices not yet shown. */
  announceRead(peer: string, frame: ReadFrame): void {
    const text = JSON.stringify(frame);
    for (const ws of this.ctx.getWebSockets(peer)) {
      if ((ws.deserializeAttachment() as BridgeAttachment | null)?.ready) sendText(ws, text);
    }
  }

  /** A frame from a bridge, already paid for out of its budget. */
  onFrame(ws: WebSocket, attachment: BridgeAttachment, data: string | ArrayBuffer, now: number): void {
    const size = typeof data === "string" ? data.length : data.byteLength;
    const frame = typeof data === "string" && size <= MAX_CLIENT_FRAME_BYTES ? clientFrame(data) : null;
    if (!frame) {
      this.refuseFrame(
        ws,
        attachment,
        "bad_frame",
        `Expected a JSON text frame of at most ${MAX_CLIENT_FRAME_BYTES} bytes: {"type":"hello","last_acked":N|null} or {"type":"ack","seq":N}.`,
      );
      return;
    }
    let changed = now - attachment.lastFrameAt > 1_000;
    attachment.lastFrameAt = now;
    if (frame.type === "hello") {
      if (attachment.ready) {
        closeQuietly(ws, CLOSE_CODES.protocolError, "one hello per connection: reconnect to replay again");
        return;
      }
      this.replay(ws, attachment.peer, frame);
      attachment.ready = true;
      changed = true;
    } else {
      // An ack for a seq the group never issued would move acked_seq past mail that does not
      // exist yet, and a later `hello` with last_acked null would then skip real notices.
      if (frame.seq > this.issuedThrough) this.issuedThrough = this.group.latestSeq();
      if (frame.seq > this.issuedThrough) {
        this.refuseFrame(ws, attachment, "bad_ack", `Ack for seq ${frame.seq}, which this relay never notified you of: ack only seqs from notices.`);
        return;
      }
      this.budgets.acked(ws, now);
      this.recordAck(attachment.peer, frame.seq);
    }
    if (changed) ws.serializeAttachment(attachment);
  }

  /**
   * Moves the peer's acked_seq up to `seq` (it only ever moves up, so a lower ack changes nothing).
   * Every listening bridge acks every notice, so writing each ack would be a write per listener per
   * message: acks are written together ACK_WRITE_DELAY_MS after the first, and at once before a
   * replay reads them. The row matters only to a bridge that reconnects without its own last ack;
   * if the object goes away before the write, that bridge is replayed a few notices again.
   */
  private recordAck(peer: string, seq: number): void {
    if (seq <= (this.ackedAtLeast.get(peer) ?? -1)) return;
    this.ackedAtLeast.set(peer, seq);
    this.unwrittenAcks.set(peer, seq);
    this.ackWrite ??= setTimeout(() => this.writeAcks(), ACK_WRITE_DELAY_MS);
  }

  private writeAcks(): void {
    if (this.ackWrite !== null) clearTimeout(this.ackWrite);
    this.ackWrite = null;
    for (const [peer, seq] of this.unwrittenAcks) this.group.setAcked(peer, seq);
    this.unwrittenAcks.clear();
  }

  /**
   * Notices for the mail the peer has not been told about: after the bridge's last ack (or the
   * peer's, when the bridge has no record), or after the read cursor, whichever is newer, since
   * mail already read needs no notice. Read a page at a time, notice columns only.
   */
  private replay(ws: WebSocket, peer: string, hello: HelloFrame): void {
    this.writeAcks();
    const row = this.group.cursors(peer);
    if (!row) return;
    const after = Math.max(hello.last_acked ?? row.acked_seq, row.read_cursor);
    const listener = this.group.listener(peer);
    let sent = 0;
    let cursor = after;
    while (sent < REPLAY_MAX_NOTICES) {
      const page = this.group.noticesAfter(listener, cursor, Math.min(REPLAY_PAGE, REPLAY_MAX_NOTICES - sent));
      for (const facts of page) sendFrame(ws, noticeFrame(facts));
      sent += page.length;
      if (page.length < REPLAY_PAGE) break;
      cursor = page.at(-1)!.seq;
    }
    this.budgets.owe(ws, sent, Date.now());
    sendFrame(ws, { type: "replay_done", after_seq: after, through_seq: this.group.latestSeq() });
  }

  private refuseFrame(ws: WebSocket, attachment: BridgeAttachment, code: string, message: string): void {
    attachment.badFrames++;
    ws.serializeAttachment(attachment);
    sendFrame(ws, { type: "error", code, message });
    if (attachment.badFrames >= MAX_BAD_FRAMES) closeQuietly(ws, CLOSE_CODES.protocolError, "too many malformed frames");
  }
}

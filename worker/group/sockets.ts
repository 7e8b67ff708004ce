/**
 * The group's hibernatable WebSockets: bridges (and later other live clients) that hear about new
 * mail. This module owns the socket protocol (contract/frames.ts): the welcome, the hello and its
 * replay, acks, live notices, read frames, and closing sockets whose token was revoked or expired.
 *
 * Hibernation: the object may be evicted from memory while sockets stay open, and the constructor
 * runs again on the next frame. Whatever must survive lives in each socket's serialized attachment
 * (who it is, whether its hello was answered); the frame budget and the unacked count live in
 * memory and simply start afresh after a wake-up, which only ever makes them more lenient.
 *
 * Limits (contract/limits.ts) keep one peer's sockets from costing the rest of the group: a cap on
 * open sockets and on how fast they are opened, one hello per socket, a frame budget per socket, a
 * replay that reads only a notice's columns and stops at REPLAY_MAX_NOTICES, and no more notices to
 * a socket that has stopped acknowledging them.
 */
import {
  ClientFrame,
  CLOSE_CODES,
  type HelloFrame,
  type NoticeFrame,
  parseFrame,
  type ReadFrame,
  type ServerFrame,
} from "../../contract/frames.ts";
import {
  MAX_BAD_FRAMES,
  MAX_CLIENT_FRAME_BYTES,
  MAX_SOCKET_OPENS_PER_WINDOW,
  MAX_SOCKETS_PER_PEER,
  MAX_UNACKED_NOTICES,
  REPLAY_MAX_NOTICES,
  SOCKET_FRAME_BURST,
  SOCKET_FRAMES_PER_SECOND,
  SOCKET_OPEN_WINDOW_MS,
  STALE_SOCKET_MS,
} from "../../contract/limits.ts";
import type { Caller, Message } from "../types.ts";
import { hears, type Listener } from "./audience.ts";
import type { NoticeFacts, GroupStore } from "./store.ts";
import { SlidingWindow } from "./throttle.ts";

/** Kept on each socket; survives hibernation (the object's memory does not). */
interface SocketAttachment {
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

/** Per-socket counters that need not survive hibernation. */
interface SocketBudget {
  tokens: number;
  refilledAt: number;
  unacked: number;
}

/** What the hub needs to know about the group, answered by the object. */
export interface SocketPolicy {
  /** Why this socket's token is no longer good, or null. */
  invalidReason(attachment: { peer: string; iat: number; exp?: number }, now: number): "revoked" | "expired" | null;
  listener(peer: string): Listener;
}

const REPLAY_PAGE = 200;

function noticeFrame(m: NoticeFacts | Message): NoticeFrame {
  return { type: "notice", seq: m.seq, id: m.id, from: m.from, kind: m.kind, urgent: m.urgent };
}

function attachmentOf(ws: WebSocket): SocketAttachment | null {
  return ws.deserializeAttachment() as SocketAttachment | null;
}

/**
 * Closes a socket without throwing, whatever state it is in. `code` may be one the peer sent us:
 * 1005 ("no code given") and 1006 ("closed abnormally") are reserved and may never be sent in a
 * close frame, so they are answered with 1000; and after a 1006 there is no transport left to
 * send anything on, so nothing is sent at all.
 */
export function closeQuietly(ws: WebSocket, code: number, reason: string): void {
  if (code === 1006 || ws.readyState === WebSocket.CLOSED) return;
  try {
    ws.close(code === 1005 ? 1000 : code, reason);
  } catch {
    // Closed in the meantime: nothing left to do.
  }
}

function sendFrame(ws: WebSocket, frame: ServerFrame): void {
  sendText(ws, JSON.stringify(frame));
}

function sendText(ws: WebSocket, text: string): void {
  try {
    ws.send(text);
  } catch {
    // A socket that is closing cannot be written to; its bridge replays on reconnect.
  }
}

export class SocketHub {
  private readonly ctx: DurableObjectState;
  private readonly store: GroupStore;
  private readonly policy: SocketPolicy;
  private readonly budgets = new WeakMap<WebSocket, SocketBudget>();
  private readonly opens = new SlidingWindow(MAX_SOCKET_OPENS_PER_WINDOW, SOCKET_OPEN_WINDOW_MS);

  constructor(ctx: DurableObjectState, store: GroupStore, policy: SocketPolicy) {
    this.ctx = ctx;
    this.store = store;
    this.policy = policy;
  }

  /**
   * Why this peer may not open another socket now, or null, given the `sockets` of that kind it
   * already holds (bridges, or pages). Checked before anything is stored, so a refused upgrade
   * costs the group almost nothing.
   */
  refusal(peer: string, sockets: WebSocket[], now: number): string | null {
    const open = sockets.filter((ws) => {
      if (now - this.lastActivity(ws) < STALE_SOCKET_MS) return true;
      closeQuietly(ws, CLOSE_CODES.stale, "no keep-alive; reconnect");
      return false;
    });
    if (open.length >= MAX_SOCKETS_PER_PEER) {
      return `Peer '${peer}' already has ${open.length} open sockets, the most one peer may hold. Stop a bridge or close a tab you no longer use; sockets that went quiet are dropped after ${STALE_SOCKET_MS / 1000} s.`;
    }
    if (!this.opens.allow(peer, now)) {
      return `Peer '${peer}' opened more than ${MAX_SOCKET_OPENS_PER_WINDOW} sockets in ${SOCKET_OPEN_WINDOW_MS / 1000} s. Wait a few seconds before reconnecting.`;
    }
    return null;
  }

  /** Accepts an upgrade already checked by `refusal`, and sends the welcome. */
  accept(caller: Caller, now: number): Response {
    const { 0: client, 1: server } = new WebSocketPair();
    const attachment: SocketAttachment = { peer: caller.peer, iat: caller.iat, connectedAt: now, lastFrameAt: now, ready: false, badFrames: 0 };
    if (caller.exp !== undefined) attachment.exp = caller.exp;
    // The tag lets getWebSockets(peer) find this peer's sockets after hibernation.
    this.ctx.acceptWebSocket(server, [caller.peer]);
    server.serializeAttachment(attachment);
    sendFrame(server, { type: "welcome", group: caller.group, peer: caller.peer, latest_seq: this.store.latestSeq() });
    return new Response(null, { status: 101, webSocket: client });
  }

  /** Tells every ready socket that hears about `message`. */
  notify(message: Message): void {
    const frame = JSON.stringify(noticeFrame(message));
    const sockets = message.to !== null ? this.ctx.getWebSockets(message.to) : this.ctx.getWebSockets();
    const now = Date.now();
    for (const ws of sockets) {
      const attachment = attachmentOf(ws);
      if (!attachment?.ready || this.closeIfInvalid(ws, attachment, now)) continue;
      if (!hears(this.policy.listener(attachment.peer), message)) continue;
      const budget = this.budget(ws, now);
      // A socket that stopped acknowledging is not read by anyone: stop queueing for it. Its
      // bridge's notice already says "call read_new_messages", which finds all of the mail.
      if (budget.unacked >= MAX_UNACKED_NOTICES) continue;
      this.owe(budget, 1);
      sendText(ws, frame);
    }
  }

  /** Tells the peer's ready sockets that mail was read, so they drop notices not yet shown. */
  announceRead(peer: string, frame: ReadFrame): void {
    const text = JSON.stringify(frame);
    for (const ws of this.ctx.getWebSockets(peer)) {
      if (attachmentOf(ws)?.ready) sendText(ws, text);
    }
  }

  async onMessage(ws: WebSocket, data: string | ArrayBuffer): Promise<void> {
    const attachment = attachmentOf(ws);
    if (!attachment) return;
    const now = Date.now();
    if (!this.spend(ws, now)) {
      closeQuietly(ws, CLOSE_CODES.tooManyFrames, `more than ${SOCKET_FRAMES_PER_SECOND} frames/s`);
      return;
    }
    if (this.closeIfInvalid(ws, attachment, now)) return;
    const size = typeof data === "string" ? data.length : data.byteLength;
    const frame = typeof data === "string" && size <= MAX_CLIENT_FRAME_BYTES ? parseFrame(ClientFrame, data) : null;
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
      if (frame.seq > this.store.latestSeq()) {
        this.refuseFrame(ws, attachment, "bad_ack", `Ack for seq ${frame.seq}, which this relay never notified you of: ack only seqs from notices.`);
        return;
      }
      this.budget(ws, now).unacked = 0;
      this.store.setAcked(attachment.peer, frame.seq);
    }
    if (changed) ws.serializeAttachment(attachment);
  }

  onClose(ws: WebSocket, code: number, reason: string): void {
    // Reciprocate the close, or the client sits in CLOSING and ends up reporting 1006.
    closeQuietly(ws, code, reason);
  }

  onError(ws: WebSocket): void {
    closeQuietly(ws, 1011, "socket error");
  }

  /** Closes the sockets of `peer` whose tokens were issued before `before`; returns how many. */
  closeRevoked(peer: string, before: number): number {
    let closed = 0;
    for (const ws of this.ctx.getWebSockets(peer)) {
      const attachment = attachmentOf(ws);
      if (attachment && attachment.iat < before) {
        this.closeFor(ws, "revoked");
        closed++;
      }
    }
    return closed;
  }

  isOnline(peer: string, now: number): boolean {
    return this.ctx.getWebSockets(peer).some((ws) => ws.readyState === WebSocket.OPEN && now - this.lastActivity(ws) < STALE_SOCKET_MS);
  }

  /**
   * Closes sockets whose token lapsed and sockets that went quiet (workerd can keep a socket OPEN
   * after its client vanished). Returns whether any socket remains.
   */
  sweep(now: number): boolean {
    const sockets = this.ctx.getWebSockets();
    for (const ws of sockets) {
      const attachment = attachmentOf(ws);
      if (attachment && this.closeIfInvalid(ws, attachment, now)) continue;
      if (now - this.lastActivity(ws) >= STALE_SOCKET_MS) closeQuietly(ws, CLOSE_CODES.stale, "no keep-alive; reconnect");
    }
    return sockets.length > 0;
  }

  /**
   * Notices for the mail the peer has not been told about: after the bridge's last ack (or the
   * peer's, when the bridge has no record), or after the read cursor, whichever is newer, since
   * mail already read needs no notice. Read a page at a time, notice columns only.
   */
  private replay(ws: WebSocket, peer: string, hello: HelloFrame): void {
    const row = this.store.peer(peer);
    if (!row) return;
    const after = Math.max(hello.last_acked ?? row.acked_seq, row.read_cursor);
    const listener = this.policy.listener(peer);
    let sent = 0;
    let cursor = after;
    while (sent < REPLAY_MAX_NOTICES) {
      const page = this.store.noticesAfter(listener, cursor, Math.min(REPLAY_PAGE, REPLAY_MAX_NOTICES - sent));
      for (const facts of page) sendFrame(ws, noticeFrame(facts));
      sent += page.length;
      if (page.length < REPLAY_PAGE) break;
      cursor = page.at(-1)!.seq;
    }
    this.owe(this.budget(ws, Date.now()), sent);
    sendFrame(ws, { type: "replay_done", after_seq: after, through_seq: this.store.latestSeq() });
  }

  private refuseFrame(ws: WebSocket, attachment: SocketAttachment, code: string, message: string): void {
    attachment.badFrames++;
    ws.serializeAttachment(attachment);
    sendFrame(ws, { type: "error", code, message });
    if (attachment.badFrames >= MAX_BAD_FRAMES) closeQuietly(ws, CLOSE_CODES.protocolError, "too many malformed frames");
  }

  /** Closes a socket whose token was revoked or has expired since it connected. */
  private closeIfInvalid(ws: WebSocket, attachment: SocketAttachment, now: number): boolean {
    const reason = this.policy.invalidReason(attachment, now);
    if (!reason) return false;
    this.closeFor(ws, reason);
    return true;
  }

  private closeFor(ws: WebSocket, reason: "revoked" | "expired"): void {
    sendFrame(ws, { type: "error", code: reason, message: `This token ${reason === "revoked" ? "was revoked" : "has expired"}. Ask your team for a new one.` });
    closeQuietly(ws, CLOSE_CODES.revoked, `token ${reason}`);
  }

  private lastActivity(ws: WebSocket): number {
    const attachment = attachmentOf(ws);
    const pong = this.ctx.getWebSocketAutoResponseTimestamp(ws)?.getTime() ?? 0;
    return Math.max(pong, attachment?.lastFrameAt ?? 0, attachment?.connectedAt ?? 0);
  }

  private budget(ws: WebSocket, now: number): SocketBudget {
    let budget = this.budgets.get(ws);
    if (!budget) {
      budget = { tokens: SOCKET_FRAME_BURST, refilledAt: now, unacked: 0 };
      this.budgets.set(ws, budget);
    }
    return budget;
  }

  /**
   * A notice sent is an ack owed: each one adds a frame to the socket's budget, so a bridge that
   * acks every notice (as `--stdout` does) is never cut off however busy the group is.
   */
  private owe(budget: SocketBudget, notices: number): void {
    budget.unacked += notices;
    budget.tokens = Math.min(budget.tokens + notices, SOCKET_FRAME_BURST + MAX_UNACKED_NOTICES);
  }

  /** Token bucket: SOCKET_FRAME_BURST at once, SOCKET_FRAMES_PER_SECOND after, plus acks owed. */
  private spend(ws: WebSocket, now: number): boolean {
    const budget = this.budget(ws, now);
    const refill = ((now - budget.refilledAt) / 1000) * SOCKET_FRAMES_PER_SECOND;
    budget.tokens = Math.max(budget.tokens, Math.min(SOCKET_FRAME_BURST, budget.tokens + refill));
    budget.refilledAt = now;
    if (budget.tokens < 1) return false;
    budget.tokens--;
    return true;
  }
}

/**
 * The group's one hibernation module: every WebSocket the object holds, bridge or page, is
 * accepted, budgeted, swept and closed here. Bridges speak the notice protocol (bridges.ts); pages
 * hear the room's frames (pages.ts).
 *
 * Hibernation: the object may be evicted from memory while sockets stay open, and the constructor
 * runs again on the next frame. Whatever must survive lives in each socket's serialized attachment
 * (who it is, whether its hello was answered); the frame budgets live in memory (budget.ts).
 *
 * Limits (contract/limits.ts) keep one peer's sockets from costing the rest of the group: a cap on
 * open sockets and on how fast they are opened, and a frame budget per socket that every frame,
 * from a bridge or a page, is paid out of before anything else is done with it. A socket that
 * floods is closed with CLOSE_CODES.tooManyFrames and a reason that says so.
 */
import { CLOSE_CODES } from "../../../contract/frames.ts";
import { MAX_SOCKET_OPENS_PER_WINDOW, MAX_SOCKETS_PER_PEER, SOCKET_FRAMES_PER_SECOND, SOCKET_OPEN_WINDOW_MS, STALE_SOCKET_MS } from "../../../contract/limits.ts";
import type { Caller } from "../types.ts";
import { SlidingWindow } from "../throttle.ts";
import { type BridgeAttachment, type BridgeGroup, BridgeSockets } from "./bridges.ts";
import { FrameBudgets } from "./budget.ts";
import { isPageAttachment, type PageAttachment, PageSockets } from "./pages.ts";
import { closeQuietly, sendFrame } from "./wire.ts";

type Attachment = BridgeAttachment | PageAttachment;

/** What the hub needs to know about the group, answered by the object. */
export interface SocketGroup extends Omit<BridgeGroup, "closeIfInvalid"> {
  /** Why this socket's token is no longer good, or null. */
  invalidReason(attachment: { peer: string; iat: number; exp?: number }, now: number): "revoked" | "expired" | null;
}

export class SocketHub {
  readonly bridges: BridgeSockets;
  readonly pages: PageSockets;
  private readonly ctx: DurableObjectState;
  private readonly group: SocketGroup;
  private readonly budgets = new FrameBudgets();
  private readonly opens = new SlidingWindow(MAX_SOCKET_OPENS_PER_WINDOW, SOCKET_OPEN_WINDOW_MS);

  constructor(ctx: DurableObjectState, group: SocketGroup) {
    this.ctx = ctx;
    this.group = group;
    this.bridges = new BridgeSockets(ctx, { ...group, closeIfInvalid: (ws, attachment, now) => this.closeIfInvalid(ws, attachment, now) }, this.budgets);
    this.pages = new PageSockets(ctx);
  }

  /**
   * Why this peer may not open another socket of this kind (bridge or page) now, or null. Checked
   * before anything is stored, so a refused upgrade costs the group almost nothing.
   */
  refusal(peer: string, page: boolean, now: number): string | null {
    const open = (page ? this.pages.of(peer) : this.ctx.getWebSockets(peer)).filter((ws) => {
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

  /** Accepts an upgrade already checked by `refusal`. A new bridge changes who is online: pages hear it. */
  accept(caller: Caller, page: boolean, now: number): Response {
    // A page counts as presence too (the person looking at the room is online): the pages already
    // open hear of both; a new page draws the peers itself.
    if (page) {
      this.pages.pushToAll({ type: "presence" });
      return this.pages.accept(caller, now);
    }
    const response = this.bridges.accept(caller, now);
    this.pages.pushToAll({ type: "presence" });
    return response;
  }

  async onMessage(ws: WebSocket, data: string | ArrayBuffer): Promise<void> {
    const attachment = ws.deserializeAttachment() as Attachment | null;
    if (!attachment || ws.readyState !== WebSocket.OPEN) return;
    const now = Date.now();
    // Paid for first, whoever sent it: a page that floods is closed like a bridge that floods,
    // before its frames cost the group anything more than this check.
    if (!this.budgets.spend(ws, now)) {
      closeQuietly(ws, CLOSE_CODES.tooManyFrames, `more than ${SOCKET_FRAMES_PER_SECOND} frames/s: reconnect later and send only the keep-alive and acks`);
      return;
    }
    if (this.closeIfInvalid(ws, attachment, now)) return;
    // A page has nothing to say but the keep-alive, which the runtime answers; the rest is dropped.
    if (isPageAttachment(attachment)) return;
    this.bridges.onFrame(ws, attachment, data, now);
  }

  onClose(ws: WebSocket, code: number, reason: string): void {
    // Reciprocate the close, or the client sits in CLOSING and ends up reporting 1006.
    closeQuietly(ws, code, reason);
    this.pages.pushToAll({ type: "presence" });
  }

  onError(ws: WebSocket): void {
    closeQuietly(ws, 1011, "socket error");
  }

  /** Closes the sockets, bridges and pages, of `peer` whose tokens were issued before `before`; returns how many. */
  closeRevoked(peer: string, before: number): number {
    let closed = 0;
    for (const ws of this.ctx.getWebSockets(peer)) {
      const attachment = ws.deserializeAttachment() as BridgeAttachment | null;
      if (attachment && attachment.iat < before) {
        this.closeFor(ws, "revoked");
        closed++;
      }
    }
    return closed + this.pages.closeRevoked(peer, before);
  }

  /** Whether one of the peer's bridges is connected and alive (pages do not count). */
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
      const attachment = ws.deserializeAttachment() as Attachment | null;
      if (attachment && this.closeIfInvalid(ws, attachment, now)) continue;
      if (now - this.lastActivity(ws) >= STALE_SOCKET_MS) closeQuietly(ws, CLOSE_CODES.stale, "no keep-alive; reconnect");
    }
    return sockets.length > 0;
  }

  /** Closes a socket whose token was revoked or has expired since it connected. */
  private closeIfInvalid(ws: WebSocket, attachment: { peer: string; iat: number; exp?: number }, now: number): boolean {
    const reason = this.group.invalidReason(attachment, now);
    if (!reason) return false;
    this.closeFor(ws, reason);
    return true;
  }

  private closeFor(ws: WebSocket, reason: "revoked" | "expired"): void {
    sendFrame(ws, { type: "error", code: reason, message: `This token ${reason === "revoked" ? "was revoked" : "has expired"}. Ask your team for a new one.` });
    closeQuietly(ws, CLOSE_CODES.revoked, `token ${reason}`);
  }

  private lastActivity(ws: WebSocket): number {
    const attachment = ws.deserializeAttachment() as Attachment | null;
    const pong = this.ctx.getWebSocketAutoResponseTimestamp(ws)?.getTime() ?? 0;
    return Math.max(pong, attachment?.lastFrameAt ?? 0, attachment?.connectedAt ?? 0);
  }
}

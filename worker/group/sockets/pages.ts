/**
 * The page side of the group's sockets: the web room's live socket. Bridge sockets are tagged with
 * the peer's name and hear notices without text; page sockets are tagged "web" and "web:<peer>",
 * so no bridge code path (getWebSockets(peer)) ever finds them, and they hear whole messages the
 * viewer may see. A page sends nothing but the keep-alive `ping`, which the runtime answers
 * without waking the object; anything else it sends is paid for out of the same frame budget as a
 * bridge's frames (hub.ts) and otherwise ignored.
 */
import { CLOSE_CODES } from "../../../contract/frames.ts";
import type { Caller } from "../types.ts";
import { sees } from "../audience.ts";
import type { RoomFrame, RoomMessage } from "../room-frames.ts";
import { closeQuietly, sendText } from "./wire.ts";

const PAGE_TAG = "web";

/** Kept on each page socket; the fields the alarm's expiry/revocation sweep reads match a bridge's. */
export interface PageAttachment {
  kind: "web";
  peer: string;
  iat: number;
  exp?: number;
  observer: boolean;
  connectedAt: number;
  lastFrameAt: number;
}

export function isPageAttachment(attachment: unknown): attachment is PageAttachment {
  return typeof attachment === "object" && attachment !== null && (attachment as { kind?: unknown }).kind === "web";
}

export class PageSockets {
  private readonly ctx: DurableObjectState;

  constructor(ctx: DurableObjectState) {
    this.ctx = ctx;
  }

  /** The page sockets `peer` holds open. */
  of(peer: string): WebSocket[] {
    return this.ctx.getWebSockets(`${PAGE_TAG}:${peer}`);
  }

  accept(caller: Caller, now: number): Response {
    const { 0: client, 1: server } = new WebSocketPair();
    const attachment: PageAttachment = { kind: "web", peer: caller.peer, iat: caller.iat, observer: caller.role === "observer", connectedAt: now, lastFrameAt: now };
    if (caller.exp !== undefined) attachment.exp = caller.exp;
    const tags = [PAGE_TAG, `${PAGE_TAG}:${caller.peer}`];
    // Signing out of a page session closes exactly the sockets opened with it.
    if (caller.session) tags.push(`${PAGE_TAG}-session:${caller.session}`);
    this.ctx.acceptWebSocket(server, tags);
    server.serializeAttachment(attachment);
    return new Response(null, { status: 101, webSocket: client });
  }

  /** A new message, text included, to every page whose viewer may see it. */
  pushMessage(message: RoomMessage): void {
    const text = JSON.stringify({ type: "message", message } satisfies RoomFrame);
    const now = Date.now();
    for (const ws of this.ctx.getWebSockets(PAGE_TAG)) {
      const attachment = ws.deserializeAttachment() as PageAttachment;
      if (attachment.exp !== undefined && attachment.exp <= now) {
        signOut(ws, "Your session has ended. Sign in again with your link.", "session ended");
        continue;
      }
      if (sees({ peer: attachment.peer, observer: attachment.observer }, message)) sendText(ws, text);
    }
  }

  /** A frame every page hears alike (board changes, pause, presence). */
  pushToAll(frame: RoomFrame): void {
    const text = JSON.stringify(frame);
    for (const ws of this.ctx.getWebSockets(PAGE_TAG)) sendText(ws, text);
  }

  /** Signs out the pages opened with page session `session`; returns how many. */
  closeSession(session: string): number {
    const sockets = this.ctx.getWebSockets(`${PAGE_TAG}-session:${session}`);
    for (const ws of sockets) signOut(ws, "You signed out. Sign in again with your link.", "signed out");
    return sockets.length;
  }

  /** Signs out the pages of `peer` whose token was issued before `before`; returns how many. */
  closeRevoked(peer: string, before: number): number {
    let closed = 0;
    for (const ws of this.of(peer)) {
      if ((ws.deserializeAttachment() as PageAttachment).iat >= before) continue;
      signOut(ws, "This token was revoked. Ask your team for a new sign-in link.", "token revoked");
      closed++;
    }
    return closed;
  }
}

function signOut(ws: WebSocket, message: string, reason: string): void {
  sendText(ws, JSON.stringify({ type: "signed_out", message } satisfies RoomFrame));
  closeQuietly(ws, CLOSE_CODES.revoked, reason);
}

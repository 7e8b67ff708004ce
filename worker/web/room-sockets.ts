/**
 * The group object's side of the page's live socket. Bridge sockets are tagged with the peer's
 * name and hear notices without text; page sockets are tagged "web" and "web:<peer>", so no bridge
 * code path (getWebSockets(peer)) ever finds them, and they hear whole messages the viewer may see.
 * The page sends nothing but the keep-alive `ping`, which the runtime answers without waking us.
 */
import { CLOSE_CODES } from "../../contract/frames.ts";
import type { Role } from "../../contract/token.ts";
import { sees } from "../group/audience.ts";
import type { RoomFrame, RoomMessage } from "./frames.ts";

/** Set by the Worker on the upgrade it forwards for a page (never by a bridge). */
export const WEB_SOCKET_HEADER = "X-Relay-Web";
/** The verified token role, forwarded with a page's upgrade; stripped from any other request. */
export const FORWARDED_ROLE_HEADER = "X-Relay-Role";
/** The page session's id, forwarded with a page's upgrade (honoured only with WEB_SOCKET_HEADER). */
export const SESSION_HEADER = "X-Relay-Session";
const WEB_TAG = "web";

/** Kept on each page socket; the fields the alarm's expiry/revocation sweep reads match a bridge's. */
export interface WebAttachment {
  kind: "web";
  peer: string;
  iat: number;
  exp?: number;
  observer: boolean;
  connectedAt: number;
  lastFrameAt: number;
}

export function isWebAttachment(attachment: unknown): attachment is WebAttachment {
  return typeof attachment === "object" && attachment !== null && (attachment as { kind?: unknown }).kind === "web";
}

/** The page sockets `peer` holds open. */
export function webSocketsOf(ctx: DurableObjectState, peer: string): WebSocket[] {
  return ctx.getWebSockets(`${WEB_TAG}:${peer}`);
}

export function isWebUpgrade(request: Request): boolean {
  return request.headers.get(WEB_SOCKET_HEADER) === "1";
}

/** The page sockets opened with one page session, which signing out of it closes. */
export function webSocketsOfSession(ctx: DurableObjectState, session: string): WebSocket[] {
  return ctx.getWebSockets(`${WEB_TAG}-session:${session}`);
}

export function acceptWebSocket(ctx: DurableObjectState, caller: { peer: string; iat: number; exp?: number; role?: Role; session?: string }, now: number): Response {
  const { 0: client, 1: server } = new WebSocketPair();
  const attachment: WebAttachment = { kind: "web", peer: caller.peer, iat: caller.iat, observer: caller.role === "observer", connectedAt: now, lastFrameAt: now };
  if (caller.exp !== undefined) attachment.exp = caller.exp;
  const tags = [WEB_TAG, `${WEB_TAG}:${caller.peer}`];
  if (caller.session) tags.push(`${WEB_TAG}-session:${caller.session}`);
  ctx.acceptWebSocket(server, tags);
  server.serializeAttachment(attachment);
  return new Response(null, { status: 101, webSocket: client });
}

function send(ws: WebSocket, text: string): void {
  try {
    ws.send(text);
  } catch {
    // Closing already; the page catches up from the feed when it reconnects.
  }
}

/** A new message, text included, to every page whose viewer may see it. */
export function pushMessage(ctx: DurableObjectState, message: RoomMessage): void {
  const text = JSON.stringify({ type: "message", message } satisfies RoomFrame);
  const now = Date.now();
  for (const ws of ctx.getWebSockets(WEB_TAG)) {
    const attachment = ws.deserializeAttachment() as WebAttachment;
    if (attachment.exp !== undefined && attachment.exp <= now) {
      signOut(ws, "Your session has ended. Sign in again with your link.", "session ended");
      continue;
    }
    if (sees({ peer: attachment.peer, observer: attachment.observer }, message)) send(ws, text);
  }
}

/** A frame every page hears alike (board changes, pause). */
export function pushToAll(ctx: DurableObjectState, frame: RoomFrame): void {
  const text = JSON.stringify(frame);
  for (const ws of ctx.getWebSockets(WEB_TAG)) send(ws, text);
}

/** Signs out the pages of `peer` whose token was issued before `before`; returns how many. */
export function closeWebSockets(ctx: DurableObjectState, peer: string, before: number): number {
  let closed = 0;
  for (const ws of ctx.getWebSockets(`${WEB_TAG}:${peer}`)) {
    if ((ws.deserializeAttachment() as WebAttachment).iat >= before) continue;
    signOut(ws, "This token was revoked. Ask your team for a new sign-in link.", "token revoked");
    closed++;
  }
  return closed;
}

export function signOut(ws: WebSocket, message: string, reason: string): void {
  send(ws, JSON.stringify({ type: "signed_out", message } satisfies RoomFrame));
  try {
    ws.close(CLOSE_CODES.revoked, reason);
  } catch {
    // Already closed.
  }
}

/**
 * How the Worker tells the group object who opened a socket. The Worker verifies the token (or the
 * page's session) and forwards the upgrade with these headers; the object trusts them because only
 * the Worker can reach it. Declared once here and used by both routes that forward an upgrade
 * (worker/index.ts for bridges, worker/web/routes.ts for pages), so the two cannot drift.
 */
import type { Role } from "../../../contract/token.ts";
import type { Caller } from "../types.ts";

export const IDENTITY_HEADERS = {
  group: "X-Relay-Group",
  peer: "X-Relay-Peer",
  iat: "X-Relay-Iat",
  exp: "X-Relay-Exp",
  /** The verified token's role, when it has one. */
  role: "X-Relay-Role",
  /** Set on the upgrade the Worker forwards for a page (never for a bridge). */
  page: "X-Relay-Web",
  /** The page session's id, so signing out of it closes its sockets (honoured only for a page). */
  session: "X-Relay-Session",
} as const;

/**
 * Writes the verified caller's identity onto an upgrade the Worker forwards, replacing whatever the
 * client sent under these names: a client can never name itself, its role, or pass for a page.
 */
export function setUpgradeIdentity(headers: Headers, caller: Caller, options: { page: boolean }): void {
  headers.set(IDENTITY_HEADERS.group, caller.group);
  headers.set(IDENTITY_HEADERS.peer, caller.peer);
  headers.set(IDENTITY_HEADERS.iat, String(caller.iat));
  if (caller.exp !== undefined) headers.set(IDENTITY_HEADERS.exp, String(caller.exp));
  else headers.delete(IDENTITY_HEADERS.exp);
  if (caller.role) headers.set(IDENTITY_HEADERS.role, caller.role);
  else headers.delete(IDENTITY_HEADERS.role);
  if (options.page) headers.set(IDENTITY_HEADERS.page, "1");
  else headers.delete(IDENTITY_HEADERS.page);
  if (options.page && caller.session) headers.set(IDENTITY_HEADERS.session, caller.session);
  else headers.delete(IDENTITY_HEADERS.session);
}

/** The identity an upgrade carries, or null when it is not a WebSocket upgrade from the Worker. */
export function upgradeIdentity(request: Request): { caller: Caller; page: boolean } | null {
  const header = (name: string) => request.headers.get(name);
  const caller: Caller = { group: header(IDENTITY_HEADERS.group) ?? "", peer: header(IDENTITY_HEADERS.peer) ?? "", iat: Number(header(IDENTITY_HEADERS.iat)) };
  const exp = header(IDENTITY_HEADERS.exp);
  if (exp) caller.exp = Number(exp);
  if (header("Upgrade")?.toLowerCase() !== "websocket" || !caller.peer) return null;
  const page = header(IDENTITY_HEADERS.page) === "1";
  const role = header(IDENTITY_HEADERS.role);
  // The role says what the token may do (an observer's page sees every message, and an observer
  // stays listed as one when its socket connects).
  if (role === "observer" || role === "lead") caller.role = role satisfies Role;
  const session = header(IDENTITY_HEADERS.session);
  if (page && session) caller.session = session;
  return { caller, page };
}

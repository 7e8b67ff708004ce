/**
 * The page's session cookie. A person signs in once with their peer token; the Worker answers with
 * a cookie that names the token's group, peer, issue time, role and expiry, signed with the relay
 * secret. The group object checks the issue time against revocations on every call, and the
 * token's own expiry caps the session's, so revoking or expiring the token ends the session at once.
 * Each session also carries a random id: signing out records that id as ended in the group object,
 * so a copy of the cookie is refused from then on, while the peer's other sessions and its bridge
 * token (which share the token's issue time) carry on.
 */
import { base64url, fromBase64url, hmacKey, type Role, type TokenClaims } from "../../contract/token.ts";

export const SESSION_COOKIE = "relay_session";
/** A session lasts at most this long, and never past the token's own expiry. */
export const SESSION_TTL_MS = 12 * 60 * 60 * 1000;

export interface Session {
  g: string;
  p: string;
  iat: number;
  exp?: number;
  r?: Role;
  /** When the session itself ends (epoch ms). */
  sx: number;
  /** This session's own id (random), what signing out ends. */
  sid: string;
}

const encoder = new TextEncoder();
// A prefix no token or admin proof starts with: a MAC over one can never pass for the other.
const CONTEXT = "rly-session|";

export async function sealSession(secret: string, claims: TokenClaims, now = Date.now()): Promise<{ value: string; session: Session }> {
  const sid = base64url(crypto.getRandomValues(new Uint8Array(16)));
  const session: Session = { g: claims.g, p: claims.p, iat: claims.iat, sx: Math.min(now + SESSION_TTL_MS, claims.exp ?? Number.POSITIVE_INFINITY), sid };
  if (claims.exp !== undefined) session.exp = claims.exp;
  if (claims.r !== undefined) session.r = claims.r;
  const body = base64url(encoder.encode(JSON.stringify(session)));
  const mac = await crypto.subtle.sign("HMAC", await hmacKey(secret), encoder.encode(CONTEXT + body));
  return { value: `${body}.${base64url(new Uint8Array(mac))}`, session };
}

/** The session in a cookie value, or why there is none. */
export async function openSession(secret: string, value: string | undefined, now = Date.now()): Promise<{ ok: true; session: Session } | { ok: false; reason: string }> {
  if (!value) return { ok: false, reason: "Not signed in." };
  const [body, macText, ...rest] = value.split(".");
  const mac = macText ? fromBase64url(macText) : null;
  if (!body || !mac || mac.length !== 32 || rest.length > 0) return { ok: false, reason: "The session cookie is malformed; sign in again." };
  const valid = await crypto.subtle.verify("HMAC", await hmacKey(secret), mac, encoder.encode(CONTEXT + body));
  if (!valid) return { ok: false, reason: "The session was signed by another relay secret; sign in again." };
  let session: Session;
  try {
    session = JSON.parse(new TextDecoder().decode(fromBase64url(body) ?? new Uint8Array())) as Session;
  } catch {
    return { ok: false, reason: "The session cookie is malformed; sign in again." };
  }
  // A cookie without an id could never be signed out: it is refused, and the person signs in again once.
  if (typeof session.sid !== "string" || session.sid.length === 0) return { ok: false, reason: "This session cannot be signed out; sign in again with your link." };
  if (session.exp !== undefined && session.exp <= now) return { ok: false, reason: "Your token has expired. Ask your team for a new sign-in link." };
  if (session.sx <= now) return { ok: false, reason: "Your session has ended. Sign in again with your link." };
  return { ok: true, session };
}

/**
 * Set-Cookie for a group's room. Path-scoped to /g/<group>, so one browser can sit in several
 * groups at once. Secure whenever the page came over https (http is only ever localhost: the
 * Host guard refuses other names that are not workers.dev or configured, which are https).
 */
export function sessionCookie(group: string, value: string, maxAgeMs: number, secure: boolean): string {
  const maxAge = Math.max(0, Math.floor(maxAgeMs / 1000));
  return [`${SESSION_COOKIE}=${value}`, `Path=/g/${group}`, `Max-Age=${maxAge}`, "HttpOnly", "SameSite=Strict", ...(secure ? ["Secure"] : [])].join("; ");
}

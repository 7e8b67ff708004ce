/**
 * Invites: a link that lets someone pick a peer name and get a token for one group, without the
 * team secret. The link carries a signed code:
 *
 *   inv1.<base64url(JSON claims)>.<base64url(HMAC-SHA256(secret, "invite|" + "inv1." + claims part))>
 *
 * The signature proves the secret holder made it; how often it has been used, and whether it was
 * revoked, lives in the group object (an invite is valid only once the relay has recorded it).
 */
import { base64url, fromBase64url, hmacKey, readSignedClaims } from "./token.ts";
import { isValidName } from "./names.ts";

const PREFIX = "inv1";
const encoder = new TextEncoder();

export interface InviteClaims {
  /** Invite id: random, what `--list` shows and `--revoke` takes. */
  i: string;
  /** Group. */
  g: string;
  /** Expires at, epoch ms. */
  exp: number;
  /** How many peers may join with it. */
  n: number;
  /** Set for an observer invite: its tokens may read but not write. */
  o?: 1;
}

export const INVITE_ID_PATTERN = /^i_[0-9a-f]{12}$/;
export const MAX_INVITE_USES = 1_000;
/** A signed code is a few hundred characters; anything much longer is not one. */
export const MAX_INVITE_CODE_LENGTH = 600;

export function newInviteId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(6));
  return `i_${Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("")}`;
}

function isInviteClaims(value: unknown): value is InviteClaims {
  if (typeof value !== "object" || value === null) return false;
  const c = value as Record<string, unknown>;
  return (
    typeof c.i === "string" &&
    INVITE_ID_PATTERN.test(c.i) &&
    typeof c.g === "string" &&
    isValidName(c.g) &&
    typeof c.exp === "number" &&
    Number.isFinite(c.exp) &&
    typeof c.n === "number" &&
    Number.isInteger(c.n) &&
    c.n >= 1 &&
    c.n <= MAX_INVITE_USES &&
    (c.o === undefined || c.o === 1)
  );
}

async function mac(secret: string, body: string): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.sign("HMAC", await hmacKey(secret), encoder.encode(`invite|${body}`)));
}

export async function signInvite(secret: string, claims: InviteClaims): Promise<string> {
  if (!isInviteClaims(claims)) throw new Error("invalid invite claims");
  const body = `${PREFIX}.${base64url(encoder.encode(JSON.stringify(claims)))}`;
  return `${body}.${base64url(await mac(secret, body))}`;
}

/** The claims, WITHOUT checking the signature: for clients that only need the group to show. */
export function readInviteUnverified(code: string): InviteClaims | null {
  return code.length > MAX_INVITE_CODE_LENGTH ? null : readSignedClaims(code, PREFIX, isInviteClaims);
}

export type InviteVerdict = { ok: true; claims: InviteClaims } | { ok: false; reason: string };

export async function verifyInvite(secret: string, code: string, now = Date.now()): Promise<InviteVerdict> {
  const claims = readInviteUnverified(code);
  if (!claims) return { ok: false, reason: "this is not an invite link (it may have been cut short: copy the whole link)" };
  const parts = code.split(".");
  const given = fromBase64url(parts[2]!);
  if (!given || given.length !== 32) return { ok: false, reason: "this invite's signature is malformed (copy the whole link)" };
  const valid = await crypto.subtle.verify("HMAC", await hmacKey(secret), given, encoder.encode(`invite|${parts[0]}.${parts[1]}`));
  if (!valid) return { ok: false, reason: "this invite was not made by this relay (or the link was altered)" };
  if (claims.exp <= now) {
    return { ok: false, reason: `this invite expired at ${new Date(claims.exp).toISOString()}: ask whoever sent it for a new one` };
  }
  return { ok: true, claims };
}

/** `<relay>/invite/<code>` -> the relay's base URL and the code. */
export function parseInviteUrl(text: string): { baseUrl: string; code: string } | null {
  let url: URL;
  try {
    url = new URL(text.trim());
  } catch {
    return null;
  }
  const match = /^(.*)\/invite\/([^/]+)\/?$/.exec(url.pathname);
  if (!match || (url.protocol !== "http:" && url.protocol !== "https:")) return null;
  return { baseUrl: `${url.protocol}//${url.host}${match[1]}`, code: decodeURIComponent(match[2]!) };
}

/**
 * Peer tokens: one group, one peer name, HMAC-SHA256 signed with the team secret.
 *
 *   rly1.<base64url(JSON claims)>.<base64url(HMAC-SHA256(secret, "rly1." + claims part))>
 *
 * Only WebCrypto is used, so the same code signs in the Node CLI and verifies in the Worker.
 * `crypto.subtle.verify` compares MACs in constant time, which is why we never compare strings.
 */
import { isValidName, NAME_RULE } from "./names.ts";

const PREFIX = "rly1";

export interface TokenClaims {
  /** Group name. */
  g: string;
  /** Peer name. */
  p: string;
  /** Issued at, epoch milliseconds. Revocation refuses tokens issued before a cut-off. */
  iat: number;
  /** Expires at, epoch milliseconds; absent means no expiry. */
  exp?: number;
  /**
   * Role, absent for a plain peer: an observer reads everything and sends nothing; a lead may
   * pause the group. Optional so every token minted before roles existed stays valid.
   */
  r?: Role;
}

export const ROLES = ["observer", "lead"] as const;
export type Role = (typeof ROLES)[number];

export type VerifyResult =
  | { ok: true; claims: TokenClaims }
  | { ok: false; reason: string };

const encoder = new TextEncoder();

export function base64url(bytes: Uint8Array): string {
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/**
 * Decodes base64url in its one canonical form: the URL-safe alphabet, no padding, and no bits
 * set past the last byte. Anything else is refused, so a token has exactly one spelling: a MAC
 * whose last character differs only in those spare bits would otherwise verify too.
 */
export function fromBase64url(text: string): Uint8Array<ArrayBuffer> | null {
  if (!/^[A-Za-z0-9_-]*$/.test(text)) return null;
  const padded = text.replace(/-/g, "+").replace(/_/g, "/") + "=".repeat((4 - (text.length % 4)) % 4);
  let binary: string;
  try {
    binary = atob(padded);
  } catch {
    return null;
  }
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  // Re-encoding gives the canonical spelling; any other spelling of the same bytes is refused.
  return base64url(bytes) === text ? bytes : null;
}

const keyCache = new Map<string, Promise<CryptoKey>>();

export function hmacKey(secret: string): Promise<CryptoKey> {
  let key = keyCache.get(secret);
  if (!key) {
    key = crypto.subtle.importKey("raw", encoder.encode(secret), { name: "HMAC", hash: "SHA-256" }, false, [
      "sign",
      "verify",
    ]);
    keyCache.set(secret, key);
  }
  return key;
}

/** Secrets shorter than this are refused: an HMAC is only as strong as its key. */
export const MIN_SECRET_LENGTH = 32;

export function secretProblem(secret: string | undefined): string | null {
  if (!secret) return "RELAY_SECRET is not set";
  if (secret.length < MIN_SECRET_LENGTH) return `RELAY_SECRET is shorter than ${MIN_SECRET_LENGTH} characters`;
  return null;
}

export async function signToken(secret: string, claims: TokenClaims): Promise<string> {
  if (!isValidName(claims.g)) throw new Error(`group name must be ${NAME_RULE}`);
  if (!isValidName(claims.p)) throw new Error(`peer name must be ${NAME_RULE}`);
  const body = `${PREFIX}.${base64url(encoder.encode(JSON.stringify(claims)))}`;
  const mac = await crypto.subtle.sign("HMAC", await hmacKey(secret), encoder.encode(body));
  return `${body}.${base64url(new Uint8Array(mac))}`;
}

/**
 * Reads the claims WITHOUT checking the signature. Only for clients that need to know which group
 * their own token names (the bridge builds its socket URL from it); never for authorisation.
 */
export function readClaimsUnverified(token: string): TokenClaims | null {
  return readSignedClaims(token, PREFIX, isClaims);
}

/** The JSON claims of `<prefix>.<base64url claims>.<mac>` if they pass `check`; the MAC is NOT checked. */
export function readSignedClaims<T>(text: string, prefix: string, check: (value: unknown) => value is T): T | null {
  const parts = text.split(".");
  if (parts.length !== 3 || parts[0] !== prefix) return null;
  const json = fromBase64url(parts[1]!);
  if (!json) return null;
  try {
    const claims: unknown = JSON.parse(new TextDecoder().decode(json));
    return check(claims) ? claims : null;
  } catch {
    return null;
  }
}

function isClaims(value: unknown): value is TokenClaims {
  if (typeof value !== "object" || value === null) return false;
  const c = value as Record<string, unknown>;
  return (
    typeof c.g === "string" &&
    isValidName(c.g) &&
    typeof c.p === "string" &&
    isValidName(c.p) &&
    typeof c.iat === "number" &&
    Number.isFinite(c.iat) &&
    (c.exp === undefined || (typeof c.exp === "number" && Number.isFinite(c.exp))) &&
    (c.r === undefined || (ROLES as readonly unknown[]).includes(c.r))
  );
}

export async function verifyToken(secret: string, token: string, now = Date.now()): Promise<VerifyResult> {
  const parts = token.split(".");
  if (parts.length !== 3 || parts[0] !== PREFIX) {
    return { ok: false, reason: "the token is not a relay token (expected rly1.<claims>.<signature>)" };
  }
  const mac = fromBase64url(parts[2]!);
  if (!mac || mac.length !== 32) return { ok: false, reason: "the token's signature is malformed" };
  const signed = await crypto.subtle.verify(
    "HMAC",
    await hmacKey(secret),
    mac,
    encoder.encode(`${parts[0]}.${parts[1]}`),
  );
  if (!signed) {
    return { ok: false, reason: "the token's signature does not match this relay's secret (minted for another relay, or altered)" };
  }
  const claims = readClaimsUnverified(token);
  if (!claims) return { ok: false, reason: "the token's claims are malformed" };
  if (claims.exp !== undefined && claims.exp <= now) {
    return { ok: false, reason: `the token expired at ${new Date(claims.exp).toISOString()}` };
  }
  return { ok: true, claims };
}

/** Pulls the token out of `Authorization: Bearer <token>`; null when the header is absent or not Bearer. */
export function bearerToken(header: string | null | undefined): string | null {
  if (!header) return null;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match ? match[1]! : null;
}

/**
 * Proof that a caller holds the team secret, for admin calls such as revocation: an HMAC over the
 * action, its target and a timestamp, so a captured proof cannot be reused for another peer or
 * after a few minutes.
 */
export async function signAdminProof(secret: string, action: string, target: string, at: number): Promise<string> {
  const mac = await crypto.subtle.sign("HMAC", await hmacKey(secret), encoder.encode(`admin|${action}|${target}|${at}`));
  return `${at}.${base64url(new Uint8Array(mac))}`;
}

export const ADMIN_PROOF_MAX_SKEW_MS = 5 * 60 * 1000;

/** Returns the moment the proof was signed (epoch ms), or null if it is not a valid, fresh proof. */
export async function verifyAdminProof(
  secret: string,
  action: string,
  target: string,
  proof: string,
  now = Date.now(),
): Promise<number | null> {
  const [atText, macText, ...rest] = proof.split(".");
  if (rest.length > 0 || !atText || !macText || !/^\d{1,16}$/.test(atText)) return null;
  const at = Number(atText);
  if (Math.abs(now - at) > ADMIN_PROOF_MAX_SKEW_MS) return null;
  const mac = fromBase64url(macText);
  if (!mac || mac.length !== 32) return null;
  const valid = await crypto.subtle.verify("HMAC", await hmacKey(secret), mac, encoder.encode(`admin|${action}|${target}|${at}`));
  return valid ? at : null;
}

/** A token's role as a name reservation records it: "peer" for a plain token. */
export const NAME_ROLES = ["peer", ...ROLES] as const;
export type NameRole = (typeof NAME_ROLES)[number];

/**
 * What the admin proof of a name reservation (POST /groups/:group/names) signs: the group, the
 * name, the role and the token's expiry, so a captured proof reserves nothing else.
 */
export function nameReservationTarget(group: string, name: string, role: NameRole, expiresAt: number | null): string {
  return `${group}/${name}/${role}/${expiresAt ?? "never"}`;
}

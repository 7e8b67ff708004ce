/**
 * Token verification with a memory: a Claude Code session sends the same bearer token on every
 * tool call, and checking its HMAC each time is a WebCrypto call per request. The verdict of the
 * signature check depends only on the secret and the token's exact text, so a token whose
 * signature verified once verifies again: this isolate remembers the claims of the last few
 * hundred tokens it verified, by their text.
 *
 * What is re-checked on every use is what can change: the expiry (against the clock now), and
 * revocation, which the group object checks on every call whatever the Worker remembers. Only
 * tokens that verified are remembered, so a stream of forged tokens cannot fill the memory, and a
 * token whose signature failed is checked afresh each time. Changing the secret starts afresh.
 */
import { type TokenClaims, verifyToken, type VerifyResult } from "../contract/token.ts";

/** Enough for every session of a busy relay's isolate; evicted least recently used. */
const MAX_REMEMBERED = 512;

let rememberedFor: string | null = null;
const remembered = new Map<string, TokenClaims>();

function expired(claims: TokenClaims, now: number): VerifyResult | null {
  if (claims.exp === undefined || claims.exp > now) return null;
  return { ok: false, reason: `the token expired at ${new Date(claims.exp).toISOString()}` };
}

/** verifyToken, answered from memory for a token this isolate has already verified with `secret`. */
export async function verifyTokenRemembered(secret: string, token: string, now = Date.now()): Promise<VerifyResult> {
  if (rememberedFor !== secret) {
    remembered.clear();
    rememberedFor = secret;
  }
  const known = remembered.get(token);
  if (known) {
    const lapsed = expired(known, now);
    if (lapsed) {
      remembered.delete(token);
      return lapsed;
    }
    // Most recently used last, so the oldest is the first the map yields.
    remembered.delete(token);
    remembered.set(token, known);
    return { ok: true, claims: known };
  }
  const verdict = await verifyToken(secret, token, now);
  if (verdict.ok) {
    if (remembered.size >= MAX_REMEMBERED) remembered.delete(remembered.keys().next().value!);
    // Shared by every later request with this token: nobody may change it.
    remembered.set(token, Object.freeze(verdict.claims));
  }
  return verdict;
}

/**
 * The one-click answer link a question's webhook carries: `<relay>/answer/<code>`, where the code
 * is `ans1.<base64url claims>.<HMAC>` signed with RELAY_SECRET under its own label (so no other
 * signed thing of the relay can pass for one). It names the group, the question, the peer asked
 * and the asker, and expires ANSWER_LINK_TTL_MS after the question. Single use is not in the link:
 * the group answers it once (a reply to the question already stored means "already answered").
 */
import { ANSWER_LINK_TTL_MS } from "../../../contract/limits.ts";
import { isValidName } from "../../../contract/names.ts";
import { base64url, fromBase64url, hmacKey, readSignedClaims } from "../../../contract/token.ts";

const PREFIX = "ans1";
const encoder = new TextEncoder();
export const MAX_ANSWER_CODE_LENGTH = 600;

export interface AnswerClaims {
  /** group */
  g: string;
  /** question id */
  q: string;
  /** the peer asked: the answer is sent as them */
  p: string;
  /** the asker: the answer goes to them */
  a: string;
  /** expiry, epoch ms */
  exp: number;
}

function isAnswerClaims(value: unknown): value is AnswerClaims {
  if (typeof value !== "object" || value === null) return false;
  const c = value as Record<string, unknown>;
  return (
    typeof c.g === "string" &&
    isValidName(c.g) &&
    typeof c.q === "string" &&
    /^m_[0-9a-f]{16}$/.test(c.q) &&
    typeof c.p === "string" &&
    isValidName(c.p) &&
    typeof c.a === "string" &&
    isValidName(c.a) &&
    typeof c.exp === "number" &&
    Number.isFinite(c.exp)
  );
}

async function mac(secret: string, body: string): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.sign("HMAC", await hmacKey(secret), encoder.encode(`answer|${body}`)));
}

export async function signAnswerLink(secret: string, claims: AnswerClaims): Promise<string> {
  const body = `${PREFIX}.${base64url(encoder.encode(JSON.stringify(claims)))}`;
  return `${body}.${base64url(await mac(secret, body))}`;
}

/** The link for a question asked at `askedAt`. */
export function answerClaims(group: string, questionId: string, asked: string, asker: string, askedAt: number): AnswerClaims {
  return { g: group, q: questionId, p: asked, a: asker, exp: askedAt + ANSWER_LINK_TTL_MS };
}

export type AnswerVerdict = { ok: true; claims: AnswerClaims } | { ok: false; reason: string; expired?: true };

export async function verifyAnswerLink(secret: string, code: string, now = Date.now()): Promise<AnswerVerdict> {
  const claims = code.length > MAX_ANSWER_CODE_LENGTH ? null : readSignedClaims(code, PREFIX, isAnswerClaims);
  if (!claims) return { ok: false, reason: "This is not an answer link (it may have been cut short: open the whole link)." };
  const parts = code.split(".");
  const given = fromBase64url(parts[2]!);
  const expected = await mac(secret, `${parts[0]}.${parts[1]}`);
  if (!given || given.length !== expected.length || !(await crypto.subtle.verify("HMAC", await hmacKey(secret), given, encoder.encode(`answer|${parts[0]}.${parts[1]}`)))) {
    return { ok: false, reason: "This answer link was not made by this relay, or it was altered." };
  }
  if (claims.exp <= now) return { ok: false, expired: true, reason: `This answer link expired at ${new Date(claims.exp).toISOString()}. Answer in the room instead.` };
  return { ok: true, claims };
}

/**
 * What every feature of the group and every layer that calls it shares: who is calling, what a
 * call returns, and the message. Each feature declares its own values beside its schemas
 * (peers/schemas.ts, mail/schemas.ts, board/schemas.ts, invites/invites.ts); the Worker's layers
 * import them all through worker/types.ts.
 */
import type { Message } from "../../contract/message.ts";
import type { Role } from "../../contract/token.ts";

export interface Caller {
  group: string;
  peer: string;
  /** When the caller's token was issued (epoch ms); checked against revocations. */
  iat: number;
  /** When the caller's token expires (epoch ms), if it does. */
  exp?: number;
  /** The token's role; absent for a plain peer. */
  role?: Role;
  /** The page session (its id) the call came through; absent for a token. An ended one is refused. */
  session?: string;
  /**
   * Set when a person speaks through a client that is not a page: "cli" for relay-bridge's verbs
   * (PERSON_CLIENT_HEADER), "room" for the web room's send route called with a token, "link" for
   * a one-click answer page (webhooks/answers.ts). A page session (`session`) is a person too.
   * Chains never charge a person's message (chains/).
   */
  person?: "cli" | "room" | "link";
}

export type ProblemCode =
  | "revoked"
  | "unknown_peer"
  | "self_dm"
  | "unknown_message"
  | "too_large"
  | "rate_limited"
  | "invalid_input"
  | "not_found"
  | "too_many_waits"
  | "too_many_keys"
  | "read_only"
  | "paused"
  | "forbidden"
  | "invite_refused"
  | "name_taken"
  | "name_confusable"
  | "quota_exceeded"
  | "idempotency_conflict"
  | "chain_held";

export interface Problem {
  code: ProblemCode;
  message: string;
}

/** RPC results carry expected failures as values; thrown errors are reserved for the unexpected. */
export type Outcome<T> = { ok: true; value: T } | { ok: false; problem: Problem };

export function ok<T>(value: T): Outcome<T> {
  return { ok: true, value };
}

export function fail<T>(code: ProblemCode, message: string): Outcome<T> {
  return { ok: false, problem: { code, message } };
}

/** A message id: random, so ids reveal nothing about order or sender. */
export function newMessageId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(8));
  return `m_${Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("")}`;
}

export type { Message };

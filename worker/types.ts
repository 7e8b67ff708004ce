/**
 * The values that cross between the Worker's layers (worker/mcp/, worker/web/) and the group object
 * (worker/group/): who is calling, what a call returns, and the shapes of messages, peers and board
 * entries. Imports no Durable Object, and only the group's input schemas (types only), so every
 * layer can use it without an import circle.
 */
import type { MessageKind } from "../contract/frames.ts";
import type { Message } from "../contract/message.ts";
import type { Role } from "../contract/token.ts";
import type { GetHistoryInput, SendDmInput, SendMessageInput } from "./group/mail/inputs.ts";
import type { RegisterInput } from "./group/peers/inputs.ts";
import type { z } from "zod";

export interface Caller {
  group: string;
  peer: string;
  /** When the caller's token was issued (epoch ms); checked against revocations. */
  iat: number;
  /** When the caller's token expires (epoch ms), if it does. */
  exp?: number;
  /** The token's role; absent for a plain peer. */
  role?: Role;
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
  | "quota_exceeded";

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

/** What a peer says about itself; the register tool's input. */
export type Profile = z.output<typeof RegisterInput>;

export interface PeerInfo {
  name: string;
  profile: Profile;
  online: boolean;
  first_seen: string;
  last_seen: string;
  /** Present (true) when this peer is an observer: it reads every message, DMs included. */
  observer?: true;
}

/** A send as the group object takes it: a broadcast (no `to`), a DM or a question. */
export type SendInput = z.output<typeof SendMessageInput> & Partial<Pick<z.output<typeof SendDmInput>, "to">> & { kind: MessageKind };

export interface Sent {
  id: string;
  seq: number;
  time: string;
  /** Set when a DM went to a peer who has left the group: delivered, but they may not look. */
  recipient_left?: boolean;
}

export interface Inbox {
  messages: Message[];
  remaining: number;
}

export interface AskInput {
  to: string;
  question: string;
  /** How long to wait for the reply, from now. */
  timeoutMs: number;
}

export interface Answer {
  question: { id: string; seq: number };
  /** The reply, or null when none came in time: it will then arrive as ordinary unread mail. */
  reply: Message | null;
}

export type HistoryQuery = z.output<typeof GetHistoryInput>;

export interface HistoryPage {
  messages: Message[];
  /** Pass as `before` to get the page before this one; null when this page reaches the start. */
  next_before: number | null;
}

export interface StateEntry {
  key: string;
  /** The value as JSON text (kept as text so it crosses the RPC boundary untouched). */
  value_json?: string;
  updated_by: string;
  updated_at: string;
}

/** An invite as the group object keeps it (the signed code itself is never stored). */
export interface InviteRecord {
  id: string;
  max_uses: number;
  observer: boolean;
  created_at: string;
  expires_at: string;
  revoked_at: string | null;
  /** The peers who joined with it, oldest first. */
  used_by: string[];
}


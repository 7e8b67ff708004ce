/** Mail's inputs (sending, reading, waiting, history), declared once with zod (see peers/schemas.ts), and the values it answers with. */
import { z } from "zod";
import type { MessageKind } from "../../../contract/frames.ts";
import {
  ASK_DEFAULT_TIMEOUT_S,
  HISTORY_DEFAULT_LIMIT,
  HISTORY_MAX_LIMIT,
  MAX_ID_LENGTH,
  MAX_QUERY_LENGTH,
  MAX_TAG_LENGTH,
  MAX_TAGS,
  MAX_WAIT_TIMEOUT_S,
  READ_DEFAULT_LIMIT,
  READ_MAX_LIMIT,
  WAIT_DEFAULT_TIMEOUT_S,
} from "../../../contract/limits.ts";
import { TAG_PATTERN, TAG_RULE } from "../../../contract/names.ts";
import { nameSchema } from "../peers/schemas.ts";
import { idempotencyKey } from "./idempotency.ts";
import type { Message } from "../types.ts";

/**
 * Half of a UTF-16 surrogate pair with no other half. Such a string is not Unicode text: SQLite
 * would store it as replacement characters, so the message read back would differ from the one
 * sent. Refused instead of silently altered.
 */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const messageText = z
  .string()
  .min(1, "text must not be empty")
  .refine(
    (text) => !LONE_SURROGATE.test(text),
    "text must be valid Unicode: it contains a lone UTF-16 surrogate (half of an emoji or similar character). Remove it or re-encode the text.",
  );
const messageId = z.string().min(1, "an id must not be empty").max(MAX_ID_LENGTH, `ids are at most ${MAX_ID_LENGTH} characters`);
const timeout = (fallback: number) =>
  z
    .number()
    .int("timeout_seconds must be a whole number")
    .min(0, "timeout_seconds must not be negative")
    .max(MAX_WAIT_TIMEOUT_S, `timeout_seconds is at most ${MAX_WAIT_TIMEOUT_S}`)
    .default(fallback);
const limit = (max: number, fallback: number) =>
  z.number().int("limit must be a whole number").min(1, "limit is at least 1").max(max, `limit is at most ${max}`).default(fallback);

export const SendMessageInput = z.object({
  text: messageText,
  reply_to: messageId.optional().describe("id of the message this answers"),
  urgent: z.boolean().optional(),
  tags: z
    .array(
      z
        .string()
        .min(1, "tags must not be empty")
        .max(MAX_TAG_LENGTH, `each tag is at most ${MAX_TAG_LENGTH} characters`)
        .regex(TAG_PATTERN, `each tag must be ${TAG_RULE}`),
    )
    .max(MAX_TAGS, `at most ${MAX_TAGS} tags`)
    .optional(),
  idempotency_key: idempotencyKey.optional(),
});

export const SendDmInput = z.object({
  to: nameSchema("to"),
  text: messageText,
  reply_to: messageId.optional(),
  urgent: z.boolean().optional(),
  idempotency_key: idempotencyKey.optional(),
});

const READ_LIMIT_RULE = "limit is at least 1 (0 only together with ack: the call then confirms without reading)";
export const ReadNewMessagesInput = z
  .object({
    // 0 hands nothing over: with ack, the call only confirms (what the CLI does once it has printed).
    limit: z
      .number()
      .int("limit must be a whole number")
      .min(0, READ_LIMIT_RULE)
      .max(READ_MAX_LIMIT, `limit is at most ${READ_MAX_LIMIT}`)
      .default(READ_DEFAULT_LIMIT),
    ack: z
      .number()
      .int("ack must be a seq (a whole number)")
      .min(0, "ack must not be negative")
      .optional()
      .describe("recommended: the `through` of your previous read, confirming you received it; mail you were given but did not ack comes again (never lost)"),
  })
  .refine((input) => input.limit > 0 || input.ack !== undefined, { path: ["limit"], message: READ_LIMIT_RULE });

export const GetHistoryInput = z.object({
  peer: nameSchema("peer").optional(),
  before: z.number().int("before must be a seq (a whole number)").positive("before must be a seq (1 or more)").optional().describe("only messages with seq below this"),
  limit: limit(HISTORY_MAX_LIMIT, HISTORY_DEFAULT_LIMIT),
  query: z.string().max(MAX_QUERY_LENGTH, `query is at most ${MAX_QUERY_LENGTH} characters`).optional().describe("text to search for"),
});

export const AskPeerInput = z.object({
  to: nameSchema("to"),
  question: messageText,
  timeout_seconds: timeout(ASK_DEFAULT_TIMEOUT_S),
  idempotency_key: idempotencyKey.optional(),
});

export const WaitForMessagesInput = z.object({ timeout_seconds: timeout(WAIT_DEFAULT_TIMEOUT_S) });

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
  /** A retried ask with the same key resumes waiting on the first question (idempotency.ts). */
  idempotency_key?: string | undefined;
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

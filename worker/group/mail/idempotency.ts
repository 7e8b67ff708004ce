/**
 * Idempotent sends. A client that may send twice (its answer was lost, the relay restarted, a
 * person pressed Send again after a dropped connection) gives each send an `idempotency_key`; the
 * same key from the same peer within a day answers with the first send's result and stores
 * nothing new. A key reused for a different message is refused (`idempotency_conflict`) rather
 * than answered with the first message's result: a model that reused a key by mistake must learn
 * that its new message was not sent, not be told it was.
 *
 * One statement on the send path, and only when a key is given: `claim` inserts the key with the
 * id the new message will carry, or returns the id an earlier send claimed it for. The message
 * itself holds the result (seq, time), so nothing is written after the send.
 */
import { z } from "zod";
import { IDEMPOTENCY_KEY_MAX_LENGTH, IDEMPOTENCY_WINDOW_MS } from "../../../contract/limits.ts";
import { fail, type Message, type Outcome } from "../types.ts";

const KEY_PATTERN = /^[A-Za-z0-9_.:-]+$/;
const KEY_RULE = `1 to ${IDEMPOTENCY_KEY_MAX_LENGTH} characters: letters, digits, '-', '_', '.' or ':' (a UUID fits)`;

export const idempotencyKey = z
  .string()
  .min(1, `idempotency_key must be ${KEY_RULE}`)
  .max(IDEMPOTENCY_KEY_MAX_LENGTH, `idempotency_key must be ${KEY_RULE}`)
  .regex(KEY_PATTERN, `idempotency_key must be ${KEY_RULE}`)
  .describe("optional: a fresh random key per message (e.g. a UUID); sending again with the same key within a day returns the first result and sends nothing new");

export const IDEMPOTENCY_SCHEMA: readonly string[] = [
  // (peer, key) -> the id of the message sent under it. WITHOUT ROWID: the key is the row. Rows
  // older than IDEMPOTENCY_WINDOW_MS no longer count and are pruned by the alarm.
  `CREATE TABLE idempotency_keys (
     peer TEXT NOT NULL,
     key TEXT NOT NULL,
     message_id TEXT NOT NULL,
     created_at INTEGER NOT NULL,
     PRIMARY KEY (peer, key)
   ) WITHOUT ROWID`,
  `CREATE INDEX idempotency_keys_by_time ON idempotency_keys (created_at)`,
];

/** What a retried send must repeat for its key to stand for the same message. */
export interface KeyedSend {
  to: string | null;
  kind: Message["kind"];
  text: string;
  reply_to: string | null;
  urgent: boolean;
  tags: readonly string[];
}

export class IdempotencyKeys {
  private readonly sql: SqlStorage;

  constructor(sql: SqlStorage) {
    this.sql = sql;
  }

  /**
   * Claims `key` for the message about to be sent as `id`, and returns the id that owns the key:
   * `id` itself for a new key (or one older than a day, taken over), else the earlier send's id.
   */
  claim(peer: string, key: string, id: string, now: number): string {
    return this.sql
      .exec<{ message_id: string }>(
        `INSERT INTO idempotency_keys (peer, key, message_id, created_at) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (peer, key) DO UPDATE SET
           message_id = CASE WHEN created_at <= ?5 THEN excluded.message_id ELSE message_id END,
           created_at = CASE WHEN created_at <= ?5 THEN excluded.created_at ELSE created_at END
         RETURNING message_id`,
        peer,
        key,
        id,
        now,
        now - IDEMPOTENCY_WINDOW_MS,
      )
      .one().message_id;
  }

  /**
   * For a send carrying `key`: null when it is new (the key is now claimed for `id`), else the
   * earlier message it repeats, or `idempotency_conflict` when the key was used for another.
   */
  firstSend(peer: string, key: string, id: string, retry: KeyedSend, now: number, sentBy: (peer: string, id: string) => Message | undefined): Outcome<{ message: Message; recipientLeft: boolean }> | null {
    const owner = this.claim(peer, key, id, now);
    if (owner === id) return null;
    const first = sentBy(peer, owner);
    if (!first) {
      this.reassign(peer, key, id, now);
      return null;
    }
    const replay = replayOf(first, retry, key);
    return replay.ok ? { ok: true, value: { message: replay.value, recipientLeft: false } } : replay;
  }

  /** Takes `key` over for `id` (its earlier message is gone: retention deleted it). */
  reassign(peer: string, key: string, id: string, now: number): void {
    this.sql.exec(`UPDATE idempotency_keys SET message_id = ?3, created_at = ?4 WHERE peer = ?1 AND key = ?2`, peer, key, id, now);
  }

  /** Forgets a claim whose send was refused, so a retry is checked afresh. */
  release(peer: string, key: string, id: string): void {
    this.sql.exec(`DELETE FROM idempotency_keys WHERE peer = ? AND key = ? AND message_id = ?`, peer, key, id);
  }

  /** Keys older than the window count for nothing: run by the alarm. */
  static prune(sql: SqlStorage, now: number): void {
    sql.exec(`DELETE FROM idempotency_keys WHERE created_at <= ?`, now - IDEMPOTENCY_WINDOW_MS);
  }
}

/** The first message stands for this retry if it is the same message; otherwise the key was reused. */
export function replayOf(first: Message, retry: KeyedSend, key: string): Outcome<Message> {
  const same =
    first.to === retry.to &&
    first.kind === retry.kind &&
    first.text === retry.text &&
    first.reply_to === retry.reply_to &&
    first.urgent === retry.urgent &&
    JSON.stringify(first.tags) === JSON.stringify(retry.tags);
  if (same) return { ok: true, value: first };
  return fail(
    "idempotency_conflict",
    `idempotency_key '${key}' was already used within the last day for a different message (id ${first.id}, seq ${first.seq}); this one was NOT sent. A retry must repeat the same message; a new message needs a new key.`,
  );
}

/**
 * What a peer has waiting, in one cheap read that marks nothing read: for Claude Code hooks that
 * run on every prompt and every stop, so they can say "2 unread (question from alice)" without
 * taking the mail out of read_new_messages' hands.
 */
import { MAX_SUMMARY_NAMES, type UnreadSummary } from "../contract/unread.ts";

export type { UnreadSummary };

// The same predicates the group object uses for unread mail: others' broadcasts and anything
// addressed to the peer, minus what it consumed out of order. ?1 is the peer, ?2 its read cursor.
const UNREAD = `seq > ?2 AND ((recipient IS NULL AND sender != ?1) OR recipient = ?1)
  AND NOT EXISTS (SELECT 1 FROM read_marks r WHERE r.peer = ?1 AND r.seq = messages.seq)`;
const ATTENTION = `(recipient = ?1 OR urgent = 1)`;

interface Counts extends Record<string, SqlStorageValue> {
  total: number;
  dms: number | null;
  question_count: number | null;
  urgent: number | null;
  highest_seq: number | null;
  attention_seq: number | null;
}

/**
 * The summary for `peer`, whose read cursor is `cursor` (null for a peer the group has never seen:
 * the group's past is history to a newcomer, so nothing is unread yet).
 */
export function unreadSummary(sql: SqlStorage, peer: string, cursor: number | null): UnreadSummary {
  if (cursor === null) {
    return { total: 0, dms: 0, questions: [], question_count: 0, dm_from: [], urgent: 0, highest_seq: 0, attention_seq: 0 };
  }
  const counts = sql
    .exec<Counts>(
      `SELECT COUNT(*) AS total,
              SUM(recipient = ?1 AND kind = 'dm') AS dms,
              SUM(recipient = ?1 AND kind = 'question') AS question_count,
              SUM(urgent) AS urgent,
              MAX(seq) AS highest_seq,
              MAX(CASE WHEN ${ATTENTION} THEN seq END) AS attention_seq
       FROM messages WHERE ${UNREAD}`,
      peer,
      cursor,
    )
    .one();
  const questions = sql
    .exec<{ id: string; from: string; seq: number }>(
      `SELECT id, sender AS "from", seq FROM messages WHERE ${UNREAD} AND recipient = ?1 AND kind = 'question' ORDER BY seq LIMIT ?3`,
      peer,
      cursor,
      MAX_SUMMARY_NAMES,
    )
    .toArray()
    .map(({ id, from, seq }) => ({ id, from, seq }));
  const dmFrom = sql
    .exec<{ sender: string }>(
      `SELECT sender FROM messages WHERE ${UNREAD} AND recipient = ?1 AND kind = 'dm' GROUP BY sender ORDER BY MIN(seq) LIMIT ?3`,
      peer,
      cursor,
      MAX_SUMMARY_NAMES,
    )
    .toArray()
    .map((row) => row.sender);
  return {
    total: counts.total,
    dms: counts.dms ?? 0,
    questions,
    question_count: counts.question_count ?? 0,
    dm_from: dmFrom,
    urgent: counts.urgent ?? 0,
    highest_seq: counts.highest_seq ?? 0,
    attention_seq: counts.attention_seq ?? 0,
  };
}

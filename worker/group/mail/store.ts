/**
 * Mail's SQL: storing a message, what a send is checked against, unread mail and read cursors,
 * notices for a replay, and retention. Searching and paging through stored messages is search.ts.
 */
import { MAX_SUMMARY_NAMES, type UnreadSummary } from "../../../contract/unread.ts";
import type { Message } from "../types.ts";
import { heardBySql, type Listener } from "../audience.ts";
import { latestSeq, type MessageRow, type NoticeFacts, toMessage } from "../rows.ts";
import { RecentSends } from "./recent-sends.ts";

/** A message about to be stored: everything but what storage assigns (seq) and how time is shown. */
export type NewMessage = Omit<Message, "seq" | "time"> & { at: number };

/** Everything a send is checked against, read in one statement (see MailStore.sendFacts). */
export interface SendFacts {
  /** Messages the sender stored within the rate-limit window. */
  recent: number;
  /** Bytes of messages the group holds now. */
  stored: number;
  /** Bytes the sender has sent on this UTC day. */
  sentToday: number;
  /** For a DM: the recipient's row, null when the group has never seen it. */
  recipient: { left: boolean } | null;
  /** For a reply: whether the sender can see the message it answers. */
  replyVisible: boolean;
}

const utf8 = new TextEncoder();

/** Mail the listener has not read out of order (an ask_peer reply handed straight to the asker). */
const NOT_READ_OUT_OF_ORDER = `NOT EXISTS (SELECT 1 FROM read_marks r WHERE r.peer = ?1 AND r.seq = messages.seq)`;
/** Leaves out the seqs in the JSON array bound as `?N` (mail handed over, not yet confirmed). */
const notIn = (param: number) => `seq NOT IN (SELECT value FROM json_each(?${param}))`;

export class MailStore {
  private readonly sql: SqlStorage;
  private readonly recentSends: RecentSends;

  constructor(sql: SqlStorage) {
    this.sql = sql;
    this.recentSends = new RecentSends(sql);
  }

  latestSeq(): number {
    return latestSeq(this.sql);
  }

  /**
   * What a message costs against the quotas: the UTF-8 bytes of its text and of its tags as
   * stored (a JSON array). The triggers in schema.ts count the same in SQL.
   */
  static messageBytes(text: string, tags: readonly string[]): number {
    return utf8.encode(text).length + utf8.encode(JSON.stringify(tags)).length;
  }

  /**
   * Everything the send rules read: the sender's recent sends (the rate limit, kept in memory:
   * recent-sends.ts), and in one statement the group's stored bytes and the sender's bytes today
   * (the quotas), the recipient of a DM and whether a reply's message is visible. Each is an
   * indexed lookup or a counter row.
   */
  sendFacts(sender: string, q: { since: number; rateLimit: number; day: number; to: string | null; replyTo: string | null }): SendFacts {
    const remembered = this.recentSends.count(sender, q.since);
    const recent = remembered < q.rateLimit ? remembered : this.recentSends.recount(sender, q.since);
    const row = this.sql
      .exec<{ stored: number; sent_today: number; recipient_left: number | null; reply_visible: number }>(
        `SELECT (SELECT value FROM counters WHERE name = 'stored_bytes') AS stored,
                COALESCE((SELECT bytes FROM sent_bytes WHERE peer = ?1 AND day = ?2), 0) AS sent_today,
                (SELECT left_group FROM peers WHERE name = ?3) AS recipient_left,
                EXISTS (SELECT 1 FROM messages WHERE id = ?4 AND (recipient IS NULL OR recipient = ?1 OR sender = ?1)) AS reply_visible`,
        sender,
        q.day,
        q.to,
        q.replyTo,
      )
      .one();
    return {
      recent,
      stored: row.stored,
      sentToday: row.sent_today,
      recipient: row.recipient_left === null ? null : { left: row.recipient_left === 1 },
      replyVisible: row.reply_visible === 1,
    };
  }

  /** Stores a message. The triggers in schema.ts count its bytes in the same statement's transaction; search-index.ts indexes its text soon after. */
  insertMessage(m: NewMessage): Message {
    const row = this.sql
      .exec<MessageRow>(
        `INSERT INTO messages (id, sender, recipient, kind, text, reply_to, urgent, tags, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING *`,
        m.id,
        m.from,
        m.to,
        m.kind,
        m.text,
        m.reply_to,
        m.urgent ? 1 : 0,
        JSON.stringify(m.tags),
        m.at,
      )
      .one();
    this.recentSends.record(m.from, m.at);
    return toMessage(row);
  }

  /** A message `sender` sent with this id, if any (a retried ask must not ask twice). */
  sentBy(sender: string, id: string): Message | undefined {
    const row = this.sql.exec<MessageRow>(`SELECT * FROM messages WHERE id = ? AND sender = ?`, id, sender).toArray()[0];
    return row && toMessage(row);
  }

  /** The first reply from `from` to question `questionId` that `asker` can see. */
  replyTo(questionId: string, from: string, asker: string): Message | undefined {
    const row = this.sql
      .exec<MessageRow>(
        `SELECT * FROM messages WHERE sender = ?1 AND reply_to = ?2 AND (recipient = ?3 OR recipient IS NULL) ORDER BY seq LIMIT 1`,
        from,
        questionId,
        asker,
      )
      .toArray()[0];
    return row && toMessage(row);
  }

  /** Questions to `peer` it has not answered (no message from it with reply_to the question). */
  openQuestions(peer: string): Message[] {
    return this.sql
      .exec<MessageRow>(
        `SELECT * FROM messages q WHERE q.kind = 'question' AND q.recipient = ?1
           AND NOT EXISTS (SELECT 1 FROM messages a WHERE a.reply_to = q.id AND a.sender = ?1)
         ORDER BY q.seq DESC LIMIT 50`,
        peer,
      )
      .toArray()
      .reverse()
      .map(toMessage);
  }

  // Unread mail and read cursors -------------------------------------------------------------------

  /** The listener's unread mail after `after`, oldest first, leaving out `skip`. */
  unread(listener: Listener, after: number, limit: number, skip: readonly number[] = []): Message[] {
    return this.sql
      .exec<MessageRow>(
        `SELECT * FROM messages WHERE seq > ?2 AND ${heardBySql(listener.left)} AND ${NOT_READ_OUT_OF_ORDER} AND ${notIn(4)}
         ORDER BY seq LIMIT ?3`,
        listener.name,
        after,
        limit,
        JSON.stringify(skip),
      )
      .toArray()
      .map(toMessage);
  }

  countUnread(listener: Listener, after: number, skip: readonly number[] = []): number {
    return this.sql
      .exec<{ n: number }>(
        `SELECT COUNT(*) AS n FROM messages WHERE seq > ?2 AND ${heardBySql(listener.left)} AND ${NOT_READ_OUT_OF_ORDER} AND ${notIn(3)}`,
        listener.name,
        after,
        JSON.stringify(skip),
      )
      .one().n;
  }

  /**
   * Marks `seqs` read and moves the peer's cursor over every message read so far: up to just
   * before its oldest unread one (mail handed over but not confirmed counts as unread). Returns
   * the new cursor.
   */
  markRead(listener: Listener, seqs: readonly number[]): number {
    const peer = this.sql.exec<{ read_cursor: number }>(`SELECT read_cursor FROM peers WHERE name = ?`, listener.name).toArray()[0];
    if (!peer) return 0;
    for (const seq of seqs) {
      if (seq > peer.read_cursor) this.sql.exec(`INSERT OR IGNORE INTO read_marks (peer, seq) VALUES (?, ?)`, listener.name, seq);
    }
    const oldestUnread = this.sql
      .exec<{ seq: number | null }>(
        `SELECT MIN(seq) AS seq FROM messages WHERE seq > ?2 AND ${heardBySql(listener.left)} AND ${NOT_READ_OUT_OF_ORDER}`,
        listener.name,
        peer.read_cursor,
      )
      .one().seq;
    const cursor = oldestUnread === null ? this.latestSeq() : oldestUnread - 1;
    // Everything up to the cursor is read; out-of-order marks below it are no longer needed.
    this.sql.exec(`UPDATE peers SET read_cursor = MAX(read_cursor, ?) WHERE name = ?`, cursor, listener.name);
    this.sql.exec(`DELETE FROM read_marks WHERE peer = ? AND seq <= ?`, listener.name, cursor);
    return Math.max(cursor, peer.read_cursor);
  }

  /**
   * What the listener has waiting, counted without marking anything read, for Claude Code hooks
   * that run on every prompt and stop. "Attention" mail is what may interrupt: DMs, questions and
   * anything urgent.
   */
  unreadSummary(listener: Listener, after: number): UnreadSummary {
    const unread = `seq > ?2 AND ${heardBySql(listener.left)} AND ${NOT_READ_OUT_OF_ORDER}`;
    const counts = this.sql
      .exec<{ total: number; dms: number | null; question_count: number | null; urgent: number | null; highest_seq: number | null; attention_seq: number | null }>(
        `SELECT COUNT(*) AS total,
                SUM(recipient = ?1 AND kind = 'dm') AS dms,
                SUM(recipient = ?1 AND kind = 'question') AS question_count,
                SUM(urgent) AS urgent,
                MAX(seq) AS highest_seq,
                MAX(CASE WHEN recipient = ?1 OR urgent = 1 THEN seq END) AS attention_seq
         FROM messages WHERE ${unread}`,
        listener.name,
        after,
      )
      .one();
    const questions = this.sql
      .exec<{ id: string; sender: string; seq: number }>(
        `SELECT id, sender, seq FROM messages WHERE ${unread} AND recipient = ?1 AND kind = 'question' ORDER BY seq LIMIT ?3`,
        listener.name,
        after,
        MAX_SUMMARY_NAMES,
      )
      .toArray()
      .map((row) => ({ id: row.id, from: row.sender, seq: row.seq }));
    const dmFrom = this.sql
      .exec<{ sender: string }>(
        `SELECT sender FROM messages WHERE ${unread} AND recipient = ?1 AND kind = 'dm' GROUP BY sender ORDER BY MIN(seq) LIMIT ?3`,
        listener.name,
        after,
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

  /** One page of notices for a replay: the facts of unread mail after `after`, no text. */
  noticesAfter(listener: Listener, after: number, limit: number): NoticeFacts[] {
    return this.sql
      .exec<{ seq: number; id: string; sender: string; kind: string; urgent: number }>(
        `SELECT seq, id, sender, kind, urgent FROM messages
         WHERE seq > ?2 AND ${heardBySql(listener.left)} AND ${NOT_READ_OUT_OF_ORDER} ORDER BY seq LIMIT ?3`,
        listener.name,
        after,
        limit,
      )
      .toArray()
      .map((r) => ({ seq: r.seq, id: r.id, from: r.sender, kind: r.kind as NoticeFacts["kind"], urgent: r.urgent === 1 }));
  }

  // Retention ---------------------------------------------------------------------------------------

  /** Deletes messages older than `cutoff` (their index entries and byte counts go with them) and forgets send totals of days before `day`. */
  deleteBefore(cutoff: number, day: number): void {
    this.sql.exec(`DELETE FROM messages WHERE created_at < ?`, cutoff);
    this.sql.exec(`DELETE FROM read_marks WHERE seq NOT IN (SELECT seq FROM messages)`);
    // Only today's send totals are ever checked.
    this.sql.exec(`DELETE FROM sent_bytes WHERE day < ?`, day);
  }

  hasMessages(): boolean {
    return this.sql.exec(`SELECT 1 FROM messages LIMIT 1`).toArray().length > 0;
  }
}

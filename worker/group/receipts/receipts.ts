/**
 * Read receipts: per message and recipient, when the mail was announced to the recipient's
 * session (its bridge acked a notice typed into the pane, or a hook printed a line about it) and
 * when it was handed to the recipient's model (a read the Worker confirmed). One row per
 * (seq, peer), written by one statement per call, in the same synchronous run as the ack or the
 * read-cursor move it records, so both commit together or not at all.
 *
 * Only the sender of a message and observers may see its receipts.
 */
import { MAX_ANNOUNCED_SEQS, MAX_PRESSING_MAIL, MAX_RECEIPT_RECIPIENTS } from "../../../contract/limits.ts";
import type { MessageStatus, PressingMail, RecipientReceipt } from "../../../contract/receipts.ts";
import { heardBySql, type Listener, sees } from "../audience.ts";
import { iso } from "../rows.ts";
import { type Caller, fail, ok, type Outcome } from "../types.ts";

/** The receipts table, appended as its own migration (schema.ts). */
export function receiptsMigration(): string[] {
  return [
    `CREATE TABLE receipts (
       seq INTEGER NOT NULL,
       peer TEXT NOT NULL,
       announced_at INTEGER,
       read_at INTEGER,
       PRIMARY KEY (seq, peer)
     ) WITHOUT ROWID`,
    // Retention deletes messages; their receipts go in the same statement's transaction.
    `CREATE TRIGGER receipts_follow_messages AFTER DELETE ON messages BEGIN
       DELETE FROM receipts WHERE seq = old.seq;
     END`,
  ];
}

/** Mail the listener (bound as ?1, read cursor ?2) has not read: past the cursor and not read out of order. */
const UNREAD = `seq > ?2 AND NOT EXISTS (SELECT 1 FROM read_marks r WHERE r.peer = ?1 AND r.seq = messages.seq)`;

export interface ReceiptPeers {
  listener(peer: string): Listener;
  readCursor(peer: string): number | undefined;
  isObserver(peer: string): boolean;
}

export class Receipts {
  private readonly sql: SqlStorage;
  private readonly peers: ReceiptPeers;

  constructor(sql: SqlStorage, peers: ReceiptPeers) {
    this.sql = sql;
    this.peers = peers;
  }

  /** The peer's model was handed `seqs` (a confirmed read): one statement for the whole batch. */
  read(peer: string, seqs: readonly number[], now: number): void {
    if (seqs.length === 0) return;
    this.sql.exec(
      `INSERT INTO receipts (seq, peer, read_at) SELECT value, ?1, ?2 FROM json_each(?3) WHERE true
       ON CONFLICT (seq, peer) DO UPDATE SET read_at = excluded.read_at WHERE read_at IS NULL`,
      peer,
      now,
      JSON.stringify(seqs),
    );
  }

  /**
   * The peer's bridge acked notices after `after` through `through`: its unread mail in that range
   * was announced to its session. Mail already read is left alone (the bridge acks it unsent).
   */
  announcedRange(peer: string, after: number, through: number, now: number): void {
    if (through <= after) return;
    const listener = this.peers.listener(peer);
    const cursor = this.peers.readCursor(peer);
    if (cursor === undefined) return;
    this.sql.exec(
      `INSERT INTO receipts (seq, peer, announced_at)
         SELECT seq, ?1, ?5 FROM messages WHERE ${UNREAD} AND seq > ?3 AND seq <= ?4 AND ${heardBySql(listener.left)}
       ON CONFLICT (seq, peer) DO UPDATE SET announced_at = excluded.announced_at WHERE announced_at IS NULL`,
      peer,
      cursor,
      after,
      through,
      now,
    );
  }

  /** A hook told the caller's session about `seqs`, or about all its unread mail through `through`. */
  announcedByHook(caller: Caller, report: { seqs?: number[]; through_seq?: number }, now: number): Outcome<{ recorded: boolean }> {
    const seqs = report.seqs ?? [];
    if (seqs.length > MAX_ANNOUNCED_SEQS) return fail("invalid_input", `Report at most ${MAX_ANNOUNCED_SEQS} seqs at once.`);
    const cursor = this.peers.readCursor(caller.peer);
    if (cursor === undefined) return ok({ recorded: false });
    if (report.through_seq !== undefined) this.announcedRange(caller.peer, cursor, report.through_seq, now);
    if (seqs.length > 0) {
      const listener = this.peers.listener(caller.peer);
      this.sql.exec(
        `INSERT INTO receipts (seq, peer, announced_at)
           SELECT seq, ?1, ?4 FROM messages WHERE ${UNREAD} AND seq IN (SELECT value FROM json_each(?3)) AND ${heardBySql(listener.left)}
         ON CONFLICT (seq, peer) DO UPDATE SET announced_at = excluded.announced_at WHERE announced_at IS NULL`,
        caller.peer,
        cursor,
        JSON.stringify(seqs),
        now,
      );
    }
    return ok({ recorded: true });
  }

  /** Unread urgent mail and unread questions to the caller, oldest first: what may interrupt a turn. */
  pressing(caller: Caller): PressingMail[] {
    const cursor = this.peers.readCursor(caller.peer);
    if (cursor === undefined) return [];
    const listener = this.peers.listener(caller.peer);
    return this.sql
      .exec<{ seq: number; id: string; sender: string; kind: string; urgent: number }>(
        `SELECT seq, id, sender, kind, urgent FROM messages
         WHERE ${UNREAD} AND ${heardBySql(listener.left)} AND (urgent = 1 OR (kind = 'question' AND recipient = ?1))
         ORDER BY seq LIMIT ?3`,
        caller.peer,
        cursor,
        MAX_PRESSING_MAIL,
      )
      .toArray()
      .map((r) => ({ seq: r.seq, id: r.id, from: r.sender, kind: r.kind as PressingMail["kind"], urgent: r.urgent === 1 }));
  }

  /** Who has read message `id`, for its sender or an observer. */
  status(caller: Caller, id: string): Outcome<MessageStatus> {
    const message = this.sql
      .exec<{ seq: number; sender: string; recipient: string | null }>(`SELECT seq, sender, recipient FROM messages WHERE id = ?`, id)
      .toArray()[0];
    const observer = caller.role === "observer" || this.peers.isObserver(caller.peer);
    // A message the caller cannot see is answered as missing: its existence is not the caller's business.
    if (!message || !sees({ peer: caller.peer, observer }, { from: message.sender, to: message.recipient })) {
      return fail("unknown_message", `No message ${id} that you can see. Use the id your send returned (m_...), or get_history to find it.`);
    }
    if (message.sender !== caller.peer && !observer) {
      return fail("forbidden", `Only the sender of ${id} (${message.sender}) and observers can see who read it. Ask ${message.sender} if you need to know.`);
    }
    const rows = this.sql
      .exec<{ name: string; read_cursor: number; announced_at: number | null; read_at: number | null; marked: number }>(
        `SELECT p.name, p.read_cursor, r.announced_at, r.read_at,
                EXISTS (SELECT 1 FROM read_marks m WHERE m.peer = p.name AND m.seq = ?1) AS marked
         FROM peers p LEFT JOIN receipts r ON r.seq = ?1 AND r.peer = p.name
         WHERE CASE WHEN ?3 IS NOT NULL THEN p.name = ?3
                    ELSE p.name != ?2 AND (p.left_group = 0 OR r.seq IS NOT NULL) END
         ORDER BY p.name LIMIT ?4`,
        message.seq,
        message.sender,
        message.recipient,
        MAX_RECEIPT_RECIPIENTS,
      )
      .toArray();
    const recipients = rows.map((row): RecipientReceipt => {
      if (row.read_at !== null) return { peer: row.name, state: "read", at: iso(row.read_at) };
      // Read before the relay kept receipts, or moved past by the cursor: read, time unknown.
      if (row.read_cursor >= message.seq || row.marked === 1) return { peer: row.name, state: "read" };
      if (row.announced_at !== null) return { peer: row.name, state: "announced", at: iso(row.announced_at) };
      return { peer: row.name, state: "not_yet" };
    });
    return ok({ id, seq: message.seq, ...(message.recipient !== null && { to: message.recipient }), recipients });
  }

  /** For the web room: the receipts of the caller's own messages among `seqs`, by seq. */
  ownMarks(caller: Caller, seqs: readonly number[]): Record<number, { read: string[]; announced: string[] }> {
    const marks: Record<number, { read: string[]; announced: string[] }> = {};
    if (seqs.length === 0) return marks;
    const rows = this.sql
      .exec<{ seq: number; peer: string; read_at: number | null }>(
        `SELECT r.seq, r.peer, r.read_at FROM receipts r JOIN messages m ON m.seq = r.seq
         WHERE m.sender = ?1 AND r.seq IN (SELECT value FROM json_each(?2)) ORDER BY r.seq, r.peer`,
        caller.peer,
        JSON.stringify(seqs),
      )
      .toArray();
    for (const row of rows) {
      const mark = (marks[row.seq] ??= { read: [], announced: [] });
      (row.read_at !== null ? mark.read : mark.announced).push(row.peer);
    }
    return marks;
  }
}

/**
 * Everything the group object keeps in SQLite: the queries, the row types and the mapping from
 * rows to the values tools see. The only module that writes SQL. Every call is synchronous, so a
 * method that makes several writes with no `await` between them commits them as one transaction
 * (the Durable Object's input/output gates).
 */
import type { MessageKind } from "../../contract/frames.ts";
import { MAX_SUMMARY_NAMES, type UnreadSummary } from "../../contract/unread.ts";
import type { HistoryQuery, InviteRecord, Message, PeerInfo, Profile, StateEntry } from "../types.ts";
import { SEARCH_SCAN_CHARS } from "../../contract/limits.ts";
import type { BoardEntry, PauseInfo, RoomPeer } from "../web/frames.ts";
import { heardBySql, type Listener, seenBySql, type Viewer } from "./audience.ts";
import { migrate } from "./schema.ts";

interface MessageRow extends Record<string, SqlStorageValue> {
  seq: number;
  id: string;
  sender: string;
  recipient: string | null;
  kind: string;
  text: string;
  reply_to: string | null;
  urgent: number;
  tags: string;
  created_at: number;
}

export interface PeerRow extends Record<string, SqlStorageValue> {
  name: string;
  profile: string;
  first_seen: number;
  last_seen: number;
  left_group: number;
  read_cursor: number;
  acked_seq: number;
}

interface StateRow extends Record<string, SqlStorageValue> {
  key: string;
  value: string;
  updated_by: string;
  updated_at: number;
}

/** What a notice needs of a message: no text, so a replay reads a few bytes per message. */
export type NoticeFacts = Pick<Message, "seq" | "id" | "from" | "kind" | "urgent">;

/** A message about to be stored: everything but what storage assigns (seq) and how time is shown. */
export type NewMessage = Omit<Message, "seq" | "time"> & { at: number };

const utf8 = new TextEncoder();

/** A UTC day as the quota counts it: whole days since the epoch. */
export const DAY_MS = 86_400_000;

/** The start of the minute `ms` falls in. */
function toMinute(ms: number): number {
  return ms - (ms % 60_000);
}

export function iso(ms: number): string {
  return new Date(ms).toISOString();
}

function toMessage(row: MessageRow): Message {
  return {
    id: row.id,
    seq: row.seq,
    from: row.sender,
    to: row.recipient,
    kind: row.kind as MessageKind,
    text: row.text,
    reply_to: row.reply_to,
    urgent: row.urgent === 1,
    tags: JSON.parse(row.tags) as string[],
    time: iso(row.created_at),
  };
}

/** Mail the listener has not read out of order (an ask_peer reply handed straight to the asker). */
const NOT_READ_OUT_OF_ORDER = `NOT EXISTS (SELECT 1 FROM read_marks r WHERE r.peer = ?1 AND r.seq = messages.seq)`;
/** Leaves out the seqs in the JSON array bound as `?N` (mail handed over, not yet confirmed). */
const notIn = (param: number) => `seq NOT IN (SELECT value FROM json_each(?${param}))`;

/** ASCII letters to lower case and nothing else: SQLite's LIKE and lower() fold exactly these. */
function asciiLower(text: string): string {
  return text.replace(/[A-Z]+/g, (run) => run.toLowerCase());
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/**
 * The query as it is matched: case-folded like LIKE, with any lone UTF-16 surrogate replaced
 * as SQLite replaces it when the string is bound (stored text never has one). Null for no query.
 */
function searchNeedle(query: string | undefined): string | null {
  if (query === undefined || query === "") return null;
  return asciiLower(query.replace(LONE_SURROGATE, "\uFFFD"));
}

/** Distinct trigrams of the query the index is asked for at most; see trigramQuery. */
const MAX_QUERY_TRIGRAMS = 16;

/**
 * User text as an FTS5 query that can only mean "rows with these trigrams": each trigram is a
 * double-quoted string, inside which nothing is syntax but the quote itself (doubled), so
 * operators in the text (AND, NEAR, *, ^, column filters) are just characters. The index keeps
 * no positions (detail=none), so this asks which rows hold every trigram, not where: a superset
 * of the rows that contain the query, which history() narrows by the exact rule. Asking for
 * positions would let a crafted query over repetitive text cost seconds (measured: 200 'a's over
 * 20 MB of 'a's took 3.6 s as a phrase). At most MAX_QUERY_TRIGRAMS distinct ones, spread along
 * the query: more only narrow a candidate set that history() reads on a budget anyway.
 */
export function trigramQuery(needle: string): string {
  const chars = [...needle];
  const trigrams = [...new Set(chars.slice(2).map((_, i) => chars.slice(i, i + 3).join("")))];
  const step = Math.max(1, trigrams.length / MAX_QUERY_TRIGRAMS);
  const picked = new Set<string>();
  for (let i = 0; i < trigrams.length && picked.size < MAX_QUERY_TRIGRAMS; i += step) picked.add(trigrams[Math.floor(i)]!);
  picked.add(trigrams.at(-1)!);
  return [...picked].map((t) => `"${t.replace(/"/g, '""')}"`).join(" AND ");
}

/**
 * A page of messages: who may see what as WHERE fragments over `messages` (binds numbered from
 * ?1), then paging and an optional search.
 */
export interface PageRequest {
  where: string[];
  binds: SqlStorageValue[];
  /** Only seqs above this, oldest first (a live surface catching up). */
  after?: number;
  /** Only seqs below this, newest first (the default). */
  before?: number;
  query?: string;
  limit: number;
}

/**
 * The SQL of a page (exported so a test can EXPLAIN it). Without a query the rows are taken in
 * seq order with LIMIT. With a query of 3+ characters the trigram index drives the loop (CROSS
 * JOIN keeps SQLite from scanning `messages` and probing the index per row) and hands rowids in
 * order; a shorter query, or one with a NUL (which FTS5 would cut short), walks the messages in
 * order. Either way GroupStore.page checks each row against the exact rule and stops reading at
 * its budget, so there is no LIMIT.
 */
export function pageStatement(request: PageRequest): { sql: string; binds: SqlStorageValue[]; needle: string | null } {
  const needle = searchNeedle(request.query);
  const indexed = needle !== null && [...needle].length >= 3 && !needle.includes("\0");
  const binds = [...request.binds];
  const bind = (value: SqlStorageValue) => `?${binds.push(value)}`;
  const where = [...request.where];
  if (indexed) where.unshift(`f.messages_fts MATCH ${bind(trigramQuery(needle))}`);
  // On the index's rowid when the index drives, so FTS5 itself starts at the bound.
  const seq = indexed ? "f.rowid" : "messages.seq";
  if (request.after !== undefined) where.push(`${seq} > ${bind(request.after)}`);
  if (request.before !== undefined) where.push(`${seq} < ${bind(request.before)}`);
  const from = indexed ? `messages_fts f CROSS JOIN messages ON messages.seq = f.rowid` : `messages`;
  const order = request.after !== undefined ? "ASC" : "DESC";
  const limit = needle === null ? ` LIMIT ${bind(request.limit + 1)}` : "";
  return { sql: `SELECT messages.* FROM ${from} WHERE ${where.join(" AND ")} ORDER BY ${seq} ${order}${limit}`, binds, needle };
}

/** get_history's page: the group channel, or the caller's own DM thread with `query.peer`. */
export function historyRequest(caller: string, query: HistoryQuery): PageRequest {
  const request: PageRequest =
    query.peer === undefined
      ? { where: [`recipient IS NULL`], binds: [], limit: query.limit }
      : // Only the caller's own thread with that peer: DMs between two others never match.
        { where: [`((sender = ?1 AND recipient = ?2) OR (sender = ?2 AND recipient = ?1))`], binds: [caller, query.peer], limit: query.limit };
  if (query.before !== undefined) request.before = query.before;
  if (query.query !== undefined) request.query = query.query;
  return request;
}

/**
 * The highest seq the group has ever issued, as an SQL expression: AUTOINCREMENT's own counter,
 * which retention never moves back (GroupStore.latestSeq says why that matters).
 */
const LATEST_SEQ = `COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'messages'), 0)`;

export class GroupStore {
  private readonly sql: SqlStorage;

  constructor(storage: DurableObjectStorage) {
    this.sql = storage.sql;
    migrate(storage);
  }

  // Peers ----------------------------------------------------------------------------------------

  /** Records that the peer is alive; creates it on first sight. `rejoin` undoes leave_group. */
  touch(name: string, now: number, rejoin = false): PeerRow {
    // A newcomer's cursors start at the newest seq: the group's past is history, not unread mail.
    // The newest seq is read inside the statement, so a call by a known peer costs one statement.
    return this.sql
      .exec<PeerRow>(
        `INSERT INTO peers (name, first_seen, last_seen, read_cursor, acked_seq)
         VALUES (?1, ?2, ?2, (${LATEST_SEQ}), (${LATEST_SEQ}))
         ON CONFLICT (name) DO UPDATE SET last_seen = ?2, left_group = CASE WHEN ?3 THEN 0 ELSE left_group END
         RETURNING *`,
        name,
        now,
        rejoin ? 1 : 0,
      )
      .one();
  }

  peer(name: string): PeerRow | undefined {
    return this.sql.exec<PeerRow>(`SELECT * FROM peers WHERE name = ?`, name).toArray()[0];
  }

  /** Peers who have not left, by name. */
  presentPeers(): PeerRow[] {
    return this.sql.exec<PeerRow>(`SELECT * FROM peers WHERE left_group = 0 ORDER BY name`).toArray();
  }

  leftPeerNames(): string[] {
    return this.sql.exec<{ name: string }>(`SELECT name FROM peers WHERE left_group = 1`).toArray().map((r) => r.name);
  }

  setProfile(name: string, profile: Profile): PeerRow {
    return this.sql.exec<PeerRow>(`UPDATE peers SET profile = ? WHERE name = ? RETURNING *`, JSON.stringify(profile), name).one();
  }

  markLeft(name: string): void {
    this.sql.exec(`UPDATE peers SET left_group = 1 WHERE name = ?`, name);
  }

  setAcked(name: string, seq: number): void {
    this.sql.exec(`UPDATE peers SET acked_seq = MAX(acked_seq, ?) WHERE name = ?`, seq, name);
  }

  /**
   * A peer as other peers see it. Its times are cut to the minute (the store keeps milliseconds):
   * enough to tell "active 3 min ago" from "gone since yesterday", too coarse to line up a peer's
   * activity with one particular send, such as a DM between two others showing up as a gap in
   * the seqs a third peer sees.
   */
  static peerInfo(row: PeerRow, online: boolean): PeerInfo {
    return {
      name: row.name,
      profile: JSON.parse(row.profile) as Profile,
      online,
      first_seen: iso(toMinute(row.first_seen)),
      last_seen: iso(toMinute(row.last_seen)),
    };
  }

  // Revocations ----------------------------------------------------------------------------------

  revocations(): Map<string, number> {
    const rows = this.sql.exec<{ peer: string; before: number }>(`SELECT peer, before FROM revocations`).toArray();
    return new Map(rows.map((r) => [r.peer, r.before]));
  }

  revoke(peer: string, before: number): void {
    this.sql.exec(
      `INSERT INTO revocations (peer, before) VALUES (?1, ?2) ON CONFLICT (peer) DO UPDATE SET before = MAX(before, ?2)`,
      peer,
      before,
    );
  }

  // Messages -------------------------------------------------------------------------------------

  /**
   * The highest seq the group has ever issued. Read from AUTOINCREMENT's own counter, not
   * MAX(seq): once retention has emptied the table MAX(seq) would go back to 0, and a bridge
   * comparing its last ack with it would decide the relay had been reset.
   */
  latestSeq(): number {
    return this.sql.exec<{ seq: number }>(`SELECT ${LATEST_SEQ} AS seq`).one().seq;
  }

  /**
   * What a message costs against the quotas: the UTF-8 bytes of its text and of its tags as
   * stored (a JSON array). The triggers in schema.ts count the same in SQL.
   */
  static messageBytes(text: string, tags: readonly string[]): number {
    return utf8.encode(text).length + utf8.encode(JSON.stringify(tags)).length;
  }

  /** Bytes of messages the group holds now (kept by triggers on insert and delete). */
  storedBytes(): number {
    return this.sql.exec<{ value: number }>(`SELECT value FROM counters WHERE name = 'stored_bytes'`).one().value;
  }

  /** Bytes of messages `peer` sent on UTC day `day` (epoch ms / DAY_MS). */
  sentBytesOn(peer: string, day: number): number {
    return this.sql.exec<{ bytes: number }>(`SELECT bytes FROM sent_bytes WHERE peer = ? AND day = ?`, peer, day).toArray()[0]?.bytes ?? 0;
  }

  /** Forgets daily send totals of days before `day`. */
  pruneSentBytes(day: number): void {
    this.sql.exec(`DELETE FROM sent_bytes WHERE day < ?`, day);
  }

  sentSince(sender: string, since: number): number {
    return this.sql.exec<{ n: number }>(`SELECT COUNT(*) AS n FROM messages WHERE sender = ? AND created_at > ?`, sender, since).one().n;
  }

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
    return toMessage(row);
  }

  /** A message `sender` sent with this id, if any (a retried ask must not ask twice). */
  sentBy(sender: string, id: string): Message | undefined {
    const row = this.sql.exec<MessageRow>(`SELECT * FROM messages WHERE id = ? AND sender = ?`, id, sender).toArray()[0];
    return row && toMessage(row);
  }

  /** Whether `peer` can see message `id`: a broadcast, or a DM to or from them. */
  isVisible(peer: string, id: string): boolean {
    return (
      this.sql.exec(`SELECT 1 FROM messages WHERE id = ?2 AND (recipient IS NULL OR recipient = ?1 OR sender = ?1)`, peer, id).toArray()
        .length > 0
    );
  }

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
    const peer = this.peer(listener.name);
    if (!peer) return 0;
    for (const seq of seqs) if (seq > peer.read_cursor) this.markReadOutOfOrder(listener.name, seq);
    const oldestUnread = this.sql
      .exec<{ seq: number | null }>(
        `SELECT MIN(seq) AS seq FROM messages WHERE seq > ?2 AND ${heardBySql(listener.left)} AND ${NOT_READ_OUT_OF_ORDER}`,
        listener.name,
        peer.read_cursor,
      )
      .one().seq;
    const cursor = oldestUnread === null ? this.latestSeq() : oldestUnread - 1;
    this.advanceCursor(listener.name, cursor);
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
      .map((r) => ({ seq: r.seq, id: r.id, from: r.sender, kind: r.kind as MessageKind, urgent: r.urgent === 1 }));
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

  /** Everything up to `through` is read; out-of-order marks below it are no longer needed. */
  advanceCursor(peer: string, through: number): void {
    this.sql.exec(`UPDATE peers SET read_cursor = MAX(read_cursor, ?) WHERE name = ?`, through, peer);
    this.sql.exec(`DELETE FROM read_marks WHERE peer = ? AND seq <= ?`, peer, through);
  }

  private markReadOutOfOrder(peer: string, seq: number): void {
    this.sql.exec(`INSERT OR IGNORE INTO read_marks (peer, seq) VALUES (?, ?)`, peer, seq);
  }

  /**
   * One page, oldest first as shown. With a query, a message matches when its text contains the
   * query, ignoring the case of ASCII letters only: exactly the `text LIKE '%query%'` this
   * replaced, without LIKE's pattern-length limit. Queries of 3+ characters are looked up in the
   * trigram index; shorter ones (no trigram to look up) walk the messages. Either way a call reads
   * at most SEARCH_SCAN_CHARS of text, so a search can never cost the group more than one bounded
   * read per call. `next` is where the following page starts (pass it as `before`, or as `after`
   * when reading forwards), set whenever there may be more: also when the budget ran out, even
   * with no hits on this page; null at the end.
   */
  page(request: PageRequest): { messages: Message[]; next: number | null } {
    const { sql, binds, needle } = pageStatement(request);
    const shown = (rows: MessageRow[]) => {
      const page = rows.slice(0, request.limit);
      return (request.after === undefined ? page.reverse() : page).map(toMessage);
    };
    if (needle === null) {
      const rows = this.sql.exec<MessageRow>(sql, ...binds).toArray();
      return { messages: shown(rows), next: rows.length > request.limit ? rows[request.limit - 1]!.seq : null };
    }
    const hits: MessageRow[] = [];
    let read = 0;
    let lastRead: number | null = null;
    let outOfBudget = false;
    for (const row of this.sql.exec<MessageRow>(sql, ...binds)) {
      if (hits.length > request.limit) break;
      if (read >= SEARCH_SCAN_CHARS) {
        outOfBudget = true;
        break;
      }
      read += row.text.length;
      lastRead = row.seq;
      if (asciiLower(row.text).includes(needle)) hits.push(row);
    }
    if (hits.length > request.limit) return { messages: shown(hits), next: hits[request.limit - 1]!.seq };
    return { messages: shown(hits), next: outOfBudget ? lastRead : null };
  }

  history(caller: string, query: HistoryQuery): { messages: Message[]; next: number | null } {
    return this.page(historyRequest(caller, query));
  }

  // The shared board -----------------------------------------------------------------------------

  hasKey(key: string): boolean {
    return this.sql.exec(`SELECT 1 FROM state WHERE key = ?`, key).toArray().length > 0;
  }

  keyCount(): number {
    return this.sql.exec<{ n: number }>(`SELECT COUNT(*) AS n FROM state`).one().n;
  }

  getKey(key: string): StateEntry | undefined {
    const row = this.sql.exec<StateRow>(`SELECT * FROM state WHERE key = ?`, key).toArray()[0];
    return row && { key: row.key, value_json: row.value, updated_by: row.updated_by, updated_at: iso(row.updated_at) };
  }

  /** Keys under `prefix` with who set them when, without their values. */
  listKeys(prefix: string): StateEntry[] {
    return this.sql
      .exec<StateRow>(`SELECT key, updated_by, updated_at FROM state WHERE substr(key, 1, length(?1)) = ?1 ORDER BY key`, prefix)
      .toArray()
      .map((row) => ({ key: row.key, updated_by: row.updated_by, updated_at: iso(row.updated_at) }));
  }

  setKey(key: string, valueJson: string, by: string, at: number): void {
    this.sql.exec(
      `INSERT INTO state (key, value, updated_by, updated_at) VALUES (?1, ?2, ?3, ?4)
       ON CONFLICT (key) DO UPDATE SET value = ?2, updated_by = ?3, updated_at = ?4`,
      key,
      valueJson,
      by,
      at,
    );
  }

  deleteKey(key: string): void {
    this.sql.exec(`DELETE FROM state WHERE key = ?`, key);
  }

  // The people's feed ------------------------------------------------------------------------------

  /**
   * What the viewer may see, text included, marking nothing read: forwards from `after` (a live
   * surface catching up), or the newest page before `before`, optionally searched (see page()).
   */
  feed(viewer: Viewer, q: { after?: number; before?: number; query?: string; limit: number }): { messages: Message[]; next: number | null } {
    return this.page({ where: [seenBySql(viewer.observer)], binds: [viewer.peer], ...q });
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

  /** The most recently changed board entries, values included (up to 200 keys). */
  boardEntries(): BoardEntry[] {
    return this.sql
      .exec<StateRow>(`SELECT key, value, updated_by, updated_at FROM state ORDER BY updated_at DESC, key LIMIT 200`)
      .toArray()
      .map((r) => ({ key: r.key, value_json: r.value, updated_by: r.updated_by, updated_at: iso(r.updated_at) }));
  }

  /** Every peer that ever used the group, left ones included, flagged. */
  roomPeers(observers: Set<string>, online: (name: string) => boolean): RoomPeer[] {
    return this.sql
      .exec<PeerRow>(`SELECT * FROM peers ORDER BY left_group, name`)
      .toArray()
      .map((r) => ({
        name: r.name,
        profile: JSON.parse(r.profile) as RoomPeer["profile"],
        online: online(r.name),
        last_seen: iso(toMinute(r.last_seen)),
        left: r.left_group === 1,
        observer: observers.has(r.name),
      }));
  }

  // Roles and pause -------------------------------------------------------------------------------

  setObserver(peer: string, observer: boolean): void {
    if (observer) this.sql.exec(`INSERT OR IGNORE INTO observers (name) VALUES (?)`, peer);
    else this.sql.exec(`DELETE FROM observers WHERE name = ?`, peer);
  }

  observerNames(): Set<string> {
    return new Set(this.sql.exec<{ name: string }>(`SELECT name FROM observers`).toArray().map((r) => r.name));
  }

  pause(): PauseInfo | null {
    const row = this.sql.exec<{ paused_by: string; reason: string; paused_at: number }>(`SELECT paused_by, reason, paused_at FROM pause`).toArray()[0];
    return row ? { by: row.paused_by, reason: row.reason, at: iso(row.paused_at) } : null;
  }

  setPause(by: string, reason: string, at: number): PauseInfo {
    this.sql.exec(
      `INSERT INTO pause (only, paused_by, reason, paused_at) VALUES (1, ?1, ?2, ?3)
       ON CONFLICT (only) DO UPDATE SET paused_by = ?1, reason = ?2, paused_at = ?3`,
      by,
      reason,
      at,
    );
    return { by, reason, at: iso(at) };
  }

  clearPause(): void {
    this.sql.exec(`DELETE FROM pause`);
  }

  // Retention ------------------------------------------------------------------------------------

  deleteMessagesBefore(cutoff: number): void {
    this.sql.exec(`DELETE FROM messages WHERE created_at < ?`, cutoff);
    this.sql.exec(`DELETE FROM read_marks WHERE seq NOT IN (SELECT seq FROM messages)`);
  }

  hasMessages(): boolean {
    return this.sql.exec(`SELECT 1 FROM messages LIMIT 1`).toArray().length > 0;
  }

  // Invites and the feed ------------------------------------------------------------------------

  /** Records an invite the secret holder made; recording it again changes nothing. */
  addInvite(id: string, maxUses: number, observer: boolean, createdAt: number, expiresAt: number): void {
    this.sql.exec(
      `INSERT OR IGNORE INTO invites (id, max_uses, observer, created_at, expires_at) VALUES (?, ?, ?, ?, ?)`,
      id,
      maxUses,
      observer ? 1 : 0,
      createdAt,
      expiresAt,
    );
  }

  invite(id: string): InviteRecord | undefined {
    return this.invites(`WHERE id = ?`, id)[0];
  }

  /** Every invite, newest first, with who joined with it. */
  allInvites(): InviteRecord[] {
    return this.invites("");
  }

  private invites(where: string, ...binds: SqlStorageValue[]): InviteRecord[] {
    return this.sql
      .exec<{ id: string; max_uses: number; observer: number; created_at: number; expires_at: number; revoked_at: number | null; used_by: string }>(
        `SELECT i.*, COALESCE((SELECT json_group_array(peer) FROM (SELECT peer FROM invite_uses u WHERE u.invite = i.id ORDER BY at)), '[]') AS used_by
         FROM invites i ${where} ORDER BY created_at DESC`,
        ...binds,
      )
      .toArray()
      .map((row) => ({
        id: row.id,
        max_uses: row.max_uses,
        observer: row.observer === 1,
        created_at: iso(row.created_at),
        expires_at: iso(row.expires_at),
        revoked_at: row.revoked_at === null ? null : iso(row.revoked_at),
        used_by: JSON.parse(row.used_by) as string[],
      }));
  }

  revokeInvite(id: string, at: number): boolean {
    return this.sql.exec(`UPDATE invites SET revoked_at = COALESCE(revoked_at, ?) WHERE id = ? RETURNING id`, at, id).toArray().length > 0;
  }

  useInvite(id: string, peer: string, at: number): void {
    this.sql.exec(`INSERT INTO invite_uses (invite, peer, at) VALUES (?, ?, ?)`, id, peer, at);
  }
}

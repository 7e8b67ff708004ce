/**
 * The one feed every human surface reads: what a viewer may see, text included, marking nothing
 * read. A peer sees broadcasts, and DMs and questions it sent or received; an observer sees every
 * message of the group. Plain functions over the group object's SQLite.
 */
import { HISTORY_MAX_LIMIT, MAX_QUERY_LENGTH } from "../../contract/limits.ts";
import { type MessageRow, toMessage } from "../group.ts";
import type { BoardEntry, RoomMessage, RoomPeer } from "./frames.ts";

export interface Viewer {
  peer: string;
  observer: boolean;
}

export interface FeedQuery {
  /** Only messages with a seq above this, oldest first (a live surface catching up). */
  after?: number;
  /** Only messages with a seq below this: the page before (scrolling back). */
  before?: number;
  /** Text to search for (plain substring, case-insensitive for ASCII). */
  query?: string;
  limit: number;
}

export interface FeedPage {
  messages: RoomMessage[];
  next_before: number | null;
}

/** The SQL condition for "the viewer may see this message" (?1 = peer, ?2 = 1 for an observer). */
const VISIBLE = `(?2 = 1 OR recipient IS NULL OR recipient = ?1 OR sender = ?1)`;

/** Clamps a query from any caller to the limits the tools use. */
export function boundedQuery(q: FeedQuery): FeedQuery {
  const bounded: FeedQuery = { limit: Math.max(1, Math.min(HISTORY_MAX_LIMIT, Math.floor(q.limit) || 1)) };
  if (q.after !== undefined && Number.isFinite(q.after)) bounded.after = Math.max(0, Math.floor(q.after));
  if (q.before !== undefined && Number.isFinite(q.before)) bounded.before = Math.max(0, Math.floor(q.before));
  if (q.query) bounded.query = q.query.slice(0, MAX_QUERY_LENGTH);
  return bounded;
}

export function feed(sql: SqlStorage, viewer: Viewer, raw: FeedQuery): FeedPage {
  const q = boundedQuery(raw);
  const conditions = [VISIBLE];
  const binds: SqlStorageValue[] = [viewer.peer, viewer.observer ? 1 : 0];
  if (q.after !== undefined) {
    conditions.push(`seq > ?${binds.push(q.after)}`);
  }
  if (q.before !== undefined) {
    conditions.push(`seq < ?${binds.push(q.before)}`);
  }
  if (q.query !== undefined) {
    conditions.push(`text LIKE ?${binds.push(`%${q.query.replace(/[\\%_]/g, (c) => `\\${c}`)}%`)} ESCAPE '\\'`);
  }
  // Catching up reads forwards from `after`; everything else is the newest page, read backwards.
  const order = q.after !== undefined ? "ASC" : "DESC";
  const rows = sql
    .exec<MessageRow>(`SELECT * FROM messages WHERE ${conditions.join(" AND ")} ORDER BY seq ${order} LIMIT ?${binds.push(q.limit + 1)}`, ...binds)
    .toArray();
  const more = rows.length > q.limit;
  const page = rows.slice(0, q.limit);
  if (order === "DESC") page.reverse();
  return { messages: page.map(toMessage), next_before: order === "DESC" && more && page[0] ? page[0].seq : null };
}

/** May the viewer see this message? The same rule as VISIBLE, for live delivery. */
export function visibleTo(message: RoomMessage, viewer: Viewer): boolean {
  return viewer.observer || message.to === null || message.to === viewer.peer || message.from === viewer.peer;
}

/** Questions addressed to the viewer that the viewer has not answered (no reply_to from them). */
export function openQuestions(sql: SqlStorage, peer: string): RoomMessage[] {
  return sql
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
export function boardEntries(sql: SqlStorage): BoardEntry[] {
  return sql
    .exec<{ key: string; value: string; updated_by: string; updated_at: number }>(
      `SELECT key, value, updated_by, updated_at FROM state ORDER BY updated_at DESC, key LIMIT 200`,
    )
    .toArray()
    .map((r) => ({ key: r.key, value_json: r.value, updated_by: r.updated_by, updated_at: new Date(r.updated_at).toISOString() }));
}

/** Every peer that ever used the group, left ones included, flagged. */
export function roomPeers(sql: SqlStorage, observers: Set<string>, online: (name: string) => boolean): RoomPeer[] {
  return sql
    .exec<{ name: string; profile: string; last_seen: number; left_group: number }>(
      `SELECT name, profile, last_seen, left_group FROM peers ORDER BY left_group, name`,
    )
    .toArray()
    .map((r) => ({
      name: r.name,
      profile: JSON.parse(r.profile) as RoomPeer["profile"],
      online: online(r.name),
      last_seen: new Date(r.last_seen).toISOString(),
      left: r.left_group === 1,
      observer: observers.has(r.name),
    }));
}

export function latestSeq(sql: SqlStorage): number {
  return sql.exec<{ s: number | null }>(`SELECT MAX(seq) AS s FROM messages`).one().s ?? 0;
}

/**
 * Paging through stored messages, optionally searched: get_history and the room's feed both read
 * here. A message matches a query when its text contains it, ignoring the case of ASCII letters
 * only (exactly `text LIKE '%query%'`, without LIKE's pattern-length limit). Queries of 3+
 * characters are looked up in the trigram index (schema.ts); every candidate is re-checked by the
 * exact rule, and a call reads at most SEARCH_SCAN_CHARS of text.
 */
import { SEARCH_SCAN_CHARS } from "../../../contract/limits.ts";
import type { Message } from "../types.ts";
import type { HistoryQuery } from "./schemas.ts";
import { type MessageRow, toMessage } from "../rows.ts";
import { catchUpSearchIndex } from "./search-index.ts";

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
 * of the rows that contain the query, which page() narrows by the exact rule. Asking for
 * positions would let a crafted query over repetitive text cost seconds (measured: 200 'a's over
 * 20 MB of 'a's took 3.6 s as a phrase). At most MAX_QUERY_TRIGRAMS distinct ones, spread along
 * the query: more only narrow a candidate set that page() reads on a budget anyway.
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
 * order. Either way page() checks each row against the exact rule and stops reading at its
 * budget, so there is no LIMIT.
 */
export function pageStatement(request: PageRequest): { sql: string; binds: SqlStorageValue[]; needle: string | null; indexed: boolean } {
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
  return { sql: `SELECT messages.* FROM ${from} WHERE ${where.join(" AND ")} ORDER BY ${seq} ${order}${limit}`, binds, needle, indexed };
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
 * One page, oldest first as shown. `next` is where the following page starts (pass it as
 * `before`, or as `after` when reading forwards), set whenever there may be more: also when the
 * budget ran out, even with no hits on this page; null at the end.
 */
export function page(sqlStorage: SqlStorage, request: PageRequest): { messages: Message[]; next: number | null } {
  const { sql, binds, needle, indexed } = pageStatement(request);
  // The index is filled in batches (search-index.ts): whatever was stored since the last one is
  // indexed now, so the search sees every message stored before it.
  if (indexed) catchUpSearchIndex(sqlStorage);
  const shown = (rows: MessageRow[]) => {
    const rowsShown = rows.slice(0, request.limit);
    return (request.after === undefined ? rowsShown.reverse() : rowsShown).map(toMessage);
  };
  if (needle === null) {
    const rows = sqlStorage.exec<MessageRow>(sql, ...binds).toArray();
    return { messages: shown(rows), next: rows.length > request.limit ? rows[request.limit - 1]!.seq : null };
  }
  const hits: MessageRow[] = [];
  let read = 0;
  let lastRead: number | null = null;
  let outOfBudget = false;
  for (const row of sqlStorage.exec<MessageRow>(sql, ...binds)) {
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

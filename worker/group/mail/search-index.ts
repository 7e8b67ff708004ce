/**
 * Filling the search index (messages_fts, schema.ts) in batches instead of on every send. A
 * trigger per insert made the trigram index the larger part of a send's SQL: FTS5 writes a new
 * segment for every transaction and keeps merging them. Here a send only asks for a catch-up a
 * moment later, which indexes everything stored since the last one in one statement; and every
 * indexed search catches up first, in the same turn, so a search always sees every message
 * stored before it, exactly as with the trigger.
 *
 * `fts_through` (a counters row) is the highest seq indexed. The index's delete and update
 * triggers act only at or below it: a message not yet indexed has nothing to remove, and is
 * indexed with its current text when its turn comes.
 */
import { LATEST_SEQ } from "../rows.ts";

/** How long after a send the index catches up: sends in between are indexed together. */
const CATCH_UP_DELAY_MS = 1_000;

/** The migration that moves indexing from the insert trigger to catch-ups (appended in schema.ts). */
export const BATCHED_SEARCH_INDEX_SCHEMA: readonly string[] = [
  `DROP TRIGGER IF EXISTS messages_fts_insert`,
  // Everything stored so far was indexed by that trigger (or by the index's own migration).
  `INSERT OR REPLACE INTO counters (name, value) VALUES ('fts_through', ${LATEST_SEQ})`,
  `DROP TRIGGER IF EXISTS messages_fts_delete`,
  `CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages
     WHEN old.seq <= (SELECT value FROM counters WHERE name = 'fts_through') BEGIN
     DELETE FROM messages_fts WHERE rowid = old.seq;
   END`,
  `DROP TRIGGER IF EXISTS messages_fts_update`,
  `CREATE TRIGGER messages_fts_update AFTER UPDATE OF text ON messages
     WHEN old.seq <= (SELECT value FROM counters WHERE name = 'fts_through') BEGIN
     DELETE FROM messages_fts WHERE rowid = old.seq;
     INSERT INTO messages_fts (rowid, body) VALUES (new.seq, new.text);
   END`,
];

/** Indexes every stored message not yet in the index. Throws if SQLite cannot (the caller decides). */
export function catchUpSearchIndex(sql: SqlStorage): void {
  sql.exec(
    `INSERT INTO messages_fts (rowid, body)
       SELECT seq, text FROM messages WHERE seq > (SELECT value FROM counters WHERE name = 'fts_through')`,
  );
  sql.exec(`UPDATE counters SET value = ${LATEST_SEQ} WHERE name = 'fts_through'`);
}

/** Catch-ups after sends: at most one pending, CATCH_UP_DELAY_MS after the send that asked. */
export class SearchIndexer {
  private readonly sql: SqlStorage;
  private pending: ReturnType<typeof setTimeout> | null = null;

  constructor(sql: SqlStorage) {
    this.sql = sql;
  }

  /** A message was stored: index it soon. */
  soon(): void {
    if (this.pending !== null) return;
    this.pending = setTimeout(() => {
      this.pending = null;
      try {
        catchUpSearchIndex(this.sql);
      } catch (error) {
        // The next search catches up, or says it cannot search; sending never depends on this.
        console.error("search index catch-up failed", error instanceof Error ? error.message : error);
      }
    }, CATCH_UP_DELAY_MS);
  }
}

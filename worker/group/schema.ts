import { claimsMigration } from "./claims/claims.ts";
import { CHAINS_MIGRATION } from "./chains/store.ts";
import { RESERVED_NAMES_SCHEMA } from "./invites/reserved-names.ts";
import { IDEMPOTENCY_SCHEMA } from "./mail/idempotency.ts";
import { receiptsMigration } from "./receipts/receipts.ts";
import { BATCHED_SEARCH_INDEX_SCHEMA } from "./mail/search-index.ts";
import { WEBHOOKS_SCHEMA } from "./webhooks/store.ts";

/**
 * The group object's SQLite schema, as an ordered list of migrations. Each runs once, inside one
 * transaction, and is recorded in `_migrations`; DO SQLite has no `PRAGMA user_version`, so the
 * table is the version.
 */
const MIGRATIONS: readonly (readonly string[])[] = [
  [
    // Everyone who has ever used the group. `read_cursor` is the highest seq read through
    // read_new_messages; `acked_seq` the highest a bridge confirmed it put in front of the peer.
    `CREATE TABLE peers (
       name TEXT PRIMARY KEY,
       profile TEXT NOT NULL DEFAULT '{}',
       first_seen INTEGER NOT NULL,
       last_seen INTEGER NOT NULL,
       left_group INTEGER NOT NULL DEFAULT 0,
       read_cursor INTEGER NOT NULL DEFAULT 0,
       acked_seq INTEGER NOT NULL DEFAULT 0
     )`,
    // AUTOINCREMENT (not plain rowid) so a seq is never reused after retention deletes the tail.
    // recipient NULL means a broadcast to the group.
    `CREATE TABLE messages (
       seq INTEGER PRIMARY KEY AUTOINCREMENT,
       id TEXT NOT NULL UNIQUE,
       sender TEXT NOT NULL,
       recipient TEXT,
       kind TEXT NOT NULL,
       text TEXT NOT NULL,
       reply_to TEXT,
       urgent INTEGER NOT NULL DEFAULT 0,
       tags TEXT NOT NULL DEFAULT '[]',
       created_at INTEGER NOT NULL
     )`,
    `CREATE INDEX messages_by_recipient ON messages (recipient, seq)`,
    `CREATE INDEX messages_by_sender ON messages (sender, created_at)`,
    `CREATE INDEX messages_by_reply ON messages (reply_to)`,
    `CREATE INDEX messages_by_time ON messages (created_at)`,
    // Messages a peer consumed out of order (an ask_peer reply handed straight back to the
    // asker), so they do not show up again as unread. Rows at or below the cursor are pruned.
    `CREATE TABLE read_marks (
       peer TEXT NOT NULL,
       seq INTEGER NOT NULL,
       PRIMARY KEY (peer, seq)
     )`,
    `CREATE TABLE state (
       key TEXT PRIMARY KEY,
       value TEXT NOT NULL,
       updated_by TEXT NOT NULL,
       updated_at INTEGER NOT NULL
     )`,
    // Tokens for `peer` issued before `before` (epoch ms) are refused.
    `CREATE TABLE revocations (
       peer TEXT PRIMARY KEY,
       before INTEGER NOT NULL
     )`,
  ],
  [
    // Peers whose latest token is an observer's: list_peers and the page say an observer is there.
    `CREATE TABLE observers (name TEXT PRIMARY KEY)`,
    // At most one row: while it exists, every send and board write by a non-lead is refused.
    `CREATE TABLE pause (
       only INTEGER PRIMARY KEY CHECK (only = 1),
       paused_by TEXT NOT NULL,
       reason TEXT NOT NULL,
       paused_at INTEGER NOT NULL
     )`,
  ],
  [
    // Invites: the signed link is checked by the Worker; how often it was used and whether it was
    // revoked is counted here, so a link for one person works once however often it is opened.
    `CREATE TABLE invites (
       id TEXT PRIMARY KEY,
       max_uses INTEGER NOT NULL,
       observer INTEGER NOT NULL DEFAULT 0,
       created_at INTEGER NOT NULL,
       expires_at INTEGER NOT NULL,
       revoked_at INTEGER
     )`,
    `CREATE TABLE invite_uses (
       invite TEXT NOT NULL,
       peer TEXT NOT NULL,
       at INTEGER NOT NULL,
       PRIMARY KEY (invite, peer)
     )`,
  ],
  [
    // Search by index (get_history's `query`). The trigram tokenizer indexes every 3-character
    // run of the text, so the rows holding all of a query's trigrams include every row that
    // contains it as a substring, not just as a whole word: a word tokenizer (unicode61, porter)
    // would miss "deploy" inside "redeployed", parts of paths and identifiers, and CJK text
    // without spaces. It folds case Unicode-wide where SQLite's LIKE folds only ASCII, so the
    // feed and history re-check each candidate against the exact old rule (mail/search.ts).
    // detail=none keeps no positions: the index is a fraction of the text's size, and no crafted
    // query can make FTS5 walk position lists (trigramQuery). Contentless: the text lives once,
    // in `messages`; contentless_delete lets the triggers delete by rowid without the old text.
    // Queries of 1-2 characters have no trigram and take a bounded scan instead.
    `CREATE VIRTUAL TABLE messages_fts USING fts5(body, tokenize = 'trigram', content = '', contentless_delete = 1, detail = none)`,
    `INSERT INTO messages_fts (rowid, body) SELECT seq, text FROM messages`,
    `CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN
       INSERT INTO messages_fts (rowid, body) VALUES (new.seq, new.text);
     END`,
    // Retention deletes rows; whatever deletes them, their index entries go with them.
    `CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN
       DELETE FROM messages_fts WHERE rowid = old.seq;
     END`,
    `CREATE TRIGGER messages_fts_update AFTER UPDATE OF text ON messages BEGIN
       DELETE FROM messages_fts WHERE rowid = old.seq;
       INSERT INTO messages_fts (rowid, body) VALUES (new.seq, new.text);
     END`,
  ],
  [
    // Quotas. A message costs the UTF-8 bytes of its text plus those of its tags as stored (a
    // JSON array); MailStore.messageBytes is the same rule in code. The group's total is one
    // counter row kept by triggers in the same transaction as the insert or delete, so a send
    // checks it with one read instead of a SUM over every message, and retention frees quota.
    `CREATE TABLE counters (
       name TEXT PRIMARY KEY,
       value INTEGER NOT NULL
     )`,
    `INSERT INTO counters (name, value)
       SELECT 'stored_bytes', COALESCE(SUM(length(CAST(text AS BLOB)) + length(CAST(tags AS BLOB))), 0) FROM messages`,
    `CREATE TRIGGER messages_bytes_insert AFTER INSERT ON messages BEGIN
       UPDATE counters SET value = value + length(CAST(new.text AS BLOB)) + length(CAST(new.tags AS BLOB)) WHERE name = 'stored_bytes';
     END`,
    `CREATE TRIGGER messages_bytes_delete AFTER DELETE ON messages BEGIN
       UPDATE counters SET value = value - length(CAST(old.text AS BLOB)) - length(CAST(old.tags AS BLOB)) WHERE name = 'stored_bytes';
     END`,
    // What each peer sent per UTC day (day = epoch ms / 86,400,000). Not decremented when
    // retention deletes: it is a sending budget, not storage. Past days are pruned by the alarm.
    `CREATE TABLE sent_bytes (
       peer TEXT NOT NULL,
       day INTEGER NOT NULL,
       bytes INTEGER NOT NULL,
       PRIMARY KEY (peer, day)
     )`,
    `CREATE TRIGGER messages_sent_bytes AFTER INSERT ON messages BEGIN
       INSERT INTO sent_bytes (peer, day, bytes)
         VALUES (new.sender, new.created_at / 86400000, length(CAST(new.text AS BLOB)) + length(CAST(new.tags AS BLOB)))
         ON CONFLICT (peer, day) DO UPDATE SET bytes = bytes + excluded.bytes;
     END`,
    `INSERT INTO sent_bytes (peer, day, bytes)
       SELECT sender, created_at / 86400000, SUM(length(CAST(text AS BLOB)) + length(CAST(tags AS BLOB))) FROM messages GROUP BY 1, 2`,
  ],
  // Names reserved by minting a token through the relay; the table and its rules live beside their queries.
  RESERVED_NAMES_SCHEMA,
  [
    // Page sessions signed out before their cookie expired (group/peers/sessions.ts). `until` is when
    // the cookie would have expired anyway: rows past it are pruned.
    `CREATE TABLE ended_sessions (
       id TEXT PRIMARY KEY,
       until INTEGER NOT NULL
     )`,
    `CREATE INDEX ended_sessions_by_until ON ended_sessions (until)`,
  ],
  // Path claims (group/claims/claims.ts).
  claimsMigration(),
  // Idempotency keys of sends (group/mail/idempotency.ts).
  IDEMPOTENCY_SCHEMA,
  // Read receipts (group/receipts/receipts.ts).
  receiptsMigration(),
  // Chains and budgets (group/chains/store.ts).
  CHAINS_MIGRATION,
  // The search index filled in batches, not by a trigger per send (group/mail/search-index.ts).
  BATCHED_SEARCH_INDEX_SCHEMA,
  // Webhooks and their deliveries (group/webhooks/store.ts).
  WEBHOOKS_SCHEMA,
];

export function migrate(storage: DurableObjectStorage): void {
  const sql = storage.sql;
  sql.exec(`CREATE TABLE IF NOT EXISTS _migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)`);
  const applied = sql.exec<{ v: number | null }>(`SELECT MAX(version) AS v FROM _migrations`).one().v ?? 0;
  MIGRATIONS.forEach((statements, index) => {
    const version = index + 1;
    if (version <= applied) return;
    storage.transactionSync(() => {
      for (const statement of statements) sql.exec(statement);
      sql.exec(`INSERT INTO _migrations (version, applied_at) VALUES (?, ?)`, version, Date.now());
    });
  });
}

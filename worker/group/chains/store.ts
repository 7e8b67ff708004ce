/**
 * Chains' SQL. A message's chain lives in a side table keyed by message id (`chain_messages`),
 * written by the one statement a send adds (`admitAgent` or `recordPerson`): the
 * triggers below create the chain, charge every chain the message joined, and empty the sender's
 * handed set in that same statement. The chain rows are the running totals a send is checked
 * against, so no send ever counts over messages.
 */
import { CHAIN_PREVIEW_MESSAGES } from "../../../contract/limits.ts";

/** Who wrote a message, as chains count it. */
export type Voice = "agent" | "person" | "free";

export const CHAINS_MIGRATION: readonly string[] = [
  // `agent_messages` counts agent messages since a person last spoke in the chain (or a lead
  // continued it). `held_*` is set when a send was refused on its account; `ended_*` when a lead
  // ended it. The id is small and sequential so a person can type it (`relay-bridge continue 12`).
  `CREATE TABLE chains (
     id INTEGER PRIMARY KEY,
     started_by TEXT NOT NULL,
     started_at INTEGER NOT NULL,
     agent_messages INTEGER NOT NULL DEFAULT 0,
     total_messages INTEGER NOT NULL DEFAULT 0,
     last_at INTEGER NOT NULL,
     person_at INTEGER,
     person_by TEXT,
     held_at INTEGER,
     held_by TEXT,
     ended_at INTEGER,
     ended_by TEXT
   )`,
  `CREATE INDEX chains_by_last ON chains (last_at)`,
  // Every stored message's chain. `joined` is the JSON array of chains it was charged to (its own
  // among them); `charge` what their agent count became.
  `CREATE TABLE chain_messages (
     id TEXT PRIMARY KEY,
     chain INTEGER NOT NULL,
     sender TEXT NOT NULL,
     voice TEXT NOT NULL,
     at INTEGER NOT NULL,
     charge INTEGER NOT NULL,
     joined TEXT NOT NULL
   )`,
  `CREATE INDEX chain_messages_by_chain ON chain_messages (chain, at)`,
  // The chains of the mail each peer was handed since its previous send: its next send joins them all.
  `CREATE TABLE chain_handed (
     peer TEXT NOT NULL,
     chain INTEGER NOT NULL,
     PRIMARY KEY (peer, chain)
   ) WITHOUT ROWID`,
  // Peers who have spoken as a person (the room or the CLI): an ask_peer to them is free.
  `CREATE TABLE chain_people (
     name TEXT PRIMARY KEY,
     at INTEGER NOT NULL
   )`,
  // When a person last spoke anywhere in the group: the group's hourly budget counts from there.
  `INSERT INTO counters (name, value) VALUES ('person_spoke_at', 0)`,
  // Agent messages per minute over the last hour, kept by a trigger: a send sums at most 60 rows
  // instead of counting every agent message of the hour.
  `CREATE TABLE chain_agent_minutes (
     minute INTEGER PRIMARY KEY,
     n INTEGER NOT NULL
   )`,
  `CREATE TRIGGER chain_messages_minute AFTER INSERT ON chain_messages WHEN new.voice = 'agent' BEGIN
     INSERT INTO chain_agent_minutes (minute, n) VALUES (CAST(new.at / 60000 AS INTEGER), 1)
       ON CONFLICT (minute) DO UPDATE SET n = n + 1;
     DELETE FROM chain_agent_minutes WHERE minute < CAST(new.at / 60000 AS INTEGER) - 60;
   END`,
  `CREATE TRIGGER chain_messages_charge AFTER INSERT ON chain_messages BEGIN
     INSERT INTO chains (id, started_by, started_at, last_at) VALUES (new.chain, new.sender, new.at, new.at) ON CONFLICT (id) DO NOTHING;
     UPDATE chains SET
       agent_messages = CASE new.voice WHEN 'agent' THEN new.charge WHEN 'person' THEN 0 ELSE agent_messages END,
       total_messages = total_messages + 1,
       last_at = new.at,
       person_at = CASE new.voice WHEN 'person' THEN new.at ELSE person_at END,
       person_by = CASE new.voice WHEN 'person' THEN new.sender ELSE person_by END,
       held_at = CASE new.voice WHEN 'person' THEN NULL ELSE held_at END,
       held_by = CASE new.voice WHEN 'person' THEN NULL ELSE held_by END
     WHERE id IN (SELECT value FROM json_each(new.joined));
   END`,
  // A free question (to a person) keeps the asker's handed set: it must not launder a chain.
  `CREATE TRIGGER chain_messages_clear_handed AFTER INSERT ON chain_messages WHEN new.voice != 'free' BEGIN
     DELETE FROM chain_handed WHERE peer = new.sender;
   END`,
  `CREATE TRIGGER chain_messages_person AFTER INSERT ON chain_messages WHEN new.voice = 'person' BEGIN
     INSERT INTO chain_people (name, at) VALUES (new.sender, new.at) ON CONFLICT (name) DO UPDATE SET at = excluded.at;
     UPDATE counters SET value = new.at WHERE name = 'person_spoke_at';
   END`,
  // Retention deletes messages; their chain rows go with them, and a chain left with no message
  // goes too. (Its id can then come back only if it was the newest chain: the group was silent
  // for the whole retention period.)
  `CREATE TRIGGER messages_chain_delete AFTER DELETE ON messages BEGIN
     DELETE FROM chain_messages WHERE id = old.id;
   END`,
  `CREATE TRIGGER chain_messages_delete AFTER DELETE ON chain_messages
   WHEN NOT EXISTS (SELECT 1 FROM chain_messages WHERE chain = old.chain) BEGIN
     DELETE FROM chains WHERE id = old.chain;
     DELETE FROM chain_handed WHERE chain = old.chain;
   END`,
];

/** The chains a send by `?1` joins: those it was handed since its last send, and its reply's. */
const JOINED = `SELECT chain FROM chain_handed WHERE peer = ?1 UNION SELECT chain FROM chain_messages WHERE id = ?2`;
/**
 * Agent messages since a person last spoke anywhere in the group, within the hour before `?3`,
 * counted by the minute: the minute a person spoke in is left out, so the count errs low by at
 * most that minute's messages.
 */
const HOURLY = `(SELECT COALESCE(SUM(n), 0) FROM chain_agent_minutes
  WHERE minute > CAST(MAX(?3, (SELECT value FROM counters WHERE name = 'person_spoke_at')) / 60000 AS INTEGER))`;

export interface ChainRow extends Record<string, SqlStorageValue> {
  id: number;
  started_by: string;
  started_at: number;
  agent_messages: number;
  total_messages: number;
  last_at: number;
  person_at: number | null;
  person_by: string | null;
  held_at: number | null;
  held_by: string | null;
  ended_at: number | null;
  ended_by: string | null;
}

export interface Admitted {
  chain: number;
  charge: number;
  voice: Voice;
}

export interface RefusalFacts {
  /** The joined chains, fullest first. */
  chains: ChainRow[];
  hourly: number;
}

export interface PreviewRow extends Record<string, SqlStorageValue> {
  seq: number;
  sender: string;
  recipient: string | null;
  text: string;
  created_at: number;
}

export class ChainStore {
  private readonly sql: SqlStorage;

  constructor(sql: SqlStorage) {
    this.sql = sql;
  }

  /**
   * The check and the record of an agent's send in one statement: it joins every chain it was
   * handed and its reply's, is charged the fullest one's count plus one, and is recorded only if
   * none of them is held or ended, that count is within `budget`, and the group's hourly count is
   * within `perHour`. A question to a peer who has spoken as a person (`questionTo`) is free: it
   * joins the fullest chain uncharged and is never refused. Null when refused: nothing was written.
   */
  admitAgent(q: { sender: string; replyTo: string | null; id: string; now: number; budget: number; perHour: number; questionTo: string | null }): Admitted | null {
    const rows = this.sql
      .exec<{ chain: number; charge: number; voice: Voice }>(
        `WITH joined(chain) AS (${JOINED}),
         facts AS (
           SELECT (SELECT MAX(agent_messages) FROM chains WHERE id IN joined) AS most,
                  (SELECT COUNT(*) FROM chains WHERE id IN joined AND (held_at IS NOT NULL OR ended_at IS NOT NULL)) AS stopped,
                  ${HOURLY} AS hourly,
                  (SELECT id FROM chains WHERE id IN joined ORDER BY agent_messages DESC, id LIMIT 1) AS fullest,
                  (SELECT COALESCE(MAX(id), 0) + 1 FROM chains) AS next_id,
                  (SELECT json_group_array(chain) FROM joined) AS joined_json,
                  EXISTS (SELECT 1 FROM chain_people WHERE name = ?8) AS free
         )
         INSERT INTO chain_messages (id, chain, sender, voice, at, charge, joined)
         SELECT ?4, COALESCE(fullest, next_id), ?1, CASE WHEN free THEN 'free' ELSE 'agent' END, ?5,
                CASE WHEN free THEN 0 ELSE COALESCE(most, 0) + 1 END,
                CASE WHEN fullest IS NULL THEN json_array(next_id) WHEN free THEN json_array(fullest) ELSE joined_json END
         FROM facts WHERE free OR (stopped = 0 AND COALESCE(most, 0) < ?6 AND hourly < ?7)
         RETURNING chain, charge, voice`,
        q.sender,
        q.replyTo,
        q.now - 3_600_000,
        q.id,
        q.now,
        q.budget,
        q.perHour,
        q.questionTo,
      )
      .toArray();
    return rows[0] ?? null;
  }

  /** A person's message: it renews the chain of the message it answers, or starts a new one. */
  recordPerson(q: { sender: string; replyTo: string | null; id: string; now: number }): Admitted {
    return this.sql
      .exec<{ chain: number; charge: number; voice: Voice }>(
        `WITH joined(chain) AS (SELECT chain FROM chain_messages WHERE id = ?2),
         facts AS (
           SELECT (SELECT id FROM chains WHERE id IN joined ORDER BY agent_messages DESC, id LIMIT 1) AS fullest,
                  (SELECT COALESCE(MAX(id), 0) + 1 FROM chains) AS next_id
         )
         INSERT INTO chain_messages (id, chain, sender, voice, at, charge, joined)
         SELECT ?3, COALESCE(fullest, next_id), ?1, 'person', ?4, 0, json_array(COALESCE(fullest, next_id)) FROM facts
         RETURNING chain, charge, voice`,
        q.sender,
        q.replyTo,
        q.id,
        q.now,
      )
      .one();
  }

  /** Why an agent's send was refused: the chains it would have joined, and the group's hour. */
  refusalFacts(sender: string, replyTo: string | null, now: number): RefusalFacts {
    const chains = this.sql
      .exec<ChainRow>(`SELECT * FROM chains WHERE id IN (${JOINED}) ORDER BY ended_at IS NULL, held_at IS NULL, agent_messages DESC, id`, sender, replyTo)
      .toArray();
    const hourly = this.sql.exec<{ n: number }>(`SELECT ${HOURLY} AS n`, null, null, now - 3_600_000).one().n;
    return { chains, hourly };
  }

  markHeld(chain: number, by: string, now: number): void {
    this.sql.exec(`UPDATE chains SET held_at = ?, held_by = ? WHERE id = ? AND held_at IS NULL AND ended_at IS NULL`, now, by, chain);
  }

  /** `peer` was handed these messages: its next send joins their chains (ended ones aside). */
  hand(peer: string, messageIds: readonly string[]): void {
    if (messageIds.length === 0) return;
    this.sql.exec(
      `INSERT OR IGNORE INTO chain_handed (peer, chain)
       SELECT ?1, cm.chain FROM chain_messages cm JOIN chains c ON c.id = cm.chain
       WHERE cm.id IN (SELECT value FROM json_each(?2)) AND cm.sender != ?1 AND c.ended_at IS NULL`,
      peer,
      JSON.stringify(messageIds),
    );
  }

  /**
   * A person spoke to `peer`'s own session: the chains that session is in (what it was handed since
   * its last send, and that send's) get a fresh budget, and its next send starts afresh.
   */
  personSpokeTo(peer: string, now: number): number[] {
    const renewed = this.sql
      .exec<{ id: number }>(
        `UPDATE chains SET agent_messages = 0, held_at = NULL, held_by = NULL, person_at = ?2, person_by = ?1
         WHERE ended_at IS NULL AND id IN (
           SELECT chain FROM chain_handed WHERE peer = ?1
           UNION SELECT chain FROM (SELECT chain FROM chain_messages WHERE sender = ?1 ORDER BY at DESC LIMIT 1))
         RETURNING id`,
        peer,
        now,
      )
      .toArray()
      .map((r) => r.id);
    this.sql.exec(`DELETE FROM chain_handed WHERE peer = ?`, peer);
    this.sql.exec(`UPDATE counters SET value = MAX(value, ?) WHERE name = 'person_spoke_at'`, now);
    return renewed;
  }

  chain(id: number): ChainRow | undefined {
    return this.sql.exec<ChainRow>(`SELECT * FROM chains WHERE id = ?`, id).toArray()[0];
  }

  /** A lead's yes: a fresh budget, and the group's hour counts from now. */
  continueChain(id: number, by: string, now: number): ChainRow | undefined {
    const row = this.sql
      .exec<ChainRow>(`UPDATE chains SET agent_messages = 0, held_at = NULL, held_by = NULL, person_at = ?2, person_by = ?3 WHERE id = ?1 AND ended_at IS NULL RETURNING *`, id, now, by)
      .toArray()[0];
    if (row) this.sql.exec(`UPDATE counters SET value = MAX(value, ?) WHERE name = 'person_spoke_at'`, now);
    return row;
  }

  /** A lead's no: the chain leaves the list and every handed set; a reply to its mail is refused. */
  endChain(id: number, by: string, now: number): ChainRow | undefined {
    const row = this.sql.exec<ChainRow>(`UPDATE chains SET ended_at = ?2, ended_by = ?3 WHERE id = ?1 AND ended_at IS NULL RETURNING *`, id, now, by).toArray()[0];
    if (row) this.sql.exec(`DELETE FROM chain_handed WHERE chain = ?`, id);
    return row;
  }

  /** Open chains: held ones (and any at their budget) first, then the most recently active. */
  list(budget: number, limit: number): ChainRow[] {
    return this.sql
      .exec<ChainRow>(`SELECT * FROM chains WHERE ended_at IS NULL ORDER BY (held_at IS NOT NULL OR agent_messages >= ?1) DESC, last_at DESC LIMIT ?2`, budget, limit)
      .toArray();
  }

  /** Who sent in a chain, in order of their first message there. */
  peers(chain: number): string[] {
    return this.sql
      .exec<{ sender: string }>(`SELECT sender FROM chain_messages WHERE chain = ? GROUP BY sender ORDER BY MIN(at), sender LIMIT 20`, chain)
      .toArray()
      .map((r) => r.sender);
  }

  /** The chain's last few messages `viewer` may see (seenBySql's rule), oldest first. */
  preview(chain: number, viewer: string, observer: boolean): PreviewRow[] {
    return this.sql
      .exec<PreviewRow>(
        `SELECT m.seq, m.sender, m.recipient, m.text, m.created_at FROM messages m JOIN chain_messages cm ON cm.id = m.id
         WHERE cm.chain = ?2 AND (?3 = 1 OR m.recipient IS NULL OR m.recipient = ?1 OR m.sender = ?1)
         ORDER BY m.seq DESC LIMIT ?4`,
        viewer,
        chain,
        observer ? 1 : 0,
        CHAIN_PREVIEW_MESSAGES,
      )
      .toArray()
      .reverse();
  }

  hourly(now: number): number {
    return this.sql.exec<{ n: number }>(`SELECT ${HOURLY} AS n`, null, null, now - 3_600_000).one().n;
  }
}

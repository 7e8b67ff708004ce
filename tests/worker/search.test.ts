/**
 * get_history's `query`: looked up in a trigram index, not scanned, with the same answers as the
 * `text LIKE '%query%'` it replaced (ASCII letters case-insensitive, everything else exact),
 * at any query length the tool accepts, and a bounded cost per call however the query is built.
 */
import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { MAX_QUERY_LENGTH, SEARCH_SCAN_CHARS } from "../../contract/limits.ts";
import { historyRequest, pageStatement, trigramQuery } from "../../worker/group/mail/search.ts";
import { migrate } from "../../worker/group/schema.ts";
import { BASE, freshGroup, mint, peer, sqlIn, stubFor, workerFetch } from "./helpers.ts";

/** mulberry32, so the history and the sample of queries are the same on every run. */
function prng(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const WORDS = [
  "deploy", "Deploy", "DEPLOY", "redeployed", "build", "failed", "FAILED", "snake_case", "100%", "50_50",
  "école", "École", "ÉCOLE", "über", "Über", "部署", "完成", "测试", "🚀", "e\u0301t\u00e9",
  'say "hi"', "a*b", "NEAR(x y)", "body:xyz", "^start", "x OR y", "back\\slash", "tab\there", "line\nbreak", "ok",
];

function text(rand: () => number, words: number): string {
  const out: string[] = [];
  for (let i = 0; i < words; i++) out.push(WORDS[Math.floor(rand() * WORDS.length)]!);
  return out.join(rand() < 0.5 ? " " : "");
}

/** Inserts straight into the table, as years of use would have: the triggers index each row. */
async function seed(group: string, rows: { sender: string; recipient: string | null; text: string }[]): Promise<void> {
  await runInDurableObject(stubFor(group), (_instance, state) => {
    let n = 0;
    for (const row of rows) {
      state.storage.sql.exec(
        `INSERT INTO messages (id, sender, recipient, kind, text, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
        `m_seed${group}${n++}`,
        row.sender,
        row.recipient,
        row.recipient === null ? "group" : "dm",
        row.text,
        Date.now(),
      );
    }
  });
}

type Caller = Awaited<ReturnType<typeof peer>>;

/** Every seq a search finds, following next_before to the end, newest first. */
async function searchAll(caller: Caller, args: Record<string, unknown>): Promise<{ seqs: number[]; calls: number }> {
  const seqs: number[] = [];
  let before: number | undefined;
  for (let calls = 1; ; calls++) {
    const page = await caller.call("get_history", { ...args, limit: 200, ...(before !== undefined && { before }) });
    expect(page.isError, page.text).toBe(false);
    seqs.push(...page.data.messages.map((m: { seq: number }) => m.seq).reverse());
    // The structured result leaves out next_before at the end (it has no nulls).
    if (page.data.next_before === undefined) return { seqs, calls };
    before = page.data.next_before;
  }
}

/** The rule the index must reproduce, run by SQLite itself: the old search's exact SQL. */
async function likeSeqs(group: string, query: string, channel: { peer?: string; caller: string }): Promise<number[]> {
  const pattern = `%${query.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
  const rows =
    channel.peer === undefined
      ? await sqlIn(group, `SELECT seq FROM messages WHERE recipient IS NULL AND text LIKE ? ESCAPE '\\' ORDER BY seq DESC`, pattern)
      : await sqlIn(
          group,
          `SELECT seq FROM messages WHERE ((sender = ?1 AND recipient = ?2) OR (sender = ?2 AND recipient = ?1)) AND text LIKE ?3 ESCAPE '\\' ORDER BY seq DESC`,
          channel.caller,
          channel.peer,
          pattern,
        );
  return rows.map((r) => r.seq as number);
}

describe("get_history search", () => {
  // Seeding 3 MB and running 76 searches takes seconds on a quiet machine and minutes on a loaded
  // one: the timeout only catches a hang.
  it("over a few MB of history, uses the FTS index and finds exactly what LIKE found", async () => {
    const group = freshGroup("fts");
    const alice = await peer(group, "alice");
    const bob = await peer(group, "bob");
    await bob.call("list_peers");
    const rand = prng(2026);
    const rows = Array.from({ length: 900 }, (_, i) => ({
      sender: i % 3 === 0 ? "bob" : "alice",
      recipient: i % 5 === 0 ? (i % 3 === 0 ? "alice" : "bob") : i % 7 === 0 ? "carol" : null,
      text: text(rand, 200 + Math.floor(rand() * 800)),
    }));
    await seed(group, rows);
    const total = (await sqlIn(group, `SELECT SUM(length(CAST(text AS BLOB))) AS n FROM messages`))[0]!.n as number;
    expect(total).toBeGreaterThan(3_000_000);

    // The plan: the index drives, and each hit is fetched by primary key; no scan of messages.
    const plan = pageStatement(historyRequest("alice", { query: "deploy", limit: 50 }));
    const steps = (await sqlIn(group, `EXPLAIN QUERY PLAN ${plan.sql}`, ...plan.binds)).map((r) => r.detail as string);
    expect(steps[0]).toMatch(/^SCAN f VIRTUAL TABLE INDEX/);
    expect(steps.slice(1)).toEqual([expect.stringMatching(/^SEARCH messages USING INTEGER PRIMARY KEY/)]);

    const sample = [
      "deploy", "DEPLOY", "dEpLoY", "redeploy", "FaIlEd", "école", "ÉCOLE", "Über", "über", "部署完", "部署", "🚀",
      "snake_case", "_", "%", "100%", "50_5", 'say "hi"', '"', 'hi" OR "x', "a*b", "*", "NEAR(x y)", "body:xyz",
      "^start", "x OR y", "back\\slash", "\\", "tab\th", "line\nbr", "e\u0301t", "ok", "o", "É", "zzz-nowhere",
      "deploydeploy", "deploy deploy", "failedbuild",
    ];
    for (const query of sample) {
      for (const channel of [{ caller: "alice" }, { caller: "alice", peer: "bob" }]) {
        const found = await searchAll(alice, { query, ...(channel.peer && { peer: channel.peer }) });
        expect(found.seqs, `query ${JSON.stringify(query)} ${channel.peer ?? "group"}`).toEqual(await likeSeqs(group, query, channel));
      }
    }
  }, 300_000);

  it("queries of up to MAX_QUERY_LENGTH characters work; LIKE failed from 49", async () => {
    const group = freshGroup("fts");
    const alice = await peer(group, "alice");
    const long = "The quick brown fox jumps over the lazy dog; ".repeat(10).slice(0, MAX_QUERY_LENGTH);
    const sent = await alice.call("send_message", { text: `before ${long} after` });
    await alice.call("send_message", { text: long.slice(0, 120) });
    for (const length of [48, 49, 50, 120, 121, MAX_QUERY_LENGTH]) {
      const result = await alice.call("get_history", { query: long.slice(0, length).toUpperCase() });
      expect(result.isError, `${length}: ${result.text}`).toBe(false);
      const expected = length <= 120 ? 2 : 1;
      expect(result.data.messages.map((m: { id: string }) => m.id), `length ${length}`).toHaveLength(expected);
      expect(result.data.messages.at(0)?.id).toBe(sent.data.id);
    }
  });

  it("a search reads at most SEARCH_SCAN_CHARS per call and says where to carry on; following it finds everything", async () => {
    const group = freshGroup("fts");
    const alice = await peer(group, "alice");
    const big = "x".repeat(60_000);
    const count = Math.ceil((SEARCH_SCAN_CHARS * 2.5) / big.length);
    // The only matches are the oldest message and one in the middle.
    await seed(group, [
      { sender: "alice", recipient: null, text: `${big} needle` },
      ...Array.from({ length: count }, (_, i) => ({ sender: "alice", recipient: null, text: i === count / 2 ? `${big}ne` : big })),
    ]);
    // A 2-character query has no trigram: it walks the channel, and the first page stops at the
    // budget with nothing found yet and says where to carry on.
    const first = await alice.call("get_history", { query: "NE" });
    expect(first.isError).toBe(false);
    expect(first.data.messages).toHaveLength(0);
    expect(first.data.next_before).toEqual(expect.any(Number));
    expect(first.text).toMatch(/Older: before=\d+/);
    const short = await searchAll(alice, { query: "ne" });
    expect(short.seqs).toHaveLength(2);
    expect(short.calls).toBeGreaterThanOrEqual(3);
    // A longer one is looked up in the index, which reads only the message that has it.
    const indexed = await searchAll(alice, { query: "NEEDLE" });
    expect(indexed).toEqual({ seqs: [expect.any(Number)], calls: 1 });
  });

  it("text that looks like FTS5 query syntax is searched for literally", async () => {
    const group = freshGroup("fts");
    const alice = await peer(group, "alice");
    for (const t of ['say "hi" OR bye', "NEAR(deploy build)", "body:secret", "prefix* match", "^anchored", "plain deploy build"]) {
      await alice.call("send_message", { text: t });
    }
    const texts = async (query: string) => (await alice.call("get_history", { query })).data.messages.map((m: { text: string }) => m.text);
    expect(await texts('"hi" OR')).toEqual(['say "hi" OR bye']);
    expect(await texts("hi OR bye")).toEqual([]);
    expect(await texts("NEAR(deploy")).toEqual(["NEAR(deploy build)"]);
    expect(await texts("deploy build")).toEqual(["NEAR(deploy build)", "plain deploy build"]);
    expect(await texts("body:")).toEqual(["body:secret"]);
    expect(await texts("fix*")).toEqual(["prefix* match"]);
    expect(await texts("pre*")).toEqual([]);
    expect(await texts("^anc")).toEqual(["^anchored"]);
    expect(await texts('"')).toEqual(['say "hi" OR bye']);
    expect(await texts('"""')).toEqual([]);
  });

  it("retention and deletes take messages out of the index too", async () => {
    const group = freshGroup("fts");
    const alice = await peer(group, "alice");
    const kept = await alice.call("send_message", { text: "unique-token kept" });
    const gone = await alice.call("send_message", { text: "unique-token gone" });
    // A search brings the index up to date (it is filled in batches): both are in it now.
    expect((await alice.call("get_history", { query: "unique-token" })).data.messages).toHaveLength(2);
    await sqlIn(group, `DELETE FROM messages WHERE id = ?`, gone.data.id);
    const hits = await sqlIn(group, `SELECT rowid FROM messages_fts WHERE messages_fts MATCH ?`, trigramQuery("unique-token"));
    expect(hits).toEqual([{ rowid: kept.data.seq }]);
  });

  it("rows stored before the index existed are found once the migration has run", async () => {
    const group = freshGroup("fts");
    const alice = await peer(group, "alice");
    await alice.call("send_message", { text: "written after the index" });
    // Roll the group back to the schema before the index, store a message there, and migrate again.
    await runInDurableObject(stubFor(group), (_instance, state) => {
      const sql = state.storage.sql;
      for (const trigger of sql.exec<{ name: string }>(`SELECT name FROM sqlite_master WHERE type = 'trigger'`).toArray()) {
        sql.exec(`DROP TRIGGER ${trigger.name}`);
      }
      // Every table a later migration made goes, so the migrations after the roles-and-pause one (2)
      // run again from scratch.
      const firstTwo = new Set(["_migrations", "peers", "messages", "read_marks", "state", "revocations", "observers", "pause"]);
      const tables = sql.exec<{ name: string }>(`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cf_%'`).toArray();
      for (const { name } of tables) if (!firstTwo.has(name) && !name.startsWith("messages_fts_")) sql.exec(`DROP TABLE IF EXISTS ${name}`);
      sql.exec(`DELETE FROM _migrations WHERE version > 2`);
      sql.exec(`INSERT INTO messages (id, sender, kind, text, created_at) VALUES ('m_old', 'alice', 'group', 'written before the index', ?)`, Date.now());
      migrate(state.storage);
    });
    const found = (await alice.call("get_history", { query: "WRITTEN" })).data.messages.map((m: { text: string }) => m.text);
    expect(found).toEqual(["written after the index", "written before the index"]);
  });

  it("the room's feed searches the same way, within what each viewer may see", async () => {
    const group = freshGroup("fts");
    const alice = await peer(group, "alice");
    const bob = await peer(group, "bob");
    await bob.call("list_peers");
    const long = "Searching the room for a sentence far longer than forty-nine characters";
    await alice.call("send_message", { text: `broadcast: ${long}` });
    await alice.call("send_dm", { to: "bob", text: `dm: ${long.toUpperCase()}` });
    const feed = async (token: string, query: string) => {
      const response = await workerFetch(`${BASE}/g/${group}/api/feed?q=${encodeURIComponent(query)}`, { headers: { Authorization: `Bearer ${token}` } });
      expect(response.status).toBe(200);
      return ((await response.json()) as { messages: { text: string }[] }).messages.map((m) => m.text);
    };
    const carol = await mint(group, "carol");
    const owl = await mint(group, "owl", { r: "observer" });
    expect(await feed(bob.token, long)).toEqual([`broadcast: ${long}`, `dm: ${long.toUpperCase()}`]);
    expect(await feed(carol, long)).toEqual([`broadcast: ${long}`]);
    expect(await feed(owl, "DM: SEARCHING")).toEqual([`dm: ${long.toUpperCase()}`]);
    expect(await feed(carol, "dm")).toEqual([]);
  });

  it("a search SQLite cannot run is a tool error that says what to do, not an internal error", async () => {
    const group = freshGroup("fts");
    const alice = await peer(group, "alice");
    await alice.call("send_message", { text: "hello there" });
    // Break the index under the object's feet: the next indexed search fails inside SQLite.
    await sqlIn(group, `DROP TRIGGER messages_fts_delete`);
    await sqlIn(group, `DROP TRIGGER messages_fts_update`);
    await sqlIn(group, `DROP TABLE messages_fts`);
    const result = await alice.call("get_history", { query: "hello" });
    expect(result.isError).toBe(true);
    expect(result.data.error).toBe("invalid_input");
    expect(result.text).toMatch(/could not run this search.*shorter query.*before/);
    // Everything else still works.
    expect((await alice.call("get_history")).data.messages).toHaveLength(1);
  });
});

describe("the index is filled in batches, never behind a search", () => {
  it("a message is found by the first search after it is sent, and a later send is indexed without a search", async () => {
    const group = freshGroup("fts");
    const alice = await peer(group, "alice");
    const indexed = () => sqlIn(group, `SELECT rowid FROM messages_fts WHERE messages_fts MATCH ?`, trigramQuery("batch-token"));
    const first = await alice.call("send_message", { text: "batch-token one" });
    expect((await alice.call("get_history", { query: "BATCH-TOKEN" })).data.messages.map((m: { seq: number }) => m.seq)).toEqual([first.data.seq]);
    const second = await alice.call("send_message", { text: "batch-token two" });
    await expect.poll(indexed).toEqual([{ rowid: first.data.seq }, { rowid: second.data.seq }]);
  });

  it("a message edited or deleted before it was indexed is indexed as it is, or not at all", async () => {
    const group = freshGroup("fts");
    const alice = await peer(group, "alice");
    const edited = await alice.call("send_message", { text: "draft-token" });
    const deleted = await alice.call("send_message", { text: "draft-token deleted" });
    await sqlIn(group, `UPDATE messages SET text = 'final-token' WHERE id = ?`, edited.data.id);
    await sqlIn(group, `DELETE FROM messages WHERE id = ?`, deleted.data.id);
    expect((await alice.call("get_history", { query: "draft-token" })).data.messages).toEqual([]);
    expect((await alice.call("get_history", { query: "final-token" })).data.messages.map((m: { seq: number }) => m.seq)).toEqual([edited.data.seq]);
  });
});

/**
 * What one send costs the group object in SQL statements, counted on the real object: the send
 * rules read everything they check in one statement, the chain budget is checked and recorded in
 * a second (group/chains/), the message is stored in a third (its triggers count it; the search
 * index catches up in batches), and the sender's last_seen, shown to the minute, is written only
 * when that minute changes. One group's throughput rests on this path, so the count is held here.
 */
import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { freshGroup, peer, stubFor } from "./helpers.ts";

interface Counted {
  statements: string[];
}

/** Starts recording every statement the object runs through its SqlStorage. */
async function recordStatements(group: string): Promise<void> {
  await runInDurableObject(stubFor(group), (instance, state) => {
    const sql = state.storage.sql;
    const exec = sql.exec.bind(sql);
    const log: Counted = { statements: [] };
    (instance as unknown as { statementLog: Counted }).statementLog = log;
    sql.exec = ((query: string, ...binds: SqlStorageValue[]) => {
      log.statements.push(query.replace(/\s+/g, " ").trim());
      return exec(query, ...binds);
    }) as typeof sql.exec;
  });
}

/** The statements run since the last call, and a fresh start. */
function takeStatements(group: string): Promise<string[]> {
  return runInDurableObject(stubFor(group), (instance) => {
    const log = (instance as unknown as { statementLog: Counted }).statementLog;
    return log.statements.splice(0);
  });
}

const isTouch = (statement: string) => statement.startsWith("INSERT INTO peers");

describe("the SQL of one send", () => {
  it("a broadcast, a DM and a reply each run three statements: the checks, the chain and the insert (plus last_seen once a minute)", async () => {
    const group = freshGroup("cost");
    const alice = await peer(group, "alice");
    const bob = await peer(group, "bob");
    await bob.call("list_peers");
    const first = await alice.call("send_message", { text: "warm up" });
    await recordStatements(group);

    const sends: [string, Record<string, unknown>][] = [
      ["send_message", { text: "to everyone" }],
      ["send_dm", { to: "bob", text: "to bob" }],
      ["send_message", { text: "a reply", reply_to: first.data.id, tags: ["t"] }],
    ];
    for (const [tool, args] of sends) {
      await takeStatements(group);
      const sent = await alice.call(tool, args);
      expect(sent.isError).toBe(false);
      const statements = await takeStatements(group);
      // The minute may turn between two sends: then, and only then, last_seen is written too.
      expect(statements.filter((s) => !isTouch(s))).toHaveLength(3);
      expect(statements.filter((s) => s.includes("INSERT INTO chain_messages"))).toHaveLength(1);
      expect(statements.filter(isTouch).length).toBeLessThanOrEqual(1);
      expect(statements.at(-1)).toMatch(/^INSERT INTO messages/);
    }
  });

  it("a refused send stores nothing and reads once", async () => {
    const group = freshGroup("cost");
    const alice = await peer(group, "alice");
    await alice.call("send_message", { text: "warm up" });
    await recordStatements(group);
    await takeStatements(group);
    const refused = await alice.call("send_message", { text: "a reply to nothing", reply_to: "m_0000000000000000" });
    expect(refused.isError).toBe(true);
    expect(await takeStatements(group)).toHaveLength(1);
  });
});

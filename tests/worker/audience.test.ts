/**
 * "Who hears about what" is one rule written twice, for messages in memory (hears) and in SQL
 * (heardBySql). This runs both over every combination of sender, recipient and listener, left or
 * not, in the group object's own SQLite, and requires them to agree.
 */
import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { hears, heardBySql } from "../../worker/group/audience.ts";
import { freshGroup, stubFor } from "./helpers.ts";

const NAMES = ["alice", "bob", "carol"];

describe("audience", () => {
  it("the SQL rule and the in-memory rule agree on every combination", async () => {
    const cases = NAMES.flatMap((from) => [null, ...NAMES].map((to) => ({ from, to })));
    const disagreements = await runInDurableObject(stubFor(freshGroup("aud")), (_instance, state) => {
      const sql = state.storage.sql;
      sql.exec(`CREATE TABLE IF NOT EXISTS messages_probe (rowid INTEGER PRIMARY KEY, sender TEXT, recipient TEXT)`);
      sql.exec(`DELETE FROM messages_probe`);
      cases.forEach((c, i) => sql.exec(`INSERT INTO messages_probe VALUES (?, ?, ?)`, i, c.from, c.to));
      const out: string[] = [];
      for (const name of NAMES) {
        for (const left of [false, true]) {
          const rows = sql.exec<{ rowid: number }>(`SELECT rowid FROM messages_probe WHERE ${heardBySql(left)}`, name).toArray();
          const bySql = new Set(rows.map((r) => r.rowid));
          cases.forEach((c, i) => {
            if (hears({ name, left }, c) !== bySql.has(i)) out.push(`${name}${left ? " (left)" : ""} / ${JSON.stringify(c)}`);
          });
        }
      }
      return out;
    });
    expect(disagreements).toEqual([]);
  });

  it("states the rule: DMs reach their recipient only, broadcasts everyone else who has not left", () => {
    expect(hears({ name: "bob", left: false }, { from: "alice", to: "bob" })).toBe(true);
    expect(hears({ name: "carol", left: false }, { from: "alice", to: "bob" })).toBe(false);
    expect(hears({ name: "bob", left: true }, { from: "alice", to: "bob" })).toBe(true);
    expect(hears({ name: "bob", left: false }, { from: "alice", to: null })).toBe(true);
    expect(hears({ name: "alice", left: false }, { from: "alice", to: null })).toBe(false);
    expect(hears({ name: "bob", left: true }, { from: "alice", to: null })).toBe(false);
  });
});

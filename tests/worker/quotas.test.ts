/**
 * Quotas: what a group may hold and what one peer may send per UTC day, in bytes of message text
 * plus tags. A send past either is refused with a clear error and nothing is stored. The group's
 * total is a counter row kept by triggers; tests bring a group near its limit by seeding that row.
 */
import { runDurableObjectAlarm } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { DEFAULT_MAX_GROUP_BYTES, DEFAULT_MAX_PEER_BYTES_PER_DAY } from "../../contract/limits.ts";
import { settingsFrom } from "../../worker/group/settings.ts";
import { DAY_MS } from "../../worker/group/rows.ts";
import { freshGroup, peer, snapshot, sqlIn, stubFor, trio } from "./helpers.ts";

const settings = settingsFrom(env);

async function stored(group: string): Promise<number> {
  return (await sqlIn(group, `SELECT value FROM counters WHERE name = 'stored_bytes'`))[0]!.value as number;
}

/** The counter as it should be: the same rule, summed over every row. */
async function recount(group: string): Promise<number> {
  const rows = await sqlIn(group, `SELECT COALESCE(SUM(length(CAST(text AS BLOB)) + length(CAST(tags AS BLOB))), 0) AS n FROM messages`);
  return rows[0]!.n as number;
}

const today = () => Math.floor(Date.now() / DAY_MS);

describe("quotas", () => {
  it("wrangler.toml's [vars] give the documented defaults", () => {
    expect(settings.maxGroupBytes).toBe(DEFAULT_MAX_GROUP_BYTES);
    expect(settings.maxPeerBytesPerDay).toBe(DEFAULT_MAX_PEER_BYTES_PER_DAY);
    expect(settingsFrom({}).maxGroupBytes).toBe(DEFAULT_MAX_GROUP_BYTES);
    expect(settingsFrom({ MAX_GROUP_BYTES: "5000", MAX_PEER_BYTES_PER_DAY: "nonsense" })).toMatchObject({
      maxGroupBytes: 5000,
      maxPeerBytesPerDay: DEFAULT_MAX_PEER_BYTES_PER_DAY,
    });
  });

  it("a message costs its UTF-8 text plus its tags; the group total follows sends and retention", async () => {
    const group = freshGroup("quota");
    const alice = await peer(group, "alice");
    expect(await stored(group)).toBe(0);
    await alice.call("send_message", { text: "héllo", tags: ["ops", "ci"] });
    // "héllo" is 6 bytes; ["ops","ci"] is 12.
    expect(await stored(group)).toBe(6 + 12);
    const old = await alice.call("send_message", { text: "日本語" });
    expect(await stored(group)).toBe(18 + 9 + 2);
    expect((await sqlIn(group, `SELECT bytes FROM sent_bytes WHERE peer = 'alice' AND day = ?`, today()))[0]!.bytes).toBe(29);

    await sqlIn(group, `UPDATE messages SET created_at = created_at - ? WHERE id = ?`, (settings.retentionDays + 1) * DAY_MS, old.data.id);
    await runDurableObjectAlarm(stubFor(group));
    expect(await stored(group)).toBe(18);
    expect(await stored(group)).toBe(await recount(group));
    // Retention frees storage, not the day's sending budget.
    expect((await sqlIn(group, `SELECT bytes FROM sent_bytes WHERE peer = 'alice' AND day = ?`, today()))[0]!.bytes).toBe(29);
  });

  it("a send that would pass the group's limit is refused, nothing is stored, and a smaller one still fits", async () => {
    const { group, alice, bob } = await trio("quota");
    await alice.call("send_message", { text: "before" });
    await sqlIn(group, `UPDATE counters SET value = ? WHERE name = 'stored_bytes'`, settings.maxGroupBytes - 10);
    const before = await snapshot(group);

    for (const [tool, args] of [
      ["send_message", { text: "eleven byte" }],
      ["send_message", { text: "tiny", tags: ["x", "y"] }],
      ["send_dm", { to: "bob", text: "x".repeat(11) }],
      ["ask_peer", { to: "bob", question: "x".repeat(11), timeout_seconds: 0 }],
    ] as const) {
      const refused = await alice.call(tool, args);
      expect(refused.isError, tool).toBe(true);
      expect(refused.data.error).toBe("quota_exceeded");
      expect(refused.text).toMatch(new RegExp(`is full: this message \\(\\d+ bytes\\) would take the messages it holds past its limit of ${settings.maxGroupBytes} bytes`));
      // Nothing that would tell how much the others' DMs take.
      expect(refused.text).not.toContain(String(settings.maxGroupBytes - 10));
      expect(refused.text).toMatch(/Nothing was sent.*older than 30 days.*MAX_GROUP_BYTES/);
    }
    // Bob is refused too: the limit is the group's.
    expect((await bob.call("send_message", { text: "x".repeat(11) })).data.error).toBe("quota_exceeded");
    expect(await snapshot(group)).toEqual(before);
    expect(await stored(group)).toBe(settings.maxGroupBytes - 10);

    // Exactly up to the limit is allowed: 8 bytes of text + 2 of tags ("[]").
    const fits = await alice.call("send_message", { text: "12345678" });
    expect(fits.isError, fits.text).toBe(false);
    expect(await stored(group)).toBe(settings.maxGroupBytes);
    expect((await bob.call("read_new_messages")).data.messages.map((m: { text: string }) => m.text)).toEqual(["before", "12345678"]);
  });

  it("a peer past its bytes for the UTC day is refused; other peers are not, and nothing is stored", async () => {
    const { group, alice, bob } = await trio("quota");
    await sqlIn(group, `INSERT INTO sent_bytes (peer, day, bytes) VALUES ('alice', ?, ?)`, today(), settings.maxPeerBytesPerDay - 10);
    // Yesterday's sends do not count today.
    await sqlIn(group, `INSERT INTO sent_bytes (peer, day, bytes) VALUES ('bob', ?, ?)`, today() - 1, settings.maxPeerBytesPerDay);
    const before = await snapshot(group);

    const refused = await alice.call("send_message", { text: "x".repeat(9) });
    expect(refused.isError).toBe(true);
    expect(refused.data.error).toBe("quota_exceeded");
    expect(refused.text).toMatch(
      new RegExp(`You have sent ${settings.maxPeerBytesPerDay - 10} bytes of messages today \\(UTC\\); each peer may send ${settings.maxPeerBytesPerDay} per day, and this one is 11 bytes\\. Nothing was sent\\. The count starts again at 00:00 UTC, in \\d+ h \\d+ min`),
    );
    expect(await snapshot(group)).toEqual(before);

    const sent = await bob.call("send_message", { text: "bob is fine" });
    expect(sent.isError, sent.text).toBe(false);
    // Alice may still send what fits: 8 bytes of text + "[]".
    expect((await alice.call("send_message", { text: "12345678" })).isError).toBe(false);
    expect((await alice.call("send_message", { text: "1" })).data.error).toBe("quota_exceeded");

    // The alarm forgets past days.
    await runDurableObjectAlarm(stubFor(group));
    expect(await sqlIn(group, `SELECT peer, day FROM sent_bytes ORDER BY peer`)).toEqual([
      { peer: "alice", day: today() },
      { peer: "bob", day: today() },
    ]);
  });
});

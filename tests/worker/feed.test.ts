/**
 * The feed behind `relay-bridge tail`: everything a peer may see after a seq, text included. It
 * must follow the same privacy rule as every tool (DMs between two others never appear), mark
 * nothing read, and answer only the token's own group.
 */
import { describe, expect, it } from "vitest";
import { BASE, mint, trio, workerFetch } from "./helpers.ts";

const SECRET = "the launch code is 0000";

async function feed(group: string, token: string, query = ""): Promise<{ status: number; body: { messages: { seq: number; text: string; from: string; to: string | null }[]; latest_seq: number; message?: string } }> {
  const response = await workerFetch(`${BASE}/groups/${group}/feed${query}`, { headers: { Authorization: `Bearer ${token}` } });
  return { status: response.status, body: await response.json() };
}

describe("the feed", () => {
  it("shows carol broadcasts and her own DMs, never a DM between alice and bob, and marks nothing read", async () => {
    const { group, alice, bob, carol } = await trio("feed");
    await alice.call("send_dm", { to: "bob", text: SECRET });
    await alice.call("send_message", { text: "public" });
    await bob.call("send_dm", { to: "carol", text: "for carol" });
    await carol.call("send_dm", { to: "alice", text: "from carol" });

    const all = await feed(group, carol.token);
    expect(all.status).toBe(200);
    expect(all.body.messages.map((m) => m.text)).toEqual(["public", "for carol", "from carol"]);
    expect(JSON.stringify(all.body)).not.toContain(SECRET);
    expect(all.body.latest_seq).toBe(4);

    const after = await feed(group, carol.token, "?after=2&limit=1");
    expect(after.body.messages.map((m) => m.text)).toEqual(["for carol"]);
    // The newest page without `after`.
    expect((await feed(group, carol.token, "?limit=1")).body.messages.map((m) => m.text)).toEqual(["from carol"]);

    // Watching read nothing: carol's unread mail is all still there.
    const inbox = await carol.call("read_new_messages");
    expect(inbox.data.messages.map((m: { text: string }) => m.text)).toEqual(["public", "for carol"]);
  });

  it("refuses another group's feed, a bad query and a missing token", async () => {
    const { group, alice } = await trio("feed");
    expect((await feed("elsewhere", alice.token)).status).toBe(403);
    expect((await feed(group, alice.token, "?after=-1")).status).toBe(400);
    expect((await feed(group, alice.token, "?limit=1000")).status).toBe(400);
    const anonymous = await workerFetch(`${BASE}/groups/${group}/feed`);
    expect(anonymous.status).toBe(401);
    expect((await feed(group, await mint(group, "alice", {}, "x".repeat(40)))).status).toBe(401);
  });
});

/**
 * At-least-once reads for the clients this project controls: the read result invites the reader
 * to ack; a read with limit 0 and ack only confirms (the CLI, after printing); the room's read
 * route confirms only through the newest seq the page has shown.
 */
import { describe, expect, it } from "vitest";
import { BASE, freshGroup, LANES, mint, peer, workerFetch } from "./helpers.ts";

async function duo(lane?: (typeof LANES)[number]) {
  const group = freshGroup("acks");
  const alice = await peer(group, "alice", lane);
  const bob = await peer(group, "bob", lane);
  await bob.call("list_peers");
  return { group, alice, bob };
}

for (const lane of LANES) {
  describe(`read_new_messages and ack (${lane} lane)`, () => {
    it("a result with mail invites the reader to pass ack: <through> on its next read; an empty one does not", async () => {
      const { alice, bob } = await duo(lane);
      await alice.call("send_dm", { to: "bob", text: "one" });
      const sent = await alice.call("send_dm", { to: "bob", text: "two" });
      const read = await bob.call("read_new_messages");
      expect(read.data.through).toBe(sent.data.seq);
      const invitation = `On your next read_new_messages, pass ack: ${sent.data.seq} to confirm you received these; mail not confirmed comes again.`;
      expect(read.data.next).toBe(invitation);
      expect(read.text.endsWith(invitation)).toBe(true);
      const empty = await bob.call("read_new_messages", { ack: read.data.through });
      expect(empty.data).toEqual({ messages: [], remaining: 0 });
    });

    it("limit 0 with ack confirms without reading: the CLI's confirmation after printing", async () => {
      const { alice, bob } = await duo(lane);
      await alice.call("send_dm", { to: "bob", text: "printed" });
      const first = await bob.call("read_new_messages", { ack: 0 });
      expect(first.data.messages.map((m: { text: string }) => m.text)).toEqual(["printed"]);
      await alice.call("send_dm", { to: "bob", text: "not yet read" });
      const confirm = await bob.call("read_new_messages", { limit: 0, ack: first.data.through });
      expect(confirm.isError).toBe(false);
      expect(confirm.data).toEqual({ messages: [], remaining: 1 });
      // What was confirmed is read; what came after was never handed over and is unread.
      expect((await bob.call("read_new_messages")).data.messages.map((m: { text: string }) => m.text)).toEqual(["not yet read"]);
      // Without ack, limit 0 would read nothing and confirm nothing: refused, with the rule.
      const refused = await bob.call("read_new_messages", { limit: 0 });
      expect(refused.isError).toBe(true);
      expect(refused.text).toContain("limit is at least 1 (0 only together with ack");
    });
  });
}

describe("the room's read route", () => {
  it("confirms only through the newest seq the page has shown; later mail stays unread", async () => {
    const { group, alice, bob } = await duo();
    const shown = await alice.call("send_dm", { to: "bob", text: "on the page" });
    await alice.call("send_dm", { to: "bob", text: "arrived after the page drew" });
    const token = await mint(group, "bob");
    const read = await workerFetch(`${BASE}/g/${group}/api/read`, {
      method: "POST",
      headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
      body: JSON.stringify({ through: shown.data.seq }),
    });
    expect(read.status).toBe(200);
    expect(await read.json()).toEqual({ read: 1 });
    // Released at once, not after a lease: the next read has it.
    expect((await bob.call("read_new_messages")).data.messages.map((m: { text: string }) => m.text)).toEqual(["arrived after the page drew"]);
  });
});

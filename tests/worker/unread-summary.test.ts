/**
 * GET /groups/:group/unread: what Claude Code hooks ask on every prompt and stop. It must count
 * exactly what read_new_messages would hand over, name the askers, and mark nothing read.
 */
import { describe, expect, it } from "vitest";
import { BASE, mint, stubFor, trio, workerFetch } from "./helpers.ts";

async function unread(group: string, token: string | null) {
  const response = await workerFetch(`${BASE}/groups/${group}/unread`, {
    headers: token ? { Authorization: `Bearer ${token}` } : {},
  });
  return { status: response.status, body: (await response.json()) as Record<string, any> };
}

describe("unread summary", () => {
  it("counts DMs, questions, urgent mail and broadcasts without marking anything read", async () => {
    const { group, alice, bob, carol } = await trio("unread");
    expect((await unread(group, bob.token)).body).toMatchObject({ group, peer: "bob", total: 0, highest_seq: 0, attention_seq: 0 });

    const broadcast = await alice.call("send_message", { text: "lunch?" });
    expect(broadcast.isError).toBe(false);
    const afterBroadcast = (await unread(group, bob.token)).body;
    expect(afterBroadcast).toMatchObject({ total: 1, dms: 0, question_count: 0, urgent: 0, attention_seq: 0 });
    expect(afterBroadcast.highest_seq).toBeGreaterThan(0);

    await carol.call("send_dm", { to: "bob", text: "ping" });
    await alice.call("send_dm", { to: "bob", text: "pong", urgent: true });
    await carol.call("send_dm", { to: "bob", text: "again" });
    const asked = await stubFor(group).send({ group, peer: "alice", iat: Date.now() }, { to: "bob", text: "ready?", kind: "question" });
    if (!asked.ok) throw new Error(asked.problem.message);

    const summary = (await unread(group, bob.token)).body;
    expect(summary).toMatchObject({
      total: 5,
      dms: 3,
      question_count: 1,
      questions: [{ id: asked.value.id, from: "alice", seq: asked.value.seq }],
      dm_from: ["carol", "alice"],
      urgent: 1,
      highest_seq: asked.value.seq,
      attention_seq: asked.value.seq,
    });
    // Asking again changes nothing: the summary read nothing.
    expect((await unread(group, bob.token)).body).toEqual(summary);

    // The sender's own view: its broadcast is not its own unread mail.
    expect((await unread(group, alice.token)).body).toMatchObject({ total: 0 });

    const read = await bob.call("read_new_messages");
    expect(read.data.messages).toHaveLength(5);
    expect((await unread(group, bob.token)).body).toMatchObject({ total: 0, dms: 0, questions: [], highest_seq: 0 });
  });

  it("leaves out mail read out of order", async () => {
    const { group, alice, bob } = await trio("unread-marks");
    await alice.call("send_dm", { to: "bob", text: "x" });
    const sent = await stubFor(group).send({ group, peer: "alice", iat: Date.now() }, { to: "bob", text: "y", kind: "dm" });
    if (!sent.ok) throw new Error(sent.problem.message);
    // y is read ahead of x (as an ask_peer reply is): x stays unread.
    await stubFor(group).confirmRead({ group, peer: "bob", iat: Date.now() }, [sent.value.seq]);
    expect((await unread(group, bob.token)).body).toMatchObject({ total: 1, dms: 1 });
  });

  it("is nothing for a peer the group has never seen, and creates no peer", async () => {
    const { group } = await trio("unread-new");
    const token = await mint(group, "newcomer");
    expect((await unread(group, token)).body).toMatchObject({ total: 0, peer: "newcomer" });
    const peers = await stubFor(group).listPeers({ group, peer: "carol", iat: Date.now() });
    expect(peers.ok && peers.value.peers.map((p) => p.name)).not.toContain("newcomer");
  });

  it("refuses a missing token, another group's token and a revoked token", async () => {
    const { group, bob } = await trio("unread-auth");
    expect((await unread(group, null)).status).toBe(401);
    const other = await mint("elsewhere", "bob");
    expect((await unread(group, other)).status).toBe(403);
    await stubFor(group).revoke("bob", Date.now() + 1);
    const refused = await unread(group, bob.token);
    expect(refused.status).toBe(401);
    expect(refused.body.message).toMatch(/revoked/);
  });
});

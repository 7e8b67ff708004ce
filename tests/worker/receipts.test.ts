/**
 * Read receipts through the real Worker entry, both MCP lanes: a message is announced when a
 * bridge acks its notice or a hook reports it, read when a read the Worker confirmed handed it to
 * the model; only its sender and observers may ask message_status about it.
 */
import { afterEach, describe, expect, it } from "vitest";
import { BASE, bridge, closeSockets, connect, call, LANES, mint, sqlIn, trio, workerFetch } from "./helpers.ts";

afterEach(closeSockets);

async function hookPost(group: string, token: string, body: unknown) {
  const response = await workerFetch(`${BASE}/groups/${group}/announced`, {
    method: "POST",
    headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as Record<string, any> };
}

async function pressing(group: string, token: string) {
  const response = await workerFetch(`${BASE}/groups/${group}/pressing`, { headers: { Authorization: `Bearer ${token}` } });
  return { status: response.status, body: (await response.json()) as Record<string, any> };
}

describe.each(LANES)("read receipts (%s lane)", (lane) => {
  it("tells the sender of a DM: not yet, announced once a bridge acks the notice, read once read", async () => {
    const { group, alice, bob } = await trio("receipts-dm", lane);
    const sent = await alice.call("send_dm", { to: "bob", text: "review my branch?" });
    expect(sent.isError).toBe(false);
    const id = sent.data.id as string;

    const before = await alice.call("message_status", { id });
    expect(before.isError).toBe(false);
    expect(before.data).toEqual({ id, to: "bob", recipients: [{ peer: "bob", state: "not_yet" }] });
    expect(before.text).toContain("not yet");

    const socket = await bridge(group, bob.token, null);
    expect(socket.replay.notices.map((n) => n.id)).toContain(id);
    socket.send({ type: "ack", seq: sent.data.seq });
    let announced = before;
    for (let i = 0; i < 50 && announced.data.recipients[0].state !== "announced"; i++) {
      await new Promise((r) => setTimeout(r, 20));
      announced = await alice.call("message_status", { id });
    }
    expect(announced.data.recipients[0]).toMatchObject({ peer: "bob", state: "announced" });
    expect(announced.text).toMatch(/announced \d\d:\d\d/);

    const read = await bob.call("read_new_messages");
    expect(read.data.messages.map((m: { id: string }) => m.id)).toEqual([id]);
    const after = await alice.call("message_status", { id });
    expect(after.data.recipients[0]).toMatchObject({ peer: "bob", state: "read" });
    expect(after.data.recipients[0].at).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect(after.text).toMatch(/read \d\d:\d\d/);
    // One row per (message, reader), written with the read.
    expect(await sqlIn(group, `SELECT peer, announced_at IS NOT NULL AS a, read_at IS NOT NULL AS r FROM receipts WHERE seq = ?`, sent.data.seq)).toEqual([
      { peer: "bob", a: 1, r: 1 },
    ]);
  });

  it("lists who has read a broadcast", async () => {
    const { alice, bob } = await trio("receipts-group", lane);
    const sent = await alice.call("send_message", { text: "standup in 5" });
    await bob.call("read_new_messages");
    const status = await alice.call("message_status", { id: sent.data.id });
    expect(status.isError).toBe(false);
    expect(status.data.to).toBeUndefined();
    expect(status.data.recipients).toEqual([
      { peer: "bob", state: "read", at: expect.any(String) },
      { peer: "carol", state: "not_yet" },
    ]);
    expect(status.text).toMatch(/1 of 2 read\): read by bob \d\d:\d\d; not yet: carol/);
  });

  it("records an ask_peer reply handed to the asker as read", async () => {
    const { group, alice, bob } = await trio("receipts-ask", lane);
    const asking = alice.call("ask_peer", { to: "bob", question: "ship it?", timeout_seconds: 20 });
    let question: { id: string } | undefined;
    for (let i = 0; i < 100 && !question; i++) {
      await new Promise((r) => setTimeout(r, 20));
      question = (await sqlIn(group, `SELECT id FROM messages WHERE kind = 'question'`))[0] as { id: string } | undefined;
    }
    const reply = await bob.call("send_dm", { to: "alice", text: "yes", reply_to: question!.id });
    const answered = await asking;
    expect(answered.data.reply.id).toBe(reply.data.id);
    const status = await bob.call("message_status", { id: reply.data.id });
    expect(status.data.recipients[0]).toMatchObject({ peer: "alice", state: "read" });
  });

  it("refuses everyone but the sender and observers", async () => {
    const { group, alice, bob, carol } = await trio("receipts-who", lane);
    const broadcast = await alice.call("send_message", { text: "hello all" });
    const dm = await alice.call("send_dm", { to: "bob", text: "just you" });

    const byReader = await bob.call("message_status", { id: broadcast.data.id });
    expect(byReader.isError).toBe(true);
    expect(byReader.data.error).toBe("forbidden");
    expect(byReader.text).toContain("Only the sender");
    // A DM carol cannot see is not even admitted to exist.
    const byStranger = await carol.call("message_status", { id: dm.data.id });
    expect(byStranger.data.error).toBe("unknown_message");
    const missing = await alice.call("message_status", { id: "m_0000000000000000" });
    expect(missing.data.error).toBe("unknown_message");

    const observer = await connect(await mint(group, "lead", { r: "observer" }), { lane });
    const seen = await call(observer, "message_status", { id: dm.data.id });
    expect(seen.isError).toBe(false);
    expect(seen.data.recipients).toEqual([{ peer: "bob", state: "not_yet" }]);
    await observer.close();
  });
});

describe("hook routes", () => {
  it("answers pressing mail (urgent, questions; ids and names, no text) and records a hook's announcement", async () => {
    const { group, alice, bob, carol } = await trio("receipts-hook");
    await alice.call("send_dm", { to: "bob", text: "plain, waits" });
    const urgent = await carol.call("send_dm", { to: "bob", text: "prod is down", urgent: true });
    const first = await pressing(group, bob.token);
    expect(first.status).toBe(200);
    expect(first.body.pressing).toEqual([{ seq: urgent.data.seq, id: urgent.data.id, from: "carol", kind: "dm", urgent: true }]);
    expect(JSON.stringify(first.body)).not.toContain("prod is down");

    expect((await hookPost(group, bob.token, { seqs: [urgent.data.seq] })).body).toEqual({ recorded: true });
    const status = await carol.call("message_status", { id: urgent.data.id });
    expect(status.data.recipients[0]).toMatchObject({ state: "announced" });

    expect((await hookPost(group, bob.token, { nothing: 1 })).status).toBe(400);
    expect((await hookPost(group, bob.token, { seqs: Array.from({ length: 101 }, (_, i) => i) })).status).toBe(400);

    await bob.call("read_new_messages");
    expect((await pressing(group, bob.token)).body.pressing).toEqual([]);
    // Announcing mail already read changes nothing.
    expect((await hookPost(group, bob.token, { through_seq: urgent.data.seq })).status).toBe(200);
    expect((await carol.call("message_status", { id: urgent.data.id })).data.recipients[0].state).toBe("read");
  });

  it("gives the web room read marks on the person's own messages only", async () => {
    const { group, alice, bob } = await trio("receipts-web");
    const mine = await alice.call("send_dm", { to: "bob", text: "x" });
    const theirs = await bob.call("send_dm", { to: "alice", text: "y" });
    await bob.call("read_new_messages");
    const response = await workerFetch(`${BASE}/g/${group}/api/read-marks?seqs=${mine.data.seq},${theirs.data.seq}`, {
      headers: { Authorization: `Bearer ${alice.token}` },
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ marks: { [mine.data.seq]: { read: ["bob"], announced: [] } } });
    const bad = await workerFetch(`${BASE}/g/${group}/api/read-marks?seqs=a,b`, { headers: { Authorization: `Bearer ${alice.token}` } });
    expect(bad.status).toBe(400);
  });
});

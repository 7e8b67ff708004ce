/**
 * The group's alarm: it deletes messages older than RETENTION_DAYS (30 in wrangler.toml) and
 * nothing else, and it closes sockets that have gone quiet for too long.
 */
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { afterEach, describe, expect, it } from "vitest";
import { STALE_SOCKET_MS } from "../../contract/limits.ts";
import { BASE, bridge, closeSockets, freshGroup, peer, snapshot, sqlIn, stubFor, workerFetch } from "./helpers.ts";
import { signAdminProof } from "../../contract/token.ts";
import { TEST_SECRET } from "../test-secret.ts";

afterEach(closeSockets);

const DAY = 86_400_000;

function alarmTime(group: string): Promise<number | null> {
  return runInDurableObject(stubFor(group), (_instance, state) => state.storage.getAlarm());
}

describe("retention", () => {
  it("the alarm deletes only messages older than RETENTION_DAYS; peers, state, revocations and newer mail stay", async () => {
    const group = freshGroup("ret");
    const alice = await peer(group, "alice");
    const bob = await peer(group, "bob");
    await bob.call("register", { summary: "kept" });
    const ages = { d40: 40, d31: 31, d29: 29, now: 0 } as const;
    const sent: Record<string, { id: string; seq: number }> = {};
    for (const [name, days] of Object.entries(ages)) {
      sent[name] = (await alice.call(days % 2 ? "send_message" : "send_dm", days % 2 ? { text: name } : { to: "bob", text: name })).data as {
        id: string;
        seq: number;
      };
      await sqlIn(group, `UPDATE messages SET created_at = ? WHERE id = ?`, Date.now() - days * DAY - (days ? 60_000 : 0), sent[name]!.id);
    }
    await alice.call("set_state", { key: "plan", value: { step: 1 } });
    // Rows that point at messages: an out-of-order read mark for an old and a new message.
    await sqlIn(group, `INSERT INTO read_marks (peer, seq) VALUES ('bob', ?), ('bob', ?)`, sent.d40!.seq, sent.now!.seq);
    // A revocation, which must outlive any retention.
    const proof = await signAdminProof(TEST_SECRET, "revoke", `${group}/mallory`, Date.now());
    expect((await workerFetch(`${BASE}/groups/${group}/revoke`, { method: "POST", body: JSON.stringify({ peer: "mallory", proof }) })).status).toBe(200);

    // Sending scheduled the alarm.
    expect(await alarmTime(group)).not.toBeNull();
    const before = await snapshot(group);
    expect(await runDurableObjectAlarm(stubFor(group))).toBe(true);
    const after = await snapshot(group);

    expect(after.messages.map((m) => m.text)).toEqual(["d29", "now"]);
    expect(after.read_marks).toEqual([{ peer: "bob", seq: sent.now!.seq }]);
    expect(after.peers).toEqual(before.peers);
    expect(after.state).toEqual(before.state);
    expect(after.revocations).toEqual(before.revocations);
    expect(after._migrations).toEqual(before._migrations);

    // Through the tools: the old mail is gone from history and from unread.
    expect((await bob.call("get_history")).data.messages.map((m: { text: string }) => m.text)).toEqual(["d29"]);
    expect((await bob.call("get_history", { peer: "alice" })).data.messages.map((m: { text: string }) => m.text)).toEqual(["now"]);
    expect((await bob.call("get_state", { key: "plan" })).data.value).toEqual({ step: 1 });
    expect((await alice.call("list_peers")).data.peers).toMatchObject([{ name: "alice" }, { name: "bob", summary: "kept" }]);

    // Messages remain, so the alarm is set again; running it again deletes nothing more.
    expect(await alarmTime(group)).not.toBeNull();
    expect(await runDurableObjectAlarm(stubFor(group))).toBe(true);
    expect((await snapshot(group)).messages.map((m) => m.text)).toEqual(["d29", "now"]);
  });

  it("a message just inside the retention window is kept; one just outside is deleted", async () => {
    const group = freshGroup("ret");
    const alice = await peer(group, "alice");
    const inside = await alice.call("send_message", { text: "inside" });
    const outside = await alice.call("send_message", { text: "outside" });
    const now = Date.now();
    await sqlIn(group, `UPDATE messages SET created_at = ? WHERE id = ?`, now - 30 * DAY + 60_000, inside.data.id);
    await sqlIn(group, `UPDATE messages SET created_at = ? WHERE id = ?`, now - 30 * DAY - 60_000, outside.data.id);
    await runDurableObjectAlarm(stubFor(group));
    expect((await snapshot(group)).messages.map((m) => m.text)).toEqual(["inside"]);
  });

  it("seqs are never reused after retention empties the table", async () => {
    const group = freshGroup("ret");
    const alice = await peer(group, "alice");
    const bob = await peer(group, "bob");
    await alice.call("send_message", { text: "one" });
    const last = await alice.call("send_message", { text: "two" });
    await sqlIn(group, `UPDATE messages SET created_at = created_at - ?`, 40 * DAY);
    await runDurableObjectAlarm(stubFor(group));
    expect((await snapshot(group)).messages).toEqual([]);
    // Nothing left and no sockets: the alarm is not set again until there is mail.
    expect(await alarmTime(group)).toBeNull();

    const next = await alice.call("send_message", { text: "three" });
    expect(next.data.seq).toBeGreaterThan(last.data.seq);
    expect(await alarmTime(group)).not.toBeNull();
    // A bridge replaying from before the deleted seqs gets only what exists.
    const socket = await bridge(group, bob.token, 0);
    expect(socket.replay.notices.map((n) => n.seq)).toEqual([next.data.seq]);
  });
});

describe("stale sockets", () => {
  it("the newest seq a socket is welcomed with never goes back, even once retention has emptied the table", async () => {
    const group = freshGroup("ret");
    const alice = await peer(group, "alice");
    const bob = await peer(group, "bob");
    await bob.call("list_peers");
    let last = 0;
    for (const text of ["a", "b", "c"]) last = (await alice.call("send_dm", { to: "bob", text })).data.seq;
    await sqlIn(group, `UPDATE messages SET created_at = ?`, Date.now() - 40 * DAY);
    expect(await runDurableObjectAlarm(stubFor(group))).toBe(true);
    expect(await sqlIn(group, `SELECT seq FROM messages`)).toEqual([]);
    // A bridge that acked `last` must not be told the relay is behind it (it would think it was reset).
    const socket = await bridge(group, bob.token, last);
    expect(socket.welcome.latest_seq).toBe(last);
    expect(socket.replay.done.through_seq).toBe(last);
    // And an ack for it is still accepted.
    socket.send({ type: "ack", seq: last });
    await expect.poll(() => sqlIn(group, `SELECT acked_seq FROM peers WHERE name = 'bob'`)).toEqual([{ acked_seq: last }]);
    expect(socket.frames.some((f) => f.type === "error")).toBe(false);
  });

  it("a socket with no frame or keep-alive for too long shows offline and is closed by the alarm; live ones stay", async () => {
    const group = freshGroup("ret");
    const alice = await peer(group, "alice");
    const bob = await peer(group, "bob");
    const carol = await peer(group, "carol");
    const bobSocket = await bridge(group, bob.token);
    const carolSocket = await bridge(group, carol.token);

    // Age bob's socket as if its bridge vanished without closing (the socket lingers OPEN).
    await runInDurableObject(stubFor(group), (_instance, state) => {
      for (const ws of state.getWebSockets("bob")) {
        const attachment = ws.deserializeAttachment() as { connectedAt: number; lastFrameAt: number };
        attachment.connectedAt = attachment.lastFrameAt = Date.now() - STALE_SOCKET_MS - 1_000;
        ws.serializeAttachment(attachment);
      }
    });
    const online = async () =>
      Object.fromEntries((await alice.call("list_peers")).data.peers.map((p: { name: string; online: boolean }) => [p.name, p.online]));
    expect(await online()).toEqual({ alice: false, bob: false, carol: true });

    expect(await runDurableObjectAlarm(stubFor(group))).toBe(true);
    expect(await bobSocket.closed).toMatchObject({ code: 4408 });
    // Sockets remain, so the sweep is scheduled again.
    expect(await alarmTime(group)).not.toBeNull();

    const dm = await alice.call("send_dm", { to: "carol", text: "still here?" });
    await carolSocket.waitFor((f) => f.type === "notice" && f.seq === dm.data.seq);
    expect(await online()).toEqual({ alice: false, bob: false, carol: true });
  });
});

/**
 * Idempotent sends: the same idempotency_key from the same peer within a day answers with the
 * first result and stores nothing new, across object restarts, through both tool lanes and the
 * room's send route; a key reused for another message is refused; the alarm prunes old keys.
 */
import { evictDurableObject, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { BASE, freshGroup, isMarkedInstance, LANES, markInstance, mint, peer, sqlIn, stubFor, workerFetch } from "./helpers.ts";

const DAY = 86_400_000;

/** Restarts the group object the hard way (as a deploy or a crash would). */
async function restartObject(group: string): Promise<void> {
  await markInstance(group);
  await runInDurableObject(stubFor(group), (_instance, state) => {
    state.abort("test: restart the group object");
  }).catch(() => {});
  expect(await isMarkedInstance(group)).toBe(false);
}

async function messageCount(group: string, text: string): Promise<number> {
  return Number((await sqlIn(group, `SELECT COUNT(*) AS n FROM messages WHERE text = ?`, text))[0]!.n);
}

async function duo(lane: (typeof LANES)[number]) {
  const group = freshGroup("idem");
  const alice = await peer(group, "alice", lane);
  const bob = await peer(group, "bob", lane);
  await bob.call("list_peers");
  return { group, alice, bob };
}

for (const lane of LANES) {
  describe(`idempotency_key (${lane} lane)`, () => {
    it("send_message and send_dm: a retry with the same key returns the first result and stores nothing", async () => {
      const { group, alice, bob } = await duo(lane);
      const first = await alice.call("send_message", { text: "deploy done", idempotency_key: "k-1" });
      expect(first.isError).toBe(false);
      const again = await alice.call("send_message", { text: "deploy done", idempotency_key: "k-1" });
      expect(again.isError).toBe(false);
      expect({ id: again.data.id, seq: again.data.seq, time: again.data.time }).toEqual({ id: first.data.id, seq: first.data.seq, time: first.data.time });
      expect(await messageCount(group, "deploy done")).toBe(1);

      const dm = await alice.call("send_dm", { to: "bob", text: "for you", idempotency_key: "0f8fad5b-d9cb-469f-a165-70867728950e" });
      const dmAgain = await alice.call("send_dm", { to: "bob", text: "for you", idempotency_key: "0f8fad5b-d9cb-469f-a165-70867728950e" });
      expect(dmAgain.data).toMatchObject({ id: dm.data.id, seq: dm.data.seq, time: dm.data.time });
      expect(await messageCount(group, "for you")).toBe(1);
      // Bob gets each message once.
      expect((await bob.call("read_new_messages")).data.messages.map((m: { text: string }) => m.text)).toEqual(["deploy done", "for you"]);
    });

    it("without a key, two identical sends are two messages; keys are per peer", async () => {
      const { group, alice, bob } = await duo(lane);
      await alice.call("send_message", { text: "twice" });
      await alice.call("send_message", { text: "twice" });
      expect(await messageCount(group, "twice")).toBe(2);
      const mine = await alice.call("send_message", { text: "same key, two peers", idempotency_key: "shared" });
      const theirs = await bob.call("send_message", { text: "same key, two peers", idempotency_key: "shared" });
      expect(theirs.data.id).not.toBe(mine.data.id);
      expect(await messageCount(group, "same key, two peers")).toBe(2);
    });

    it("a key reused for a different message is refused with idempotency_conflict; nothing is stored", async () => {
      const { group, alice } = await duo(lane);
      const first = await alice.call("send_message", { text: "first", idempotency_key: "reused" });
      for (const [tool, args] of [
        ["send_message", { text: "second", idempotency_key: "reused" }],
        ["send_message", { text: "first", urgent: true, idempotency_key: "reused" }],
        ["send_dm", { to: "bob", text: "first", idempotency_key: "reused" }],
      ] as const) {
        const refused = await alice.call(tool, args);
        expect(refused.isError, tool).toBe(true);
        expect(refused.data.error).toBe("idempotency_conflict");
        expect(refused.text).toContain(first.data.id);
        expect(refused.text).toContain("NOT sent");
        expect(refused.text).toContain("new key");
      }
      expect(await messageCount(group, "second")).toBe(0);
      expect(await messageCount(group, "first")).toBe(1);
    });

    it("a malformed key is refused with the rule, before anything is stored", async () => {
      const { group, alice } = await duo(lane);
      for (const key of ["", "has space", "x".repeat(65), "semi;colon", "ünïcode"]) {
        const refused = await alice.call("send_message", { text: "bad key", idempotency_key: key });
        expect(refused.isError, key).toBe(true);
        expect(refused.text, key).toContain("idempotency_key must be 1 to 64 characters: letters, digits, '-', '_', '.' or ':'");
      }
      expect(await messageCount(group, "bad key")).toBe(0);
    });

    it("a retry after the object restarts, or is evicted, returns the first result", async () => {
      const { group, alice } = await duo(lane);
      const first = await alice.call("send_dm", { to: "bob", text: "across a restart", idempotency_key: "restart-1" });
      await restartObject(group);
      const again = await alice.call("send_dm", { to: "bob", text: "across a restart", idempotency_key: "restart-1" });
      expect(again.isError).toBe(false);
      expect(again.data).toMatchObject({ id: first.data.id, seq: first.data.seq, time: first.data.time });
      await evictDurableObject(stubFor(group));
      const third = await alice.call("send_dm", { to: "bob", text: "across a restart", idempotency_key: "restart-1" });
      expect(third.data).toMatchObject({ id: first.data.id, seq: first.data.seq, time: first.data.time });
      expect(await messageCount(group, "across a restart")).toBe(1);
    });

    it("a refused send does not hold its key: the corrected retry is sent", async () => {
      const { group, alice } = await duo(lane);
      const refused = await alice.call("send_message", { text: "answer", reply_to: "m_0000000000000000", idempotency_key: "fix-me" });
      expect(refused.data.error).toBe("unknown_message");
      const sent = await alice.call("send_message", { text: "answer", idempotency_key: "fix-me" });
      expect(sent.isError).toBe(false);
      expect(await messageCount(group, "answer")).toBe(1);
    });

    it("ask_peer retried with the same key resumes the first question instead of asking again", async () => {
      const { group, alice, bob } = await duo(lane);
      const asked = await alice.call("ask_peer", { to: "bob", question: "ready?", timeout_seconds: 0, idempotency_key: "ask-1" });
      expect(asked.data.timed_out).toBe(true);
      const question = asked.data.question as { id: string; seq: number };
      await restartObject(group);
      const retried = await alice.call("ask_peer", { to: "bob", question: "ready?", timeout_seconds: 0, idempotency_key: "ask-1" });
      expect(retried.data.question).toEqual(question);
      expect(await messageCount(group, "ready?")).toBe(1);
      // Bob answers; a retry waiting on the same question gets the answer.
      const waiting = alice.call("ask_peer", { to: "bob", question: "ready?", timeout_seconds: 30, idempotency_key: "ask-1" });
      await bob.call("send_dm", { to: "alice", text: "yes", reply_to: question.id });
      const answered = await waiting;
      expect(answered.data.question).toEqual(question);
      expect(answered.data.reply).toMatchObject({ from: "bob", text: "yes", reply_to: question.id });
      expect(await messageCount(group, "ready?")).toBe(1);
    });
  });
}

describe("idempotency keys over time", () => {
  it("a key older than a day counts for nothing: the send is new; the alarm prunes it", async () => {
    const group = freshGroup("idem-old");
    const alice = await peer(group, "alice");
    const first = await alice.call("send_message", { text: "daily report", idempotency_key: "report" });
    await sqlIn(group, `UPDATE idempotency_keys SET created_at = created_at - ?`, DAY + 1);
    const next = await alice.call("send_message", { text: "daily report", idempotency_key: "report" });
    expect(next.data.id).not.toBe(first.data.id);
    expect(await messageCount(group, "daily report")).toBe(2);

    await alice.call("send_message", { text: "another", idempotency_key: "old" });
    await sqlIn(group, `UPDATE idempotency_keys SET created_at = created_at - ? WHERE key = 'old'`, DAY + 1);
    expect(await runDurableObjectAlarm(stubFor(group))).toBe(true);
    expect((await sqlIn(group, `SELECT key FROM idempotency_keys ORDER BY key`)).map((r) => r.key)).toEqual(["report"]);
  });

  it("one indexed statement more with a key, none without", async () => {
    const group = freshGroup("idem-cost");
    const alice = await peer(group, "alice");
    await alice.call("send_message", { text: "warm up" });
    const statements = await runInDurableObject(stubFor(group), (_instance, state) => {
      const sql = state.storage.sql;
      const exec = sql.exec.bind(sql);
      const log: string[] = [];
      (globalThis as unknown as { idemLog: string[] }).idemLog = log;
      sql.exec = ((query: string, ...binds: SqlStorageValue[]) => {
        log.push(query.replace(/\s+/g, " ").trim());
        return exec(query, ...binds);
      }) as typeof sql.exec;
      return log;
    });
    expect(statements).toEqual([]);
    const take = () => runInDurableObject(stubFor(group), () => (globalThis as unknown as { idemLog: string[] }).idemLog.splice(0).filter((s) => !s.startsWith("INSERT INTO peers")));
    await take();
    await alice.call("send_message", { text: "no key" });
    const plain = await take();
    await alice.call("send_message", { text: "with key", idempotency_key: "cost-1" });
    const keyed = await take();
    expect(keyed.length).toBe(plain.length + 1);
    expect(keyed.filter((s) => s.includes("idempotency_keys"))).toHaveLength(1);
    expect(plain.filter((s) => s.includes("idempotency_keys"))).toHaveLength(0);
    await alice.call("send_message", { text: "with key", idempotency_key: "cost-1" });
    // A retry runs the claim and finds the first message: no rules, no insert.
    const retry = await take();
    expect(retry.some((s) => s.startsWith("INSERT INTO messages"))).toBe(false);
  });
});

describe("the room's send route", () => {
  it("a resend with the same key (the page's retry after a dropped connection) stores one message", async () => {
    const group = freshGroup("idem-web");
    const token = await mint(group, "dana");
    const send = (body: unknown) =>
      workerFetch(`${BASE}/g/${group}/api/send`, { method: "POST", headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" }, body: JSON.stringify(body) });
    const first = await send({ text: "from the room", idempotency_key: "page-7f3a" });
    expect(first.status).toBe(200);
    const firstSent = (await first.json()) as { id: string; seq: number; time: string };
    const again = await send({ text: "from the room", idempotency_key: "page-7f3a" });
    expect(again.status).toBe(200);
    expect(await again.json()).toMatchObject(firstSent);
    expect(await messageCount(group, "from the room")).toBe(1);
    const conflict = await send({ text: "something else", idempotency_key: "page-7f3a" });
    expect(conflict.status).toBe(400);
    expect(((await conflict.json()) as { error: string }).error).toBe("idempotency_conflict");
  });
});

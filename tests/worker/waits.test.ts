/**
 * The two tools that wait: ask_peer (a question and its reply) and wait_for_messages. Both wake
 * at once on mail, end at their timeout, and survive the group object being restarted mid-wait.
 */
import { runInDurableObject } from "cloudflare:test";
import { afterEach, describe, expect, it } from "vitest";
import { bridge, closeSockets, freshGroup, isMarkedInstance, markInstance, parkedWaits, peer, stubFor, timed } from "./helpers.ts";

afterEach(closeSockets);

type Peer = Awaited<ReturnType<typeof peer>>;

async function pair() {
  const group = freshGroup("wait");
  const alice = await peer(group, "alice");
  const bob = await peer(group, "bob");
  await bob.call("list_peers");
  return { group, alice, bob };
}

/** bob's view of the question alice asked, once it has arrived (found by waiting, not sleeping). */
async function questionFor(bob: Peer): Promise<{ id: string; seq: number; kind: string; text: string; from: string }> {
  const inbox = await bob.call("wait_for_messages", { timeout_seconds: 10 });
  const question = inbox.data.messages.find((m: { kind: string }) => m.kind === "question");
  expect(question, JSON.stringify(inbox)).toBeDefined();
  return question;
}

/** Restarts the group object the hard way (as a deploy or a crash would), dropping in-flight calls. */
async function restartObject(group: string): Promise<void> {
  await markInstance(group);
  await runInDurableObject(stubFor(group), (_instance, state) => {
    state.abort("test: restart the group object");
  }).catch(() => {});
  // The instance that held the waiter is gone: a new one answers now.
  expect(await isMarkedInstance(group)).toBe(false);
}

describe("ask_peer", () => {
  it("is answered by a send_dm whose reply_to is the question; the reply is not unread again", async () => {
    const { group, alice, bob } = await pair();
    const aliceBridge = await bridge(group, alice.token);
    const asking = timed(alice.call("ask_peer", { to: "bob", question: "Which port?", timeout_seconds: 30 }));

    const question = await questionFor(bob);
    expect(question).toMatchObject({ from: "alice", kind: "question", text: "Which port?" });
    await expect.poll(() => parkedWaits(group)).toEqual({ mail: 0, reply: 1 });
    const reply = await bob.call("send_dm", { to: "alice", text: "8787", reply_to: question.id });
    expect(reply.isError).toBe(false);

    const { value: answered, ms } = await asking;
    expect(answered.isError).toBe(false);
    expect(ms).toBeLessThan(10_000);
    expect(answered.data.question).toEqual({ id: question.id, seq: question.seq });
    expect(answered.data.reply).toMatchObject({ id: reply.data.id, seq: reply.data.seq, from: "bob", to: "alice", kind: "dm", text: "8787", reply_to: question.id });
    expect(answered.text).toMatch(/^bob replied:/);
    expect(answered.text).toContain("8787");

    // The reply was handed over as the tool's result: it is not unread mail too...
    expect((await alice.call("read_new_messages")).data).toEqual({ messages: [], remaining: 0 });
    // ...and the notice alice's bridge got for it was withdrawn by a read frame covering its seq,
    // sent once the reply reached alice's client (had the client gone, it would have stayed unread)...
    await aliceBridge.waitFor((f) => f.type === "read" && (f.through_seq >= reply.data.seq || (f.seqs ?? []).includes(reply.data.seq)));
    const later = await bob.call("send_message", { text: "later" });
    await aliceBridge.waitFor((f) => f.type === "notice" && f.seq === later.data.seq);
    expect(aliceBridge.notices().map((n) => n.seq)).toEqual([reply.data.seq, later.data.seq]);
    // ...nor is it replayed to a bridge that reconnects from before it.
    const again = await bridge(group, alice.token, question.seq);
    expect(again.replay.notices.map((n) => n.seq)).toEqual([later.data.seq]);
    // It stays in the DM thread's history.
    expect((await alice.call("get_history", { peer: "bob" })).data.messages.map((m: { text: string }) => m.text)).toEqual([
      "Which port?",
      "8787",
    ]);
  });

  it("a broadcast reply with reply_to also answers it", async () => {
    const { group, alice, bob } = await pair();
    const asking = alice.call("ask_peer", { to: "bob", question: "Everyone should know: which port?", timeout_seconds: 30 });
    const question = await questionFor(bob);
    await expect.poll(() => parkedWaits(group)).toEqual({ mail: 0, reply: 1 });
    await bob.call("send_message", { text: "8787 for all", reply_to: question.id });
    const answered = await asking;
    expect(answered.data.reply).toMatchObject({ from: "bob", kind: "group", text: "8787 for all" });
    expect((await alice.call("read_new_messages")).data.messages).toEqual([]);
  });

  it("is not answered by other mail: another message from bob, or someone else's reply_to", async () => {
    const { group, alice, bob } = await pair();
    const carol = await peer(group, "carol");
    const asking = timed(alice.call("ask_peer", { to: "bob", question: "ready?", timeout_seconds: 2 }));
    const question = await questionFor(bob);
    await bob.call("send_dm", { to: "alice", text: "unrelated" });
    await bob.call("send_message", { text: "also unrelated" });
    // carol cannot see the question, so she cannot reply to it at all.
    expect((await carol.call("send_dm", { to: "alice", text: "yes", reply_to: question.id })).isError).toBe(true);
    const { value: result, ms } = await asking;
    expect(result.data.timed_out).toBe(true);
    expect(ms).toBeGreaterThanOrEqual(1_900);
    // Those other messages are ordinary unread mail.
    expect((await alice.call("read_new_messages")).data.messages.map((m: { text: string }) => m.text)).toEqual(["unrelated", "also unrelated"]);
  });

  it("times out, says so with the question's id, and the later reply arrives as unread mail", async () => {
    const { group, alice, bob } = await pair();
    const aliceBridge = await bridge(group, alice.token);
    const { value: result, ms } = await timed(alice.call("ask_peer", { to: "bob", question: "Still there?", timeout_seconds: 1 }));
    expect(result.isError).toBe(false);
    expect(ms).toBeGreaterThanOrEqual(900);
    expect(ms).toBeLessThan(5_000);
    expect(result.data).toMatchObject({ question: { id: expect.stringMatching(/^m_/), seq: expect.any(Number) }, timed_out: true });
    expect(result.data.reply).toBeUndefined();
    expect(result.text).toMatch(/No reply from bob within 1 s\. Your question is id m_\w+; their reply will arrive as unread mail/);
    expect(result.text).toContain(result.data.question.id);

    const question = await questionFor(bob);
    expect(question.id).toBe(result.data.question.id);
    const reply = await bob.call("send_dm", { to: "alice", text: "yes, sorry", reply_to: question.id });

    // Now it is ordinary mail: a notice on the bridge and an unread message.
    await aliceBridge.waitFor((f) => f.type === "notice" && f.seq === reply.data.seq);
    const inbox = await alice.call("read_new_messages");
    expect(inbox.data.messages).toMatchObject([{ id: reply.data.id, from: "bob", text: "yes, sorry", reply_to: question.id, kind: "dm" }]);
  });

  it("timeout_seconds 0 asks without waiting", async () => {
    const { bob, alice } = await pair();
    const { value: result, ms } = await timed(alice.call("ask_peer", { to: "bob", question: "fyi?", timeout_seconds: 0 }));
    expect(result.data.timed_out).toBe(true);
    expect(ms).toBeLessThan(2_000);
    expect((await bob.call("read_new_messages")).data.messages).toMatchObject([{ kind: "question", text: "fyi?" }]);
  });

  it("an ask in flight while the group object restarts is still answered", async () => {
    const { group, alice, bob } = await pair();
    const asking = timed(alice.call("ask_peer", { to: "bob", question: "across a restart?", timeout_seconds: 30 }));
    const question = await questionFor(bob);
    await expect.poll(() => parkedWaits(group)).toEqual({ mail: 0, reply: 1 });
    await restartObject(group);
    // The tool retried: its wait is parked again, in the new instance.
    await expect.poll(() => parkedWaits(group), { timeout: 5_000 }).toEqual({ mail: 0, reply: 1 });
    await bob.call("send_dm", { to: "alice", text: "yes", reply_to: question.id });
    const { value: answered, ms } = await asking;
    expect(answered.isError).toBe(false);
    expect(answered.data.reply).toMatchObject({ from: "bob", text: "yes", reply_to: question.id });
    expect(ms).toBeLessThan(15_000);
    expect((await alice.call("read_new_messages")).data.messages).toEqual([]);
  });
});

describe("wait_for_messages", () => {
  it("is woken by a send, well before its timeout, and returns the mail as read", async () => {
    const { group, alice, bob } = await pair();
    const waiting = timed(bob.call("wait_for_messages", { timeout_seconds: 30 }));
    await expect.poll(() => parkedWaits(group)).toEqual({ mail: 1, reply: 0 });
    const sent = await alice.call("send_dm", { to: "bob", text: "wake up" });
    const { value: woken, ms } = await waiting;
    expect(ms).toBeLessThan(5_000);
    expect(woken.isError).toBe(false);
    expect(woken.data).toEqual({
      messages: [expect.objectContaining({ id: sent.data.id, seq: sent.data.seq, from: "alice", text: "wake up", kind: "dm" })],
      remaining: 0,
      through: sent.data.seq,
    });
    expect(woken.text).toContain("wake up");
    expect((await bob.call("read_new_messages")).data.messages).toEqual([]);
  });

  it("returns at once when mail is already unread", async () => {
    const { alice, bob } = await pair();
    await alice.call("send_message", { text: "already here" });
    const { value, ms } = await timed(bob.call("wait_for_messages", { timeout_seconds: 30 }));
    expect(ms).toBeLessThan(2_000);
    expect(value.data.messages.map((m: { text: string }) => m.text)).toEqual(["already here"]);
  });

  it("returns empty at the timeout", async () => {
    const { bob } = await pair();
    const { value, ms } = await timed(bob.call("wait_for_messages", { timeout_seconds: 1 }));
    expect(value.isError).toBe(false);
    expect(value.data).toEqual({ messages: [], remaining: 0 });
    expect(value.text).toBe("No new messages arrived before the timeout.");
    expect(ms).toBeGreaterThanOrEqual(900);
    expect(ms).toBeLessThan(5_000);
    const zero = await timed(bob.call("wait_for_messages", { timeout_seconds: 0 }));
    expect(zero.ms).toBeLessThan(2_000);
    expect(zero.value.data.messages).toEqual([]);
  });

  it("is not woken by your own broadcast", async () => {
    const { group, alice, bob } = await pair();
    const aliceAgain = await peer(group, "alice");
    const waiting = alice.call("wait_for_messages", { timeout_seconds: 20 });
    await expect.poll(() => parkedWaits(group)).toEqual({ mail: 1, reply: 0 });
    await aliceAgain.call("send_message", { text: "mine" });
    expect(await parkedWaits(group)).toEqual({ mail: 1, reply: 0 });
    // Had her own broadcast woken her, she would have returned empty before bob's message existed.
    await bob.call("send_message", { text: "bob's" });
    expect((await waiting).data.messages.map((m: { text: string }) => m.text)).toEqual(["bob's"]);
  });

  it("two waiters for the same peer both wake; the mail is delivered once", async () => {
    const { group, alice, bob } = await pair();
    const bobAgain = await peer(group, "bob");
    const first = bob.call("wait_for_messages", { timeout_seconds: 20 });
    const second = bobAgain.call("wait_for_messages", { timeout_seconds: 20 });
    await expect.poll(() => parkedWaits(group)).toEqual({ mail: 2, reply: 0 });
    await alice.call("send_message", { text: "once" });
    const results = await Promise.all([first, second]);
    const delivered = results.flatMap((r) => r.data.messages.map((m: { text: string }) => m.text));
    expect(delivered).toEqual(["once"]);
  });

  it("a wait in flight while the group object restarts still wakes on the next send", async () => {
    const { group, alice, bob } = await pair();
    const waiting = timed(bob.call("wait_for_messages", { timeout_seconds: 30 }));
    await expect.poll(() => parkedWaits(group)).toEqual({ mail: 1, reply: 0 });
    await restartObject(group);
    // The tool retried: its wait is parked again, in the new instance.
    await expect.poll(() => parkedWaits(group), { timeout: 5_000 }).toEqual({ mail: 1, reply: 0 });
    await alice.call("send_message", { text: "after the restart" });
    const { value, ms } = await waiting;
    expect(value.data.messages.map((m: { text: string }) => m.text)).toEqual(["after the restart"]);
    expect(ms).toBeLessThan(15_000);
  });

  it("a wait in flight during a graceful eviction is answered by a send that arrives meanwhile", async () => {
    const { group, alice, bob } = await pair();
    const { evictDurableObject } = await import("cloudflare:test");
    const waiting = timed(bob.call("wait_for_messages", { timeout_seconds: 30 }));
    await expect.poll(() => parkedWaits(group)).toEqual({ mail: 1, reply: 0 });
    // Eviction waits for in-flight calls to drain; the send during the drain must still wake bob.
    const evicting = evictDurableObject(stubFor(group));
    await alice.call("send_message", { text: "during eviction" });
    const { value, ms } = await waiting;
    await evicting;
    expect(value.data.messages.map((m: { text: string }) => m.text)).toEqual(["during eviction"]);
    expect(ms).toBeLessThan(15_000);
    expect((await bob.call("read_new_messages")).data.messages).toEqual([]);
  });
});

describe("who a message wakes", () => {
  it("a peer who left is not woken by a broadcast, as its socket is not notified; a DM still wakes it", async () => {
    const { group, alice, bob } = await pair();
    await bob.call("leave_group");
    const waiting = timed(bob.call("wait_for_messages", { timeout_seconds: 3 }));
    await expect.poll(() => parkedWaits(group)).toEqual({ mail: 1, reply: 0 });
    await alice.call("send_message", { text: "to everyone still here" });
    // Still parked: the broadcast is not for a peer who left.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await parkedWaits(group)).toEqual({ mail: 1, reply: 0 });
    await alice.call("send_dm", { to: "bob", text: "for you" });
    const { value, ms } = await waiting;
    expect(ms).toBeLessThan(2_500);
    expect(value.data.messages.map((m: { text: string }) => m.text)).toEqual(["for you"]);
  });

  it("a DM wakes one parked wait of its recipient, not the waits of others", async () => {
    const { group, alice, bob } = await pair();
    const carol = await peer(group, "carol");
    const bobWaits = [0, 1].map(() => timed(bob.call("wait_for_messages", { timeout_seconds: 2 })));
    const carolWait = timed(carol.call("wait_for_messages", { timeout_seconds: 2 }));
    await expect.poll(() => parkedWaits(group)).toEqual({ mail: 3, reply: 0 });
    await alice.call("send_dm", { to: "bob", text: "one read takes it" });
    await expect.poll(() => parkedWaits(group)).toEqual({ mail: 2, reply: 0 });
    const got = await Promise.all(bobWaits);
    expect(got.map((r) => r.value.data.messages.length).sort()).toEqual([0, 1]);
    expect((await carolWait).value.data.messages).toEqual([]);
  });
});

describe("ask_peer refused", () => {
  it("past the parked-wait limit asks nothing: the question is not delivered, so a retry cannot duplicate it", async () => {
    const { group, alice, bob } = await pair();
    const waits = Array.from({ length: 8 }, () => alice.call("wait_for_messages", { timeout_seconds: 3 }));
    await expect.poll(() => parkedWaits(group)).toEqual({ mail: 8, reply: 0 });
    const refused = await alice.call("ask_peer", { to: "bob", question: "would be asked twice", timeout_seconds: 5 });
    expect(refused.isError).toBe(true);
    expect(refused.data.error).toBe("too_many_waits");
    expect((await bob.call("read_new_messages")).data.messages).toEqual([]);
    expect((await bob.call("get_history", { peer: "alice" })).data.messages).toEqual([]);
    await Promise.all(waits);
  });
});

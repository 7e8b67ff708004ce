/**
 * ask_peer with a deadline and a default answer: when nobody answers in time the asker gets its
 * own default back, marked as the default and never as the person's words; a reply that comes
 * later is ordinary unread mail. Through both lanes.
 */
import { describe, expect, it } from "vitest";
import { freshGroup, LANES, peer } from "./helpers.ts";

describe.each(LANES)("ask_peer default_answer (%s lane)", (lane) => {
  async function pair() {
    const group = freshGroup("deadline");
    const alice = await peer(group, "alice", lane);
    const bob = await peer(group, "bob", lane);
    await bob.call("list_peers");
    return { group, alice, bob };
  }

  it("returns the default, marked as the asker's own, when nobody answers; a late answer lands in the asker's mail", async () => {
    const { alice, bob } = await pair();
    const asked = await alice.call("ask_peer", { to: "bob", question: "Deploy on Friday?", timeout_seconds: 1, default_answer: "no, wait until Monday" });
    expect(asked.isError).toBe(false);
    expect(asked.data).toMatchObject({ timed_out: true, default_used: true, answer: "no, wait until Monday", question: { id: expect.stringMatching(/^m_/) } });
    expect(asked.data.reply).toBeUndefined();
    expect(asked.text).toContain("YOUR OWN DEFAULT ANSWER (not bob's words");
    expect(asked.text).toContain("> no, wait until Monday");

    const inbox = await bob.call("read_new_messages");
    const question = inbox.data.messages.find((m: { kind: string }) => m.kind === "question");
    expect(question).toMatchObject({ text: "Deploy on Friday?" });
    const late = await bob.call("send_dm", { to: "alice", text: "yes, Friday is fine", reply_to: question.id });
    expect(late.isError).toBe(false);
    const mail = await alice.call("read_new_messages");
    expect(mail.data.messages).toMatchObject([{ id: late.data.id, from: "bob", text: "yes, Friday is fine", reply_to: question.id }]);
  });

  it("a reply in time wins over the default", async () => {
    const { alice, bob } = await pair();
    const asking = alice.call("ask_peer", { to: "bob", question: "Port?", timeout_seconds: 30, default_answer: "8080" });
    const inbox = await bob.call("wait_for_messages", { timeout_seconds: 10 });
    const question = inbox.data.messages.find((m: { kind: string }) => m.kind === "question");
    await bob.call("send_dm", { to: "alice", text: "8787", reply_to: question.id });
    const answered = await asking;
    expect(answered.data.default_used).toBeUndefined();
    expect(answered.data.reply).toMatchObject({ from: "bob", text: "8787" });
  });

  it("without a default, a timeout says so and uses nothing", async () => {
    const { alice } = await pair();
    const asked = await alice.call("ask_peer", { to: "bob", question: "Anyone?", timeout_seconds: 0 });
    expect(asked.data).toMatchObject({ timed_out: true });
    expect(asked.data.default_used).toBeUndefined();
    expect(asked.data.answer).toBeUndefined();
  });

  it("refuses an empty or oversized default with a sentence that says what to do", async () => {
    const { alice } = await pair();
    const empty = await alice.call("ask_peer", { to: "bob", question: "?", timeout_seconds: 0, default_answer: "" });
    expect(empty.isError).toBe(true);
    expect(empty.text).toContain("default_answer must not be empty");
    const huge = await alice.call("ask_peer", { to: "bob", question: "?", timeout_seconds: 0, default_answer: "x".repeat(2_001) });
    expect(huge.isError).toBe(true);
    expect(huge.text).toContain("default_answer is at most 2000 characters");
  });
});

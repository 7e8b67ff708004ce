/**
 * Bad input to every tool is refused as an MCP tool error (isError) whose text says what to do,
 * and nothing in the group's storage changes: not a message, not a cursor, not a last-seen time.
 */
import { describe, expect, it } from "vitest";
import { NAME_RULE } from "../../contract/names.ts";
import { freshGroup, type Lane, LANES, peer, type Snapshot, snapshot, sqlIn } from "./helpers.ts";

type Peer = Awaited<ReturnType<typeof peer>>;
type Case = [who: "alice" | "bob", args: Record<string, unknown>, says: RegExp, code?: string];

const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
const RULE = new RegExp(escape(NAME_RULE));
/** 32,769 two-byte characters: fewer characters than the byte limit, more bytes. */
const TOO_MANY_BYTES = "é".repeat(32_769);

/**
 * A group with some of everything stored: peers, a broadcast, a DM, unread mail for bob, a state
 * key. Every peer's last_seen is pinned, so even a stray "touch" shows up as a change.
 */
async function seeded(lane: Lane): Promise<{ group: string; peers: Record<"alice" | "bob" | "carol", Peer>; before: Snapshot }> {
  const group = freshGroup("val");
  const alice = await peer(group, "alice", lane);
  const bob = await peer(group, "bob", lane);
  const carol = await peer(group, "carol", lane);
  await bob.call("list_peers");
  await carol.call("list_peers");
  await alice.call("send_message", { text: "hello" });
  await alice.call("send_dm", { to: "bob", text: "psst" });
  await alice.call("set_state", { key: "k", value: { n: 1 } });
  await sqlIn(group, `UPDATE peers SET last_seen = 1000`);
  return { group, peers: { alice, bob, carol }, before: await snapshot(group) };
}

async function expectRefused(lane: Lane, tool: string, cases: Case[]): Promise<void> {
  const { group, peers, before } = await seeded(lane);
  for (const [who, args, says, code] of cases) {
    const label = `${tool} ${JSON.stringify(args).slice(0, 80)}`;
    const result = await peers[who].call(tool, args);
    expect(result.isError, label).toBe(true);
    expect(result.text, label).toMatch(says);
    if (code) expect(result.data.error, label).toBe(code);
    expect(await snapshot(group), label).toEqual(before);
  }
  // And the group still works normally afterwards: bob's unread mail is all still there.
  expect((await peers.bob.call("read_new_messages")).data.messages.map((m: { text: string }) => m.text)).toEqual(["hello", "psst"]);
}

describe.each(LANES)("bad input is refused with an error that says what to do, and nothing changes (%s lane)", (lane) => {
  it("register", async () => {
    await expectRefused(lane, "register", [
      ["alice", { summary: "x".repeat(513) }, /summary: must be at most 512 characters/],
      ["alice", { hostname: "h".repeat(513) }, /hostname: must be at most 512 characters/],
      ["alice", { cwd: "c".repeat(513), branch: "main" }, /cwd: must be at most 512 characters/],
      ["alice", { summary: 42 }, /summary: .*expected string/],
      ["alice", { branch: ["main"] }, /branch: .*expected string/],
    ]);
  });

  it("send_message", async () => {
    await expectRefused(lane, "send_message", [
      ["alice", {}, /text: .*expected string/],
      ["alice", { text: "" }, /text must not be empty/],
      ["alice", { text: 5 }, /text: .*expected string/],
      ["alice", { text: "x", tags: ["1", "2", "3", "4", "5", "6", "7", "8", "9"] }, /at most 8 tags/],
      ["alice", { text: "x", tags: ["t".repeat(33)] }, /each tag is at most 32 characters/],
      ["alice", { text: "x", tags: [""] }, /tags/],
      ["alice", { text: "x", tags: "one" }, /tags: .*expected array/],
      ["alice", { text: "x", urgent: "yes" }, /urgent: .*expected boolean/],
      ["alice", { text: "x", reply_to: "m_nope" }, /No message with id 'm_nope' that you can see\. Take ids from read_new_messages or get_history/, "unknown_message"],
      ["alice", { text: "x", reply_to: "r".repeat(65) }, /ids are at most 64 characters/],
      ["alice", { text: "x", reply_to: "" }, /reply_to/],
      ["alice", { text: TOO_MANY_BYTES }, /65538 bytes; the limit is 65536\. Split it into parts/, "too_large"],
    ]);
  });

  it("send_dm", async () => {
    await expectRefused(lane, "send_dm", [
      ["alice", { to: "alice", text: "me" }, /cannot send a DM to yourself/, "self_dm"],
      ["alice", { to: "nobody", text: "x" }, /No peer named 'nobody'.*Known peers: alice, bob, carol.*send_message to reach everyone/, "unknown_peer"],
      ["alice", { to: "Bob", text: "x" }, RULE],
      ["alice", { to: "bob!", text: "x" }, RULE],
      ["alice", { to: "", text: "x" }, RULE],
      ["alice", { to: "b".repeat(65), text: "x" }, RULE],
      ["alice", { text: "x" }, /to: .*expected string/],
      ["alice", { to: "bob", text: "" }, /text must not be empty/],
      ["alice", { to: "bob", text: TOO_MANY_BYTES }, /65538 bytes; the limit is 65536/, "too_large"],
      ["alice", { to: "bob", text: "x", reply_to: "m_0123456789abcdef" }, /No message with id/, "unknown_message"],
      ["alice", { to: "bob", text: "x", urgent: 1 }, /urgent: .*expected boolean/],
    ]);
  });

  it("read_new_messages (a refused read marks nothing read)", async () => {
    await expectRefused(lane, "read_new_messages", [
      ["bob", { limit: 0 }, /limit: limit is at least 1/],
      ["bob", { limit: -5 }, /limit: limit is at least 1/],
      ["bob", { limit: 201 }, /limit is at most 200/],
      ["bob", { limit: 1.5 }, /limit: limit must be a whole number/],
      ["bob", { limit: "5" }, /limit: .*expected number/],
    ]);
  });

  it("get_history", async () => {
    await expectRefused(lane, "get_history", [
      ["alice", { peer: "Nobody!" }, RULE],
      ["alice", { peer: "nobody" }, /No peer named 'nobody'.*list_peers shows who is here/, "unknown_peer"],
      ["alice", { before: 0 }, /before: before must be a seq \(1 or more\)/],
      ["alice", { before: -3 }, /before: before must be a seq \(1 or more\)/],
      ["alice", { before: 1.5 }, /before: before must be a seq \(a whole number\)/],
      ["alice", { limit: 0 }, /limit: limit is at least 1/],
      ["alice", { limit: 201 }, /limit is at most 200/],
      ["alice", { query: "q".repeat(201) }, /query is at most 200 characters/],
      ["alice", { query: 7 }, /query: .*expected string/],
    ]);
  });

  it("ask_peer (a refused question is never sent)", async () => {
    await expectRefused(lane, "ask_peer", [
      ["alice", { to: "alice", question: "q" }, /cannot send a DM to yourself/, "self_dm"],
      ["alice", { to: "nobody", question: "q" }, /No peer named 'nobody'/, "unknown_peer"],
      ["alice", { to: "Bob", question: "q" }, RULE],
      ["alice", { to: "bob", question: "" }, /text must not be empty/],
      ["alice", { to: "bob" }, /question: .*expected string/],
      ["alice", { to: "bob", question: TOO_MANY_BYTES }, /65538 bytes; the limit is 65536/, "too_large"],
      ["alice", { to: "bob", question: "q", timeout_seconds: 601 }, /timeout_seconds is at most 600/],
      ["alice", { to: "bob", question: "q", timeout_seconds: -1 }, /timeout_seconds: timeout_seconds must not be negative/],
      ["alice", { to: "bob", question: "q", timeout_seconds: 1.5 }, /timeout_seconds must be a whole number/],
      ["alice", { to: "bob", question: "q", timeout_seconds: "10" }, /timeout_seconds: .*expected number/],
    ]);
  });

  it("wait_for_messages (a refused wait takes no mail)", async () => {
    await expectRefused(lane, "wait_for_messages", [
      ["bob", { timeout_seconds: 601 }, /timeout_seconds is at most 600/],
      ["bob", { timeout_seconds: -1 }, /timeout_seconds: timeout_seconds must not be negative/],
      ["bob", { timeout_seconds: 2.5 }, /timeout_seconds must be a whole number/],
      ["bob", { timeout_seconds: "10" }, /timeout_seconds: .*expected number/],
    ]);
  });

  it("set_state", async () => {
    await expectRefused(lane, "set_state", [
      ["alice", { key: "Bad Key", value: 1 }, RULE],
      ["alice", { key: "", value: 1 }, RULE],
      ["alice", { key: "-dash", value: 1 }, RULE],
      ["alice", { key: "k".repeat(65), value: 1 }, RULE],
      ["alice", { value: 1 }, /key: .*expected string/],
      ["alice", { key: "k" }, /value.*(required|JSON)/],
      // 8,192 two-byte characters plus quotes: 16,386 bytes of JSON in 8,194 characters.
      ["alice", { key: "big", value: "é".repeat(8_192) }, /16386 bytes of JSON; the limit is 16384\. Store a summary or a path instead/, "too_large"],
      ["alice", { key: "k", value: { nested: "é".repeat(8_192) } }, /bytes of JSON; the limit is 16384/, "too_large"],
    ]);
  });

  it("get_state", async () => {
    await expectRefused(lane, "get_state", [
      ["alice", { key: "Bad" }, RULE],
      ["alice", { key: "missing" }, /No state key 'missing'\. Call get_state without a key to list the keys/, "not_found"],
      ["alice", { prefix: "p".repeat(65) }, /prefix is at most 64 characters/],
      ["alice", { prefix: 3 }, /prefix: .*expected string/],
    ]);
  });

  it("an unknown tool is refused too (a protocol error, as MCP specifies)", async () => {
    const { group, peers, before } = await seeded(lane);
    await expect(peers.alice.call("send_email", { to: "bob" })).rejects.toThrow(/Tool send_email not found/);
    expect(await snapshot(group)).toEqual(before);
  });
});

describe.each(LANES)("limits at their edges (%s lane)", (lane) => {
  it("text of exactly MAX_MESSAGE_BYTES is accepted; state of exactly 16 KiB is accepted", async () => {
    const group = freshGroup("val");
    const alice = await peer(group, "alice", lane);
    const exact = "é".repeat(32_768);
    const sent = await alice.call("send_message", { text: exact });
    expect(sent.isError).toBe(false);
    expect((await alice.call("get_history")).data.messages[0].text).toBe(exact);
    // 8,191 two-byte characters + two quotes = 16,384 bytes of JSON.
    const value = "é".repeat(8_191);
    expect((await alice.call("set_state", { key: "edge", value })).isError).toBe(false);
    expect((await alice.call("get_state", { key: "edge" })).data.value).toBe(value);
  });

  it("8 tags of 32 characters, limit 200 and timeout 600 are in range", async () => {
    const group = freshGroup("val");
    const alice = await peer(group, "alice", lane);
    const tags = Array.from({ length: 8 }, (_, i) => `${i}`.padEnd(32, "t"));
    expect((await alice.call("send_message", { text: "tagged", tags })).data.seq).toBeTypeOf("number");
    expect((await alice.call("get_history", { limit: 200 })).data.messages[0].tags).toEqual(tags);
    expect((await alice.call("read_new_messages", { limit: 200 })).isError).toBe(false);
  });
});

describe("the per-peer send rate", () => {
  const lane = "fast";
  it("the 31st message within 10 s is refused and not stored; others' sends are unaffected", async () => {
    const group = freshGroup("rate");
    const alice = await peer(group, "alice", lane);
    const bob = await peer(group, "bob", lane);
    await bob.call("list_peers");
    const started = Date.now();
    for (let i = 1; i <= 30; i++) {
      const sent = await alice.call(i % 3 === 0 ? "send_dm" : "send_message", i % 3 === 0 ? { to: "bob", text: `dm ${i}` } : { text: `msg ${i}` });
      expect(sent.isError, `message ${i}`).toBe(false);
    }
    // The whole burst must fit the window for the 31st to be the one over the limit.
    expect(Date.now() - started).toBeLessThan(10_000);
    const before = await snapshot(group);

    for (const [tool, args] of [
      ["send_message", { text: "one too many" }],
      ["send_dm", { to: "bob", text: "one too many" }],
      ["ask_peer", { to: "bob", question: "one too many", timeout_seconds: 0 }],
    ] as const) {
      const refused = await alice.call(tool, args);
      expect(refused.isError, tool).toBe(true);
      expect(refused.data.error, tool).toBe("rate_limited");
      expect(refused.text, tool).toMatch(/at most 30 messages per 10 s per peer\. Nothing was sent; try again in a few seconds/);
    }
    expect(await snapshot(group)).toEqual(before);

    // bob is not limited by alice's burst.
    const bobSent = await bob.call("send_message", { text: "bob is fine" });
    expect(bobSent.isError).toBe(false);
    expect((await bob.call("read_new_messages")).data.messages).toHaveLength(30);

    // Once alice's burst is older than the window, she may send again (backdated, not slept).
    await sqlIn(group, `UPDATE messages SET created_at = created_at - 11000 WHERE sender = 'alice'`);
    expect((await alice.call("send_message", { text: "later" })).isError).toBe(false);
  });
});

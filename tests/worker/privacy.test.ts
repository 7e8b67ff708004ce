/**
 * DMs between two peers never reach a third, by any tool or by the socket. alice and bob talk in
 * private; carol is in the same group and tries everything.
 */
import { afterEach, describe, expect, it } from "vitest";
import { bridge, closeSockets, freshGroup, parkedWaits, peer, snapshot, trio } from "./helpers.ts";

afterEach(closeSockets);


const SECRET = "the launch code is 0000";

describe("DM privacy against a third peer", () => {
  it("read_new_messages: carol gets the broadcasts, never alice<->bob DMs or questions", async () => {
    const { alice, bob, carol } = await trio("priv");
    await alice.call("send_dm", { to: "bob", text: SECRET });
    await bob.call("send_dm", { to: "alice", text: `re: ${SECRET}` });
    const asked = await alice.call("ask_peer", { to: "bob", question: `${SECRET}?`, timeout_seconds: 0 });
    expect(asked.data.timed_out).toBe(true);
    await alice.call("send_message", { text: "public" });

    const inbox = await carol.call("read_new_messages");
    expect(inbox.data.messages.map((m: { text: string }) => m.text)).toEqual(["public"]);
    expect(inbox.data.remaining).toBe(0);
    expect(inbox.text).not.toContain(SECRET);
    // bob, by contrast, has both of alice's.
    expect((await bob.call("read_new_messages")).data.messages.map((m: { kind: string }) => m.kind)).toEqual(["dm", "question", "group"]);
  });

  it("get_history: not in the channel, not with peer=alice or peer=bob, not by query", async () => {
    const { alice, bob, carol } = await trio("priv");
    await alice.call("send_dm", { to: "bob", text: SECRET });
    await bob.call("send_dm", { to: "alice", text: `re: ${SECRET}` });
    await alice.call("ask_peer", { to: "bob", question: `${SECRET}?`, timeout_seconds: 0 });
    await alice.call("send_message", { text: "public" });

    const views = [
      await carol.call("get_history"),
      await carol.call("get_history", { peer: "alice" }),
      await carol.call("get_history", { peer: "bob" }),
      await carol.call("get_history", { query: "launch" }),
      await carol.call("get_history", { peer: "alice", query: "launch" }),
      await carol.call("get_history", { peer: "bob", query: "launch" }),
      await carol.call("get_history", { limit: 200, before: 1_000_000 }),
    ];
    for (const view of views) {
      expect(view.isError).toBe(false);
      expect(view.text).not.toContain(SECRET);
      // Whatever carol sees is a broadcast or her own mail.
      for (const m of view.data.messages) expect(m.to === undefined || m.to === "carol" || m.from === "carol").toBe(true);
    }
    expect(views[0]!.data.messages.map((m: { text: string }) => m.text)).toEqual(["public"]);
    for (const view of views.slice(1, 6)) expect(view.data.messages).toEqual([]);
    // The parties themselves do see their thread.
    expect((await alice.call("get_history", { peer: "bob", query: "launch" })).data.messages).toHaveLength(3);
    // And even the parties never see DMs in the group channel.
    expect((await alice.call("get_history")).data.messages.map((m: { text: string }) => m.text)).toEqual(["public"]);
  });

  it("wait_for_messages: a DM between others does not wake carol, and is not returned", async () => {
    const { group, alice, carol } = await trio("priv");
    const waiting = carol.call("wait_for_messages", { timeout_seconds: 20 });
    await expect.poll(() => parkedWaits(group)).toEqual({ mail: 1, reply: 0 });
    await alice.call("send_dm", { to: "bob", text: SECRET });
    await alice.call("ask_peer", { to: "bob", question: `${SECRET}?`, timeout_seconds: 0 });
    expect(await parkedWaits(group)).toEqual({ mail: 1, reply: 0 });
    // Had the DM woken carol, she would have returned empty before this broadcast existed.
    await alice.call("send_message", { text: "public" });
    const woken = await waiting;
    expect(woken.data.messages.map((m: { text: string }) => m.text)).toEqual(["public"]);
    expect(woken.text).not.toContain(SECRET);
  });

  it("socket notices: carol's bridge hears the broadcast, not the DM or question, live or replayed", async () => {
    const { group, alice, carol } = await trio("priv");
    const carolBridge = await bridge(group, carol.token);
    const dm = await alice.call("send_dm", { to: "bob", text: SECRET });
    const question = await alice.call("ask_peer", { to: "bob", question: `${SECRET}?`, timeout_seconds: 0 });
    const pub = await alice.call("send_message", { text: "public" });

    // Frames arrive in order: once the broadcast's notice is here, any DM notice would be too.
    await carolBridge.waitFor((f) => f.type === "notice" && f.seq === pub.data.seq);
    expect(carolBridge.notices().map((n) => n.seq)).toEqual([pub.data.seq]);
    for (const raw of carolBridge.raw) {
      expect(raw).not.toContain(dm.data.id);
      expect(raw).not.toContain(question.data.question.id);
      expect(raw).not.toContain(SECRET);
    }

    // A replay from the very start tells her about the broadcast only.
    const again = await bridge(group, carol.token, 0);
    expect(again.replay.notices.map((n) => n.seq)).toEqual([pub.data.seq]);
  });

  it("reply_to a DM carol cannot see is refused, by send_message and send_dm, and nothing is stored", async () => {
    const { group, alice, bob, carol } = await trio("priv");
    const dm = await alice.call("send_dm", { to: "bob", text: SECRET });
    const question = await alice.call("ask_peer", { to: "bob", question: `${SECRET}?`, timeout_seconds: 0 });
    const before = await snapshot(group);

    for (const id of [dm.data.id, question.data.question.id]) {
      for (const [tool, args] of [
        ["send_message", { text: "I saw that", reply_to: id }],
        ["send_dm", { to: "alice", text: "I saw that", reply_to: id }],
        ["send_dm", { to: "bob", text: "I saw that", reply_to: id }],
      ] as const) {
        const refused = await carol.call(tool, args);
        expect(refused.isError).toBe(true);
        expect(refused.data.error).toBe("unknown_message");
        expect(refused.text).toMatch(/No message with id .* that you can see\. Take ids from read_new_messages or get_history/);
      }
    }
    // A made-up id reads the same as a hidden one: the refusal does not confirm the DM exists.
    const madeUp = await carol.call("send_message", { text: "x", reply_to: "m_0000000000000000" });
    expect(madeUp.text.replace("m_0000000000000000", "ID")).toBe(
      (await carol.call("send_message", { text: "x", reply_to: dm.data.id })).text.replace(dm.data.id, "ID"),
    );
    expect(await snapshot(group)).toEqual(before);

    // The parties themselves may reply to it.
    expect((await bob.call("send_dm", { to: "alice", text: "ok", reply_to: dm.data.id })).isError).toBe(false);
    expect((await alice.call("send_message", { text: "ok all", reply_to: dm.data.id })).isError).toBe(false);
  });

  it("ask_peer: carol's answer to a question she could not see never reaches the asker's wait", async () => {
    const { group, alice, bob, carol } = await trio("priv");
    const asking = alice.call("ask_peer", { to: "bob", question: "status?", timeout_seconds: 20 });
    await expect.poll(() => parkedWaits(group)).toEqual({ mail: 0, reply: 1 });
    const question = (await bob.call("get_history", { peer: "alice" })).data.messages[0];
    // carol guesses the id (say it leaked): she still cannot reply to it.
    expect((await carol.call("send_dm", { to: "alice", text: "fake answer", reply_to: question.id })).isError).toBe(true);
    expect(await parkedWaits(group)).toEqual({ mail: 0, reply: 1 });
    await bob.call("send_dm", { to: "alice", text: "real answer", reply_to: question.id });
    const answered = await asking;
    expect(answered.data.reply).toMatchObject({ from: "bob", text: "real answer" });
    // And carol's bridge-less view of the exchange stays empty.
    expect((await carol.call("get_history", { peer: "alice" })).data.messages).toEqual([]);
    expect((await carol.call("read_new_messages")).data.messages).toEqual([]);
  });

  it("list_peers, get_state and register expose no DM content", async () => {
    const { alice, carol } = await trio("priv");
    await alice.call("send_dm", { to: "bob", text: SECRET });
    for (const result of [await carol.call("list_peers"), await carol.call("get_state"), await carol.call("register", { summary: "s" })]) {
      expect(JSON.stringify(result)).not.toContain(SECRET);
    }
  });
});

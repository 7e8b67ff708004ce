import { afterEach, describe, expect, it } from "vitest";
import { bridge, closeSockets, freshGroup, LANES, peer, sqlIn } from "./helpers.ts";

afterEach(closeSockets);

describe.each(LANES)("MCP tools, through a real MCP client (%s lane)", (lane) => {
  it("lists exactly the relay's tools, each saying it is the team relay", async () => {
    const alice = await peer(freshGroup(), "alice", lane);
    const { tools } = await alice.client.listTools();
    expect(tools.map((t) => t.name).sort()).toEqual(
      [
        "ask_peer",
        "claim_paths",
        "get_history",
        "get_state",
        "leave_group",
        "list_claims",
        "list_peers",
        "message_status",
        "read_new_messages",
        "register",
        "release_paths",
        "send_dm",
        "send_message",
        "set_state",
        "wait_for_messages",
      ].sort(),
    );
    for (const tool of tools) {
      expect(tool.description).toMatch(/Team relay/);
      expect(tool.description).toMatch(/not Claude Code's built-in/);
    }
  });

  it("register sets the profile that list_peers shows; every other tool works before it", async () => {
    const group = freshGroup();
    const alice = await peer(group, "alice", lane);
    const bob = await peer(group, "bob", lane);
    // bob never registers, yet he can read, send and be listed: identity comes from the token.
    expect((await bob.call("read_new_messages")).isError).toBe(false);

    const registered = await alice.call("register", { summary: "fixing the parser", hostname: "box-1", cwd: "/src/app", branch: "fix/parser" });
    expect(registered.isError).toBe(false);
    expect(registered.text).toContain("alice");
    expect(registered.data.peer).toMatchObject({ name: "alice", summary: "fixing the parser", hostname: "box-1", cwd: "/src/app", branch: "fix/parser", online: false });

    const listed = await bob.call("list_peers");
    expect(listed.isError).toBe(false);
    expect(listed.data.peers.map((p: { name: string }) => p.name)).toEqual(["alice", "bob"]);
    expect(listed.data.peers[0]).toMatchObject({ name: "alice", summary: "fixing the parser", branch: "fix/parser" });
    expect(listed.data.you).toBe("bob");
    expect(listed.data.peers[1]).toMatchObject({ name: "bob" });
    for (const p of listed.data.peers) {
      expect(Date.parse(p.last_seen)).not.toBeNaN();
      expect(p.first_seen).toBeUndefined();
    }
    expect(listed.text).toContain("fixing the parser");
    expect(listed.text).toContain("bob (you)");

    // Registering again replaces the profile.
    await alice.call("register", { summary: "reviewing" });
    const again = await bob.call("list_peers");
    expect(again.data.peers[0]).toEqual({ name: "alice", online: false, last_seen: again.data.peers[0].last_seen, summary: "reviewing" });
  });

  it("send_message broadcasts to others, not the sender, with reply_to, urgent and tags", async () => {
    const group = freshGroup();
    const alice = await peer(group, "alice", lane);
    const bob = await peer(group, "bob", lane);
    const carol = await peer(group, "carol", lane);
    await bob.call("list_peers");
    await carol.call("list_peers");

    const first = await alice.call("send_message", { text: "hello team", tags: ["intro"] });
    expect(first.isError).toBe(false);
    expect(first.data).toMatchObject({ id: expect.stringMatching(/^m_/), seq: expect.any(Number), time: expect.any(String) });
    expect(first.text).toContain(`seq ${first.data.seq}`);
    const second = await bob.call("send_message", { text: "hi alice", reply_to: first.data.id, urgent: true });
    expect(second.isError).toBe(false);
    expect(second.data.seq).toBeGreaterThan(first.data.seq);

    const carolInbox = await carol.call("read_new_messages");
    expect(carolInbox.data.messages).toEqual([
      {
        id: first.data.id,
        seq: first.data.seq,
        from: "alice",
        kind: "group",
        text: "hello team",
        tags: ["intro"],
        time: first.data.time,
      },
      {
        id: second.data.id,
        seq: second.data.seq,
        from: "bob",
        kind: "group",
        text: "hi alice",
        reply_to: first.data.id,
        urgent: true,
        time: second.data.time,
      },
    ]);
    expect(carolInbox.text).toContain("hello team");
    expect(carolInbox.text).toContain("URGENT");
    expect(carolInbox.text).toContain(`reply_to ${first.data.id}`);

    // Each sees the other's broadcast, never their own.
    expect((await alice.call("read_new_messages")).data.messages.map((m: { text: string }) => m.text)).toEqual(["hi alice"]);
    expect((await bob.call("read_new_messages")).data.messages.map((m: { text: string }) => m.text)).toEqual(["hello team"]);
    // Read means read.
    expect((await carol.call("read_new_messages")).data).toEqual({ messages: [], remaining: 0 });
  });

  it("send_dm reaches only its recipient, who sees it as a dm", async () => {
    const group = freshGroup();
    const alice = await peer(group, "alice", lane);
    const bob = await peer(group, "bob", lane);
    await bob.call("list_peers");

    const sent = await alice.call("send_dm", { to: "bob", text: "just you", urgent: true });
    expect(sent.isError).toBe(false);
    expect(sent.data).toMatchObject({ id: expect.stringMatching(/^m_/), seq: expect.any(Number) });
    expect(sent.text).toContain("Sent to bob");

    const inbox = await bob.call("read_new_messages");
    expect(inbox.data.messages).toHaveLength(1);
    expect(inbox.data.messages[0]).toMatchObject({ id: sent.data.id, from: "alice", to: "bob", kind: "dm", text: "just you", urgent: true });
    expect(inbox.text).toContain("dm to bob");

    // A DM to a peer who left is still delivered, with a note saying so.
    await bob.call("leave_group");
    const toLeft = await alice.call("send_dm", { to: "bob", text: "are you there?" });
    expect(toLeft.isError).toBe(false);
    expect(toLeft.data.recipient_left).toBe(true);
    expect(toLeft.text).toMatch(/has left the group/);
    expect((await bob.call("read_new_messages")).data.messages.map((m: { text: string }) => m.text)).toEqual(["are you there?"]);
  });

  it("read_new_messages returns oldest first, honours limit and says how many remain", async () => {
    const group = freshGroup();
    const alice = await peer(group, "alice", lane);
    const bob = await peer(group, "bob", lane);
    await bob.call("list_peers");
    const texts = ["one", "two", "three", "four", "five"];
    for (const [i, text] of texts.entries()) {
      if (i === 2) await alice.call("send_dm", { to: "bob", text });
      else await alice.call("send_message", { text });
    }

    const firstPage = await bob.call("read_new_messages", { limit: 2 });
    expect(firstPage.data.messages.map((m: { text: string }) => m.text)).toEqual(["one", "two"]);
    expect(firstPage.data.remaining).toBe(3);
    expect(firstPage.text).toMatch(/2 new messages \(3 more unread\)/);

    const rest = await bob.call("read_new_messages");
    expect(rest.data.messages.map((m: { text: string; kind: string }) => [m.text, m.kind])).toEqual([
      ["three", "dm"],
      ["four", "group"],
      ["five", "group"],
    ]);
    expect(rest.data.remaining).toBe(0);
    const seqs = rest.data.messages.map((m: { seq: number }) => m.seq);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));

    const empty = await bob.call("read_new_messages");
    expect(empty.data).toEqual({ messages: [], remaining: 0 });
    expect(empty.text).toBe("No new messages.");
  });

  it("a newcomer's unread mail starts now: the group's past is history, not unread", async () => {
    const group = freshGroup();
    const alice = await peer(group, "alice", lane);
    await alice.call("send_message", { text: "before dave" });
    const dave = await peer(group, "dave", lane);
    expect((await dave.call("read_new_messages")).data.messages).toEqual([]);
    expect((await dave.call("get_history")).data.messages.map((m: { text: string }) => m.text)).toEqual(["before dave"]);
    await alice.call("send_message", { text: "after dave" });
    expect((await dave.call("read_new_messages")).data.messages.map((m: { text: string }) => m.text)).toEqual(["after dave"]);
  });

  it("list_peers shows online only while a bridge socket is connected", async () => {
    const group = freshGroup();
    const alice = await peer(group, "alice", lane);
    const bob = await peer(group, "bob", lane);
    await bob.call("list_peers");
    const online = async () =>
      Object.fromEntries(
        (await alice.call("list_peers")).data.peers.map((p: { name: string; online: boolean }) => [p.name, p.online]),
      );
    expect(await online()).toEqual({ alice: false, bob: false });

    const socket = await bridge(group, bob.token);
    expect(await online()).toEqual({ alice: false, bob: true });
    expect((await alice.call("list_peers")).text).toMatch(/bob: online/);

    socket.close();
    await socket.closed;
    await expect.poll(online, { timeout: 5_000 }).toEqual({ alice: false, bob: false });
  });

  it("leave_group hides you from list_peers until you send or register again; history stays", async () => {
    const group = freshGroup();
    const alice = await peer(group, "alice", lane);
    const bob = await peer(group, "bob", lane);
    const names = async () => (await bob.call("list_peers")).data.peers.map((p: { name: string }) => p.name);
    await alice.call("send_message", { text: "before leaving" });
    expect(await names()).toEqual(["alice", "bob"]);

    const left = await alice.call("leave_group");
    expect(left.isError).toBe(false);
    expect(left.data).toEqual({ left: true });
    expect(left.text).toMatch(/Send or register to rejoin/);
    expect(await names()).toEqual(["bob"]);
    // Reading does not rejoin.
    await alice.call("read_new_messages");
    await alice.call("get_history");
    await alice.call("list_peers");
    expect(await names()).toEqual(["bob"]);
    // History stays.
    expect((await bob.call("get_history")).data.messages.map((m: { text: string }) => m.text)).toEqual(["before leaving"]);

    // Sending rejoins.
    await alice.call("send_message", { text: "back" });
    expect(await names()).toEqual(["alice", "bob"]);

    // So does registering.
    await alice.call("leave_group");
    expect(await names()).toEqual(["bob"]);
    await alice.call("register", { summary: "back again" });
    expect(await names()).toEqual(["alice", "bob"]);
  });

  it("get_history shows the group channel, or with peer only your DM thread with that peer", async () => {
    const group = freshGroup();
    const alice = await peer(group, "alice", lane);
    const bob = await peer(group, "bob", lane);
    const carol = await peer(group, "carol", lane);
    await bob.call("list_peers");
    await carol.call("list_peers");

    await alice.call("send_message", { text: "g1" });
    await alice.call("send_dm", { to: "bob", text: "a->b" });
    await bob.call("send_dm", { to: "alice", text: "b->a" });
    await alice.call("send_dm", { to: "carol", text: "a->c" });
    await bob.call("send_message", { text: "g2" });

    const channel = await alice.call("get_history");
    expect(channel.isError).toBe(false);
    expect(channel.data.messages.map((m: { text: string }) => m.text)).toEqual(["g1", "g2"]);
    expect(channel.data.next_before).toBeUndefined();
    expect(channel.text).toMatch(/2 messages in group/);

    const withBob = await alice.call("get_history", { peer: "bob" });
    expect(withBob.data.messages.map((m: { text: string; from: string; to: string }) => [m.text, m.from, m.to])).toEqual([
      ["a->b", "alice", "bob"],
      ["b->a", "bob", "alice"],
    ]);
    expect(withBob.text).toMatch(/DMs with bob/);
    // The same thread from bob's side.
    expect((await bob.call("get_history", { peer: "alice" })).data.messages.map((m: { text: string }) => m.text)).toEqual(["a->b", "b->a"]);
    expect((await alice.call("get_history", { peer: "carol" })).data.messages.map((m: { text: string }) => m.text)).toEqual(["a->c"]);
  });

  it("get_history pages newest first by before / next_before and limit", async () => {
    const group = freshGroup();
    const alice = await peer(group, "alice", lane);
    const seqs: number[] = [];
    for (let i = 1; i <= 7; i++) seqs.push((await alice.call("send_message", { text: `m${i}` })).data.seq);

    const page1 = await alice.call("get_history", { limit: 3 });
    expect(page1.data.messages.map((m: { text: string }) => m.text)).toEqual(["m5", "m6", "m7"]);
    expect(page1.data.next_before).toBe(seqs[4]);
    expect(page1.text).toContain(`before=${seqs[4]}`);

    const page2 = await alice.call("get_history", { limit: 3, before: page1.data.next_before });
    expect(page2.data.messages.map((m: { text: string }) => m.text)).toEqual(["m2", "m3", "m4"]);
    expect(page2.data.next_before).toBe(seqs[1]);

    const page3 = await alice.call("get_history", { limit: 3, before: page2.data.next_before });
    expect(page3.data.messages.map((m: { text: string }) => m.text)).toEqual(["m1"]);
    expect(page3.data.next_before).toBeUndefined();

    // An exact fit does not promise a page that is not there.
    const all = await alice.call("get_history", { limit: 7 });
    expect(all.data.messages).toHaveLength(7);
    expect(all.data.next_before).toBeUndefined();
    // Default limit covers them all.
    expect((await alice.call("get_history")).data.messages).toHaveLength(7);
  });

  it("get_history query searches text, taking % and _ literally", async () => {
    const group = freshGroup();
    const alice = await peer(group, "alice", lane);
    for (const text of ["100% done", "1000 done", "snake_case name", "snakeXcase name", "back\\slash", "Deploy FAILED"]) {
      await alice.call("send_message", { text });
    }
    const search = async (query: string, extra: Record<string, unknown> = {}) =>
      (await alice.call("get_history", { query, ...extra })).data.messages.map((m: { text: string }) => m.text);

    expect(await search("100%")).toEqual(["100% done"]);
    expect(await search("%")).toEqual(["100% done"]);
    expect(await search("snake_case")).toEqual(["snake_case name"]);
    expect(await search("_")).toEqual(["snake_case name"]);
    expect(await search("\\")).toEqual(["back\\slash"]);
    expect(await search("done")).toEqual(["100% done", "1000 done"]);
    expect(await search("failed")).toEqual(["Deploy FAILED"]);
    expect(await search("nowhere")).toEqual([]);
    // An empty query is no filter.
    expect(await search("")).toHaveLength(6);
    // Query combines with limit and paging.
    const newest = await alice.call("get_history", { query: "name", limit: 1 });
    expect(newest.data.messages.map((m: { text: string }) => m.text)).toEqual(["snakeXcase name"]);
    expect(await search("name", { before: newest.data.next_before })).toEqual(["snake_case name"]);
  });

  it("set_state / get_state: a shared board with values, listing, prefixes and null removing", async () => {
    const group = freshGroup();
    const alice = await peer(group, "alice", lane);
    const bob = await peer(group, "bob", lane);

    const set = await alice.call("set_state", { key: "task.parser", value: { owner: "alice", done: false, steps: [1, 2] } });
    expect(set.isError).toBe(false);
    expect(set.data).toMatchObject({ key: "task.parser", value: { owner: "alice", done: false, steps: [1, 2] }, updated_by: "alice" });
    expect(set.text).toBe("Set task.parser.");
    await bob.call("set_state", { key: "task.lexer", value: "bob has it" });
    await bob.call("set_state", { key: "tasks", value: 3 });
    await bob.call("set_state", { key: "release", value: true });

    const one = await bob.call("get_state", { key: "task.parser" });
    expect(one.isError).toBe(false);
    expect(one.data).toMatchObject({ key: "task.parser", value: { owner: "alice", done: false, steps: [1, 2] }, updated_by: "alice" });
    expect(Date.parse(one.data.updated_at)).not.toBeNaN();
    expect(one.text).toContain('"owner":"alice"');

    const all = await alice.call("get_state");
    expect(all.data.keys.map((k: { key: string; updated_by: string }) => [k.key, k.updated_by])).toEqual([
      ["release", "bob"],
      ["task.lexer", "bob"],
      ["task.parser", "alice"],
      ["tasks", "bob"],
    ]);
    // A listing names keys, not values.
    for (const entry of all.data.keys) expect(entry).not.toHaveProperty("value");

    const prefixed = await alice.call("get_state", { prefix: "task." });
    expect(prefixed.data.keys.map((k: { key: string }) => k.key)).toEqual(["task.lexer", "task.parser"]);
    // A prefix is literal text, not a pattern.
    expect((await alice.call("get_state", { prefix: "task%" })).data.keys).toEqual([]);
    expect((await alice.call("get_state", { prefix: "task_" })).data.keys).toEqual([]);

    // Overwrite records who and when.
    await bob.call("set_state", { key: "task.parser", value: { owner: "bob" } });
    expect((await alice.call("get_state", { key: "task.parser" })).data).toMatchObject({ value: { owner: "bob" }, updated_by: "bob" });

    // null removes.
    const removed = await alice.call("set_state", { key: "task.parser", value: null });
    expect(removed.isError).toBe(false);
    expect(removed.text).toBe("Removed task.parser.");
    const gone = await bob.call("get_state", { key: "task.parser" });
    expect(gone.isError).toBe(true);
    expect(gone.text).toMatch(/No state key 'task.parser'.*without a key/);
    expect((await alice.call("get_state", { prefix: "task." })).data.keys.map((k: { key: string }) => k.key)).toEqual(["task.lexer"]);
    // Removing what is not there is harmless.
    expect((await alice.call("set_state", { key: "never-set", value: null })).isError).toBe(false);
  });

  it("state is kept as JSON of every kind and survives in storage as JSON text", async () => {
    const group = freshGroup();
    const alice = await peer(group, "alice", lane);
    const values: unknown[] = [0, -1.5, "text with \"quotes\" and ünïcode", false, [], {}, [{ a: [null, 1] }]];
    for (const [i, value] of values.entries()) {
      expect((await alice.call("set_state", { key: `k${i}`, value })).isError).toBe(false);
    }
    for (const [i, value] of values.entries()) {
      expect((await alice.call("get_state", { key: `k${i}` })).data.value).toEqual(value);
    }
    const rows = await sqlIn(group, `SELECT key, value FROM state ORDER BY key`);
    expect(rows.map((r) => JSON.parse(r.value as string))).toEqual(values);
  });
});

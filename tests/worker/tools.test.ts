import { describe, expect, it } from "vitest";
import { freshGroup, peer } from "./helpers.ts";

describe("MCP tools, through a real MCP client", () => {
  it("lists exactly the relay's tools", async () => {
    const alice = await peer(freshGroup(), "alice");
    const { tools } = await alice.client.listTools();
    expect(tools.map((t) => t.name).sort()).toEqual(
      [
        "ask_peer",
        "get_history",
        "get_state",
        "leave_group",
        "list_peers",
        "read_new_messages",
        "register",
        "send_dm",
        "send_message",
        "set_state",
        "wait_for_messages",
      ].sort(),
    );
    for (const tool of tools) expect(tool.description).toMatch(/Team relay/);
  });

  it("broadcasts reach others, not the sender", async () => {
    const group = freshGroup();
    const alice = await peer(group, "alice");
    const bob = await peer(group, "bob");
    await bob.call("list_peers");
    const sent = await alice.call("send_message", { text: "hello team", tags: ["intro"] });
    expect(sent.isError).toBe(false);
    expect(sent.data.seq).toBeTypeOf("number");
    expect(sent.data.id).toMatch(/^m_/);

    const bobInbox = await bob.call("read_new_messages");
    expect(bobInbox.data.messages).toHaveLength(1);
    expect(bobInbox.data.messages[0]).toMatchObject({ from: "alice", text: "hello team", kind: "group", tags: ["intro"], urgent: false });
    expect(bobInbox.text).toContain("hello team");
    expect((await bob.call("read_new_messages")).data.messages).toHaveLength(0);
    expect((await alice.call("read_new_messages")).data.messages).toHaveLength(0);
  });
});

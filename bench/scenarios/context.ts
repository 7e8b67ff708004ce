/**
 * Context cost: what the relay's tool list costs in every Claude Code session that has it: the
 * bytes of the `tools/list` result (names, descriptions, input schemas) as JSON, and bytes/4 as a
 * rough token estimate. Also what the model reads back from two tools: Claude Code hands the model
 * a result's structuredContent JSON, so its bytes are the cost of read_new_messages with ten
 * typical messages and of list_peers in a group of four.
 */
import { mcpClient } from "../lib/clients.ts";
import type { Scenario } from "../lib/context.ts";

export const contextCost: Scenario = {
  name: "context",
  title: "Context cost (tools/list)",
  budgetMs: 15_000,
  async run(ctx) {
    const client = await mcpClient(ctx.relay.url, await ctx.relay.mint("bench-context", "reader"));
    const result = await client.listTools();
    const results = await typicalResults(ctx.relay);
    await client.close();
    const json = JSON.stringify(result);
    const bytes = Buffer.byteLength(json, "utf8");
    const perTool = Object.fromEntries(result.tools.map((tool) => [tool.name, Buffer.byteLength(JSON.stringify(tool), "utf8")]));
    const descriptions = result.tools.reduce((sum, tool) => sum + Buffer.byteLength(tool.description ?? "", "utf8"), 0);
    const schemas = result.tools.reduce((sum, tool) => sum + Buffer.byteLength(JSON.stringify(tool.inputSchema), "utf8"), 0);
    return {
      figures: {
        read_new_messages_structured_bytes: results.read,
        list_peers_structured_bytes: results.peers,
        tools: result.tools.length,
        tools_list_bytes: bytes,
        token_estimate: Math.round(bytes / 4),
        description_bytes: descriptions,
        input_schema_bytes: schemas,
        bytes_per_tool: perTool,
      },
      rows: [
        {
          metric: `tools/list result (${result.tools.length} tools)`,
          value: `${bytes} bytes (~${Math.round(bytes / 4)} tokens)`,
          note: `descriptions ${descriptions} B, input schemas ${schemas} B`,
        },
        { metric: "read_new_messages, 10 typical messages", value: `${results.read} bytes of structuredContent`, note: "what the model reads" },
        { metric: "list_peers, 4 peers", value: `${results.peers} bytes of structuredContent`, note: "what the model reads" },
      ],
      notes: ["bytes = JSON.stringify(tools/list result) in UTF-8, as the SDK client returns it; tokens = bytes/4."],
    };
  },
};

/** The structuredContent bytes of read_new_messages (10 typical messages) and list_peers (4 peers). */
async function typicalResults(relay: { url: string; mint(group: string, peer: string): Promise<string> }): Promise<{ read: number; peers: number }> {
  const group = `bench-context-${Date.now()}`;
  const [reader, alice, bob, carol] = await Promise.all(
    ["reader", "alice", "bob", "carol"].map(async (name) => mcpClient(relay.url, await relay.mint(group, name))),
  );
  const call = async (client: typeof reader, name: string, args: Record<string, unknown> = {}) =>
    (await client!.callTool({ name, arguments: args })) as { structuredContent?: unknown };
  await call(reader, "register", { summary: "frontend: checkout page", branch: "feat/checkout" });
  await call(alice, "register", { summary: "backend API", hostname: "alice-mbp", cwd: "/src/api", branch: "main" });
  await call(bob, "register", { summary: "infra" });
  await call(carol, "list_peers");
  const typical = [
    [alice, "send_message", { text: "API deploy to staging in 5 minutes." }],
    [bob, "send_dm", { to: "reader", text: "Can you check the checkout page against the new API?" }],
    [carol, "send_message", { text: "Tests green on main.", tags: ["ci"] }],
    [alice, "send_dm", { to: "reader", text: "The /orders endpoint now returns totals in cents.", urgent: true }],
    [bob, "send_message", { text: "Staging DB migrated." }],
    [carol, "send_dm", { to: "reader", text: "Which port does the dev server use?" }],
    [alice, "send_message", { text: "Rollback plan is on the board under deploy.plan." }],
    [bob, "send_dm", { to: "reader", text: "Thanks!" }],
    [carol, "send_message", { text: "Lunch at 12:30.", tags: ["social"] }],
    [alice, "send_dm", { to: "reader", text: "Staging is live." }],
  ] as const;
  for (const [client, tool, args] of typical) await call(client, tool, args);
  const read = await call(reader, "read_new_messages");
  const peers = await call(reader, "list_peers");
  await Promise.all([reader, alice, bob, carol].map((c) => c!.close()));
  const size = (r: { structuredContent?: unknown }) => Buffer.byteLength(JSON.stringify(r.structuredContent ?? null), "utf8");
  return { read: size(read), peers: size(peers) };
}

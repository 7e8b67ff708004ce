/**
 * Context cost: what the relay's tool list costs in every Claude Code session that has it: the
 * bytes of the `tools/list` result (names, descriptions, input schemas) as JSON, and bytes/4 as a
 * rough token estimate.
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
    await client.close();
    const json = JSON.stringify(result);
    const bytes = Buffer.byteLength(json, "utf8");
    const perTool = Object.fromEntries(result.tools.map((tool) => [tool.name, Buffer.byteLength(JSON.stringify(tool), "utf8")]));
    const descriptions = result.tools.reduce((sum, tool) => sum + Buffer.byteLength(tool.description ?? "", "utf8"), 0);
    const schemas = result.tools.reduce((sum, tool) => sum + Buffer.byteLength(JSON.stringify(tool.inputSchema), "utf8"), 0);
    return {
      figures: {
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
      ],
      notes: ["bytes = JSON.stringify(tools/list result) in UTF-8, as the SDK client returns it; tokens = bytes/4."],
    };
  },
};

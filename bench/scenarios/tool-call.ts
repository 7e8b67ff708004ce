/**
 * Tool call: `send_message` through a real MCP client (SDK v1 Client + StreamableHTTPClientTransport,
 * one stateless POST per call, as Claude Code makes it), timed from callTool() to its result.
 * One bridge-protocol socket listens in the group, as the floor's one socket does, so both trips
 * do the same work. Floor trips are interleaved one for one (random order each round), and the
 * ratio is taken against those.
 */
import { FloorProbe, mcpClient, RelaySocket, toolValue } from "../lib/clients.ts";
import type { Scenario } from "../lib/context.ts";
import { loop, now, ratio, summarize, interleaved } from "../lib/stats.ts";

export const toolCall: Scenario = {
  name: "tool_call",
  title: "Tool call (send_message via MCP client)",
  budgetMs: 35_000,
  async run(ctx) {
    const group = "bench-calls";
    const sender = await mcpClient(ctx.relay.url, await ctx.relay.mint(group, "caller"));
    const listener = await RelaySocket.open(ctx.relay.url, group, await ctx.relay.mint(group, "listener"));
    const floor = await FloorProbe.open(ctx.floor.url, "calls");
    const calls: number[] = [];
    const deliveries: number[] = [];
    try {
      const relayTrip = async (record: boolean) => {
        const start = now();
        const result = await sender.callTool({ name: "send_message", arguments: { text: "hello from the bench" } });
        const answered = now();
        const { seq } = toolValue<{ seq: number }>(result);
        const delivered = await listener.arrivals.wait(seq, 5_000, "relay notice");
        if (record) {
          calls.push(answered - start);
          deliveries.push(delivered - start);
        }
      };
      const recorded = await loop({ warmup: 20, samples: 300, budgetMs: ctx.budgetMs - 8_000, gapMs: 5 }, (record) => interleaved(record, relayTrip, (r) => floor.trip(r)));
      const call = summarize(calls);
      const floorCall = summarize(floor.calls);
      const callRatio = ratio(call.p50, floorCall.p50);
      return {
        figures: {
          samples: recorded,
          call,
          delivery_to_raw_socket: summarize(deliveries),
          floor_interleaved: { call: floorCall, delivery: summarize(floor.deliveries) },
          call_p50_ratio_to_floor: callRatio,
        },
        rows: [
          { metric: "send_message call", latency: call, note: `p50 ${callRatio}x floor call` },
          { metric: "floor call, interleaved", latency: floorCall },
          { metric: "send_message -> raw socket", latency: summarize(deliveries) },
        ],
        notes: [],
      };
    } finally {
      floor.close();
      listener.close();
      await sender.close();
    }
  },
};

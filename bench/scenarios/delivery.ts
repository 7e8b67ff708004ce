/**
 * Delivery: from the start of a `send_dm` call (real MCP client) to the recipient's bridge
 * emitting the notice: the real bridge process in --stdout mode, its JSON line timestamped when it
 * reaches the bench. The recipient also holds a raw bridge-protocol socket, which receives the
 * same notice, so each sample splits into relay time (-> socket) and bridge time (socket -> line).
 * Floor trips are interleaved one for one (random order each round); ratios are taken against them.
 */
import { BridgeProcess, bridgeAvailable } from "../lib/bridge.ts";
import { FloorProbe, mcpClient, RelaySocket, toolValue } from "../lib/clients.ts";
import type { Row, Scenario } from "../lib/context.ts";
import { loop, now, ratio, summarize, interleaved } from "../lib/stats.ts";

export const delivery: Scenario = {
  name: "delivery",
  title: "Delivery (send_dm -> recipient's bridge)",
  budgetMs: 40_000,
  async run(ctx) {
    const group = "bench-dm";
    const alice = await mcpClient(ctx.relay.url, await ctx.relay.mint(group, "alice"));
    const bobToken = await ctx.relay.mint(group, "bob");
    const socket = await RelaySocket.open(ctx.relay.url, group, bobToken);
    const useBridge = bridgeAvailable();
    const bridge = useBridge ? BridgeProcess.start(ctx.relay.url, bobToken) : null;
    const notes: string[] = [];
    const floor = await FloorProbe.open(ctx.floor.url, "dm");
    try {
      if (bridge) {
        await bridge.ready(async () => toolValue<{ seq: number }>(await alice.callTool({ name: "send_dm", arguments: { to: "bob", text: "probe" } })).seq, 20_000);
      } else {
        notes.push("local-bridge/cli.ts not found: delivery measured to a raw bridge-protocol socket instead of the bridge.");
      }
      const calls: number[] = [];
      const toSocket: number[] = [];
      const toBridge: number[] = [];
      const bridgeHop: number[] = [];
      const relayTrip = async (record: boolean) => {
        const start = now();
        const result = await alice.callTool({ name: "send_dm", arguments: { to: "bob", text: "hello from the bench" } });
        const answered = now();
        const { seq } = toolValue<{ seq: number }>(result);
        const [socketAt, bridgeAt] = await Promise.all([
          socket.arrivals.wait(seq, 5_000, "raw socket notice"),
          bridge ? bridge.arrivals.wait(seq, 5_000, "bridge notice") : Promise.resolve(Number.NaN),
        ]);
        if (record) {
          calls.push(answered - start);
          toSocket.push(socketAt - start);
          if (bridge) {
            toBridge.push(bridgeAt - start);
            bridgeHop.push(bridgeAt - socketAt);
          }
        }
      };
      const recorded = await loop({ warmup: 20, samples: 300, budgetMs: ctx.budgetMs - 12_000, gapMs: 10 }, (record) => interleaved(record, relayTrip, (r) => floor.trip(r)));
      const measured = bridge ? summarize(toBridge) : summarize(toSocket);
      const floorDelivery = summarize(floor.deliveries);
      const r50 = ratio(measured.p50, floorDelivery.p50);
      const r99 = ratio(measured.p99, floorDelivery.p99);
      const socketSummary = summarize(toSocket);
      const rows: Row[] = [
        {
          metric: bridge ? "send_dm start -> bridge emits (delivery)" : "send_dm start -> raw socket (delivery)",
          latency: measured,
          note: `${r50}x / ${r99}x floor (p50 / p99)`,
        },
      ];
      if (bridge) {
        rows.push({ metric: "  of which send_dm start -> socket", latency: socketSummary, note: `${ratio(socketSummary.p50, floorDelivery.p50)}x floor (p50)` });
        rows.push({ metric: "  of which socket -> bridge line", latency: summarize(bridgeHop) });
      }
      rows.push({ metric: "floor delivery, interleaved", latency: floorDelivery });
      rows.push({ metric: "send_dm call", latency: summarize(calls) });
      return {
        figures: {
          samples: recorded,
          measured_to: bridge ? "bridge --stdout line" : "raw bridge-protocol socket",
          delivery: measured,
          delivery_to_raw_socket: socketSummary,
          bridge_hop: bridge ? summarize(bridgeHop) : null,
          send_dm_call: summarize(calls),
          floor_interleaved: { delivery: floorDelivery, call: summarize(floor.calls) },
          p50_ratio_to_floor: r50,
          p99_ratio_to_floor: r99,
        },
        rows,
        notes,
      };
    } finally {
      floor.close();
      socket.close();
      await bridge?.stop();
      await alice.close();
    }
  },
};

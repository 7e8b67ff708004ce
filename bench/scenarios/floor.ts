/**
 * The floor: the platform's own cost for the relay's trip, from bench/floor (no auth, no MCP, no
 * validation). One POST = Worker -> Durable Object RPC -> SQLite insert -> send on the one
 * connected hibernatable socket. Call = POST start to response read; delivery = POST start to
 * the socket receiving the frame (same clock, same process).
 */
import { FloorSocket, floorSend } from "../lib/clients.ts";
import type { Scenario } from "../lib/context.ts";
import { loop, now, summarize } from "../lib/stats.ts";

export const floor: Scenario = {
  name: "floor",
  title: "Floor (bench/floor: POST -> DO -> SQLite -> socket)",
  budgetMs: 25_000,
  async run(ctx) {
    const socket = await FloorSocket.open(ctx.floor.url, "latency");
    const calls: number[] = [];
    const deliveries: number[] = [];
    const recorded = await loop({ warmup: 30, samples: 300, budgetMs: ctx.budgetMs - 5_000, gapMs: 10 }, async (record) => {
      const start = now();
      const sent = await floorSend(ctx.floor.url, "latency", "hello from the bench");
      const answered = now();
      const delivered = await socket.arrivals.wait(sent.seq, 5_000, "floor notice");
      if (record) {
        calls.push(answered - start);
        deliveries.push(delivered - start);
      }
    });
    socket.close();
    const call = summarize(calls);
    const delivery = summarize(deliveries);
    return {
      figures: { samples: recorded, call, delivery },
      rows: [
        { metric: "call (POST -> response)", latency: call },
        { metric: "delivery (POST start -> socket)", latency: delivery },
      ],
      notes: [],
    };
  },
};

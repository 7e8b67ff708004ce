/**
 * Fan-out: one broadcast (`send_message` from a real MCP client) to 10, 100 and 500 connected
 * sockets, each a distinct peer of one group that said hello: time from the call's start until the
 * last socket has the notice. The same is measured on the floor (one POST to a room with as many
 * sockets), as the platform's own cost for that fan-out.
 */
import { FloorSocket, floorSend, mcpClient, RelaySocket, toolValue } from "../lib/clients.ts";
import type { Scenario } from "../lib/context.ts";
import { loop, now, type Summary, summarize } from "../lib/stats.ts";

const SIZES = [10, 100, 500];
const BROADCASTS = 30;
const CONNECT_CONCURRENCY = 25;

interface Listener {
  arrivals: { wait(seq: number, timeoutMs: number, what?: string): Promise<number> };
  close(): void;
}

async function grow<T>(list: T[], size: number, open: (index: number) => Promise<T>): Promise<void> {
  while (list.length < size) {
    const batch = Math.min(CONNECT_CONCURRENCY, size - list.length);
    const start = list.length;
    list.push(...(await Promise.all(Array.from({ length: batch }, (_, i) => open(start + i)))));
  }
}

async function measure(
  listeners: Listener[],
  send: () => Promise<number>,
  budgetMs: number,
): Promise<{ first: Summary; last: Summary; n: number }> {
  const firsts: number[] = [];
  const lasts: number[] = [];
  const n = await loop({ warmup: 3, samples: BROADCASTS, budgetMs, gapMs: 30 }, async (record) => {
    const start = now();
    const seq = await send();
    const times = await Promise.all(listeners.map((l) => l.arrivals.wait(seq, 10_000, "fan-out notice")));
    if (record) {
      firsts.push(Math.min(...times) - start);
      lasts.push(Math.max(...times) - start);
    }
  });
  return { first: summarize(firsts), last: summarize(lasts), n };
}

export const fanout: Scenario = {
  name: "fanout",
  title: "Fan-out (one broadcast -> N sockets, until the last receives)",
  budgetMs: 60_000,
  async run(ctx) {
    const started = now();
    const group = "bench-fanout";
    const caster = await mcpClient(ctx.relay.url, await ctx.relay.mint(group, "caster"));
    const relaySockets: RelaySocket[] = [];
    const floorSockets: FloorSocket[] = [];
    const relay: Record<string, { first: Summary; last: Summary; n: number; connect_ms: number }> = {};
    const floorFigures: Record<string, { first: Summary; last: Summary; n: number }> = {};
    const rows = [];
    try {
      for (const size of SIZES) {
        const left = ctx.budgetMs - (now() - started);
        const connectStart = now();
        await grow(relaySockets, size, async (i) =>
          RelaySocket.open(ctx.relay.url, group, await ctx.relay.mint(group, `p${String(i).padStart(3, "0")}`)),
        );
        const connectMs = Math.round(now() - connectStart);
        await grow(floorSockets, size, () => FloorSocket.open(ctx.floor.url, "fanout"));
        const share = Math.max(2_000, left / 4);
        const r = await measure(
          relaySockets,
          async () => toolValue<{ seq: number }>(await caster.callTool({ name: "send_message", arguments: { text: "to everyone" } })).seq,
          share,
        );
        relay[String(size)] = { ...r, connect_ms: connectMs };
        const f = await measure(floorSockets, async () => (await floorSend(ctx.floor.url, "fanout", "to everyone")).seq, share / 2);
        floorFigures[String(size)] = f;
        ctx.log(`${size} sockets: relay last p50 ${r.last.p50} ms, floor last p50 ${f.last.p50} ms`);
        rows.push({ metric: `relay: ${size} sockets, last receives`, latency: r.last, note: `first p50 ${r.first.p50} ms` });
        rows.push({ metric: `floor: ${size} sockets, last receives`, latency: f.last, note: `first p50 ${f.first.p50} ms` });
      }
    } finally {
      for (const s of relaySockets) s.close();
      for (const s of floorSockets) s.close();
      await caster.close();
    }
    return {
      figures: { relay, floor: floorFigures, broadcasts_per_size: BROADCASTS },
      rows,
      notes: [
        "Fan-out times run from the start of the send_message call (relay) or POST (floor) to the last socket's frame; all sockets live in the bench's one Node process, so Node's own frame handling is included.",
      ],
    };
  },
};

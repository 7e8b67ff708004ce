/**
 * Throughput: 10 concurrent senders (real MCP clients, distinct peers, each calling send_message
 * back to back) for 20 s into one group where 10 other peers listen on bridge-protocol sockets.
 * Sustained rate = accepted sends / elapsed. Every accepted seq must reach every listener exactly
 * once: lost, duplicated and unexpected notices are counted per listener, and a lost or duplicated
 * one fails the run. The listeners ack as bridges do.
 *
 * The floor runs the same shape for 10 s (10 closed-loop POSTers, 10 sockets in one room), and the
 * CPU each process spends per message is read from /proc, because on a two-core machine the rate
 * is bounded by the CPU of everything on it, the load generator included.
 */
import { FloorSocket, floorSend, mcpClient, RelaySocket } from "../lib/clients.ts";
import type { Scenario } from "../lib/context.ts";
import { cpuDiff, cpuSnapshot, wranglerProcesses } from "../lib/proc.ts";
import { now, percentile, sleep, summarize } from "../lib/stats.ts";

const SENDERS = 10;
const LISTENERS = 10;
const DURATION_MS = 20_000;
const FLOOR_DURATION_MS = 10_000;
const DRAIN_MS = 10_000;

interface Listener {
  arrivals: { first: Map<number, number>; counts: Map<number, number>; total: number };
  close(): void;
}

interface Run {
  accepted: Set<number>;
  elapsedMs: number;
  completions: number[];
  latencies: number[];
  failures: Map<string, number>;
  cpuPerMessage: Record<string, number>;
}

/** `senders` closed loops of `send` for `durationMs`; `send` returns the accepted seq or throws. */
async function drive(senders: ((k: number) => Promise<number>)[], durationMs: number, port: number): Promise<Run> {
  const procs = wranglerProcesses(port);
  const before = cpuSnapshot(procs);
  const accepted = new Set<number>();
  const completions: number[] = [];
  const latencies: number[] = [];
  const failures = new Map<string, number>();
  const fail = (why: string) => failures.set(why, (failures.get(why) ?? 0) + 1);
  const start = now();
  const end = start + durationMs;
  await Promise.all(
    senders.map(async (send) => {
      for (let k = 0; now() < end; k++) {
        const t0 = now();
        try {
          const seq = await send(k);
          const t1 = now();
          if (accepted.has(seq)) fail("seq handed out twice");
          accepted.add(seq);
          completions.push(t1 - start);
          latencies.push(t1 - t0);
        } catch (error) {
          fail(error instanceof Error ? error.message.slice(0, 120) : String(error));
        }
      }
    }),
  );
  const elapsedMs = now() - start;
  return { accepted, elapsedMs, completions, latencies, failures, cpuPerMessage: cpuDiff(before, cpuSnapshot(procs), Math.max(1, accepted.size)) };
}

async function account(listeners: Listener[], accepted: Set<number>) {
  const drainEnd = now() + DRAIN_MS;
  const complete = () => listeners.every((l) => [...accepted].every((seq) => l.arrivals.first.has(seq)));
  while (!complete() && now() < drainEnd) await sleep(50);
  let lost = 0;
  let duplicated = 0;
  let unexpected = 0;
  const perListener = listeners.map((l, i) => {
    const missing = [...accepted].filter((seq) => !l.arrivals.first.has(seq)).length;
    let dups = 0;
    let extra = 0;
    for (const [seq, count] of l.arrivals.counts) {
      if (!accepted.has(seq)) extra += count;
      else dups += count - 1;
    }
    lost += missing;
    duplicated += dups;
    unexpected += extra;
    return { listener: i, received: l.arrivals.total, missing, duplicated: dups, unexpected: extra };
  });
  return { lost, duplicated, unexpected, perListener, delivered: perListener.reduce((sum, l) => sum + l.received, 0) };
}

const rateOf = (run: Run) => Math.round((run.accepted.size / (run.elapsedMs / 1000)) * 10) / 10;

export const throughput: Scenario = {
  name: "throughput",
  title: "Throughput (10 senders x 20 s, 10 listening sockets)",
  budgetMs: 75_000,
  async run(ctx) {
    const group = "bench-load";
    const relayPort = Number(new URL(ctx.relay.url).port);
    const floorPort = Number(new URL(ctx.floor.url).port);
    const clients = await Promise.all(
      Array.from({ length: SENDERS }, async (_, i) => mcpClient(ctx.relay.url, await ctx.relay.mint(group, `sender${i}`), `sender${i}`)),
    );
    const listeners = await Promise.all(
      Array.from({ length: LISTENERS }, async (_, i) => RelaySocket.open(ctx.relay.url, group, await ctx.relay.mint(group, `listener${i}`))),
    );
    const floorListeners = await Promise.all(Array.from({ length: LISTENERS }, () => FloorSocket.open(ctx.floor.url, "load")));
    try {
      ctx.log(`relay: ${SENDERS} senders for ${DURATION_MS / 1000} s`);
      const relay = await drive(
        clients.map((client, i) => async (k: number) => {
          const result = (await client.callTool({ name: "send_message", arguments: { text: `sender${i} #${k}` } })) as {
            isError?: boolean;
            structuredContent?: { seq?: number; error?: string };
          };
          if (result.isError || typeof result.structuredContent?.seq !== "number") throw new Error(result.structuredContent?.error ?? "tool error");
          return result.structuredContent.seq;
        }),
        DURATION_MS,
        relayPort,
      );
      const relayCount = await account(listeners, relay.accepted);

      ctx.log(`floor: ${SENDERS} senders for ${FLOOR_DURATION_MS / 1000} s`);
      const floor = await drive(
        Array.from({ length: SENDERS }, (_, i) => async (k: number) => (await floorSend(ctx.floor.url, "load", `sender${i} #${k}`)).seq),
        FLOOR_DURATION_MS,
        floorPort,
      );
      const floorCount = await account(floorListeners, floor.accepted);
      // Lost notices fail the run once the figures are out; what the servers printed tells why.
      if (relayCount.lost > 0) ctx.log(`relay lost notices; its output ends:\n${ctx.relay.output().slice(-3000)}`);
      if (floorCount.lost > 0) ctx.log(`floor lost notices; its output ends:\n${ctx.floor.output().slice(-3000)}`);

      const perSecond = Array.from({ length: Math.floor(DURATION_MS / 1000) }, (_, s) =>
        relay.completions.filter((t) => t >= s * 1000 && t < (s + 1) * 1000).length,
      );
      const sortedSeconds = [...perSecond].sort((a, b) => a - b);
      const rate = rateOf(relay);
      const floorRate = rateOf(floor);
      const failedSends = [...relay.failures.values()].reduce((a, b) => a + b, 0);
      const callLatency = summarize(relay.latencies);
      const cpuTotal = (cpu: Record<string, number>) => Math.round(Object.values(cpu).reduce((a, b) => a + b, 0) * 100) / 100;
      return {
        figures: {
          senders: SENDERS,
          listeners: LISTENERS,
          duration_ms: Math.round(relay.elapsedMs),
          accepted_sends: relay.accepted.size,
          failed_sends: failedSends,
          failures: Object.fromEntries(relay.failures),
          messages_per_second: rate,
          per_second: perSecond,
          slowest_second: sortedSeconds[0] ?? 0,
          p10_second: percentile(sortedSeconds, 10),
          notices_expected: relay.accepted.size * LISTENERS,
          notices_delivered: relayCount.delivered,
          lost: relayCount.lost,
          duplicated: relayCount.duplicated,
          unexpected: relayCount.unexpected,
          per_listener: relayCount.perListener,
          call_under_load: callLatency,
          cpu_ms_per_message: relay.cpuPerMessage,
          cpu_ms_per_message_total: cpuTotal(relay.cpuPerMessage),
          floor: {
            duration_ms: Math.round(floor.elapsedMs),
            messages_per_second: floorRate,
            accepted_sends: floor.accepted.size,
            failed_sends: [...floor.failures.values()].reduce((a, b) => a + b, 0),
            lost: floorCount.lost,
            duplicated: floorCount.duplicated,
            call_under_load: summarize(floor.latencies),
            cpu_ms_per_message: floor.cpuPerMessage,
            cpu_ms_per_message_total: cpuTotal(floor.cpuPerMessage),
          },
          ratio_to_floor_rate: Math.round((rate / floorRate) * 100) / 100,
        },
        rows: [
          {
            metric: "relay: sustained send rate",
            value: `${rate} msg/s`,
            note: `${relay.accepted.size} sent in ${(relay.elapsedMs / 1000).toFixed(1)} s; slowest second ${sortedSeconds[0] ?? 0}/s; ${Math.round((rate / floorRate) * 100)}% of floor`,
          },
          {
            metric: "relay: notices to 10 listeners",
            value: `${relayCount.delivered} of ${relay.accepted.size * LISTENERS}`,
            note: `lost ${relayCount.lost}, duplicated ${relayCount.duplicated}, unexpected ${relayCount.unexpected}, failed sends ${failedSends}`,
          },
          { metric: "relay: send_message call under load", latency: callLatency },
          {
            metric: "relay: CPU per message, all processes",
            value: `${cpuTotal(relay.cpuPerMessage)} ms`,
            note: Object.entries(relay.cpuPerMessage).map(([k, v]) => `${k} ${v}`).join(", "),
          },
          {
            metric: "floor: same shape, 10 s",
            value: `${floorRate} msg/s`,
            note: `lost ${floorCount.lost}, duplicated ${floorCount.duplicated}; CPU per message ${cpuTotal(floor.cpuPerMessage)} ms (${Object.entries(floor.cpuPerMessage).map(([k, v]) => `${k} ${v}`).join(", ")})`,
          },
        ],
        losses: {
          "relay: notices lost": relayCount.lost,
          "relay: notices duplicated": relayCount.duplicated,
          "floor: notices lost": floorCount.lost,
          "floor: notices duplicated": floorCount.duplicated,
        },
        notes: [
          "listeners ack as a bridge does (the highest seq of each batch of notices read together), so the relay's cap on unacknowledged notices never applies to them.",
          "senders run closed-loop (each waits for its call's result before the next), so the rate is what 10 callers get, not an open-loop maximum.",
          "CPU per message = CPU (user+system, /proc) used during the run by each process / messages accepted; 'bench client' is this process: the 10 MCP clients and the 10 listeners.",
        ],
      };
    } finally {
      for (const l of listeners) l.close();
      for (const l of floorListeners) l.close();
      await Promise.all(clients.map((c) => c.close()));
    }
  },
};

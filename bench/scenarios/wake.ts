/**
 * Wake: delivery latency of the first message after the group's object was evicted.
 *
 * Method: `wrangler dev` cannot call evictDurableObject, so we let the runtime do it. Local workerd
 * evicts an idle Durable Object (hibernatable sockets stay connected) after about 10 s without
 * events (seen: alive after 8 s idle, a new instance after 11 s). Restarting wrangler dev was
 * rejected: it closes the sockets, and the reconnect itself would wake the object before the
 * message. So: several relay groups and floor rooms, each with a connected recipient, all left idle
 * for IDLE_MS, then one message to each in turn, and a second one right after it. The floor answers whether its object was freshly constructed, which
 * proves the idle period evicts; the relay (same runtime, same idle time) cannot say so itself.
 */
import { BridgeProcess, bridgeAvailable } from "../lib/bridge.ts";
import { FloorSocket, floorSend, mcpClient, RelaySocket, toolValue } from "../lib/clients.ts";
import type { Scenario } from "../lib/context.ts";
import { now, ratio, sleep, summarize } from "../lib/stats.ts";

const GROUPS = 5;
const ROUNDS = 2;
const IDLE_MS = 13_000;

export const wake: Scenario = {
  name: "wake",
  title: "Wake (first message after the object was evicted)",
  budgetMs: 55_000,
  async run(ctx) {
    const useBridge = bridgeAvailable();
    const relayGroups = await Promise.all(
      Array.from({ length: GROUPS }, async (_, i) => {
        const group = `bench-wake-${i}`;
        const sender = await mcpClient(ctx.relay.url, await ctx.relay.mint(group, "waker"));
        const token = await ctx.relay.mint(group, "sleeper");
        const socket = await RelaySocket.open(ctx.relay.url, group, token);
        const bridge = useBridge ? BridgeProcess.start(ctx.relay.url, token) : null;
        return { group, sender, socket, bridge };
      }),
    );
    const floorRooms = await Promise.all(
      Array.from({ length: GROUPS }, async (_, i) => ({ room: `wake-${i}`, socket: await FloorSocket.open(ctx.floor.url, `wake-${i}`) })),
    );
    const relayCold: number[] = [];
    const relayColdSocket: number[] = [];
    const relayWarm: number[] = [];
    const floorCold: number[] = [];
    const floorWarm: number[] = [];
    let floorFresh = 0;
    let floorSamples = 0;
    try {
      const dm = async (g: (typeof relayGroups)[number]) => {
        const start = now();
        const { seq } = toolValue<{ seq: number }>(await g.sender.callTool({ name: "send_dm", arguments: { to: "sleeper", text: "wake up" } }));
        const [socketAt, bridgeAt] = await Promise.all([
          g.socket.arrivals.wait(seq, 15_000, "wake notice"),
          g.bridge ? g.bridge.arrivals.wait(seq, 15_000, "wake bridge notice") : Promise.resolve(Number.NaN),
        ]);
        return { bridge: bridgeAt - start, socket: socketAt - start };
      };
      const post = async (r: (typeof floorRooms)[number]) => {
        const start = now();
        const sent = await floorSend(ctx.floor.url, r.room, "wake up");
        const at = await r.socket.arrivals.wait(sent.seq, 15_000, "floor wake notice");
        return { ms: at - start, fresh: sent.fresh };
      };
      // Bring every object up and every bridge to ready (a notice it emits), then let them all idle.
      for (const g of relayGroups) {
        const probe = async () => toolValue<{ seq: number }>(await g.sender.callTool({ name: "send_dm", arguments: { to: "sleeper", text: "are you there" } })).seq;
        await g.bridge?.ready(probe, 20_000);
        const ready = await dm(g);
        if (!Number.isFinite(ready.socket)) throw new Error("relay wake group not ready");
      }
      for (const r of floorRooms) await post(r);
      for (let round = 0; round < ROUNDS; round++) {
        ctx.log(`round ${round + 1}/${ROUNDS}: idling ${IDLE_MS / 1000} s so the objects are evicted`);
        await sleep(IDLE_MS);
        for (let i = 0; i < GROUPS; i++) {
          const g = relayGroups[i]!;
          const cold = await dm(g);
          relayCold.push(useBridge ? cold.bridge : cold.socket);
          relayColdSocket.push(cold.socket);
          const warm = await dm(g);
          relayWarm.push(useBridge ? warm.bridge : warm.socket);
          const r = floorRooms[i]!;
          const fc = await post(r);
          floorCold.push(fc.ms);
          floorSamples++;
          if (fc.fresh) floorFresh++;
          floorWarm.push((await post(r)).ms);
        }
      }
    } finally {
      for (const g of relayGroups) {
        g.socket.close();
        await g.bridge?.stop();
        await g.sender.close();
      }
      for (const r of floorRooms) r.socket.close();
    }
    const relayColdSummary = summarize(relayCold);
    const floorColdSummary = summarize(floorCold);
    return {
      figures: {
        method: `idle ${IDLE_MS / 1000} s (local workerd evicts idle objects after ~10 s), ${GROUPS} groups x ${ROUNDS} rounds`,
        measured_to: useBridge ? "bridge --stdout line" : "raw bridge-protocol socket",
        relay_first_after_eviction: relayColdSummary,
        relay_first_after_eviction_to_socket: summarize(relayColdSocket),
        relay_second_message: summarize(relayWarm),
        floor_first_after_eviction: floorColdSummary,
        floor_second_message: summarize(floorWarm),
        floor_evictions_confirmed: `${floorFresh}/${floorSamples}`,
        p50_ratio_to_floor_wake: ratio(relayColdSummary.p50, floorColdSummary.p50),
      },
      rows: [
        {
          metric: `relay: first send_dm after eviction`,
          latency: relayColdSummary,
          note: `${ratio(relayColdSummary.p50, floorColdSummary.p50)}x floor wake (p50)`,
        },
        { metric: "relay: second send_dm after wake", latency: summarize(relayWarm) },
        { metric: "floor: first POST after eviction", latency: floorColdSummary, note: `fresh object ${floorFresh}/${floorSamples}` },
        { metric: "floor: second POST after wake", latency: summarize(floorWarm) },
      ],
      notes: [
        `wake method: every object left idle ${IDLE_MS / 1000} s with its sockets connected; local workerd evicts idle objects after ~10 s (hibernatable sockets stay open). The floor confirmed a fresh object on ${floorFresh} of ${floorSamples} samples; the relay's objects idled alike.`,
      ],
    };
  },
};

/**
 * A/B for relay changes on a noisy machine: starts the floor and one relay per wrangler config
 * given, then runs trips round-robin (random order each round) so every variant sees the same
 * noise. A trip is send_dm (real MCP client) -> the recipient's bridge-protocol socket; on the
 * floor, POST -> socket. Prints delivery and call latency and CPU per trip of each server's
 * processes (from /proc).
 *
 *   node bench/compare.ts [--trips 400] wrangler.toml bench/.out/exp/b/wrangler.toml ...
 *
 * Configs outside the repo root resolve `agents` etc. from /work/main/node_modules only if they
 * live inside the repository tree (bench/.out/ is git-ignored and fine).
 */
import { parseArgs } from "node:util";
import { ensureDevSecret, findSecret } from "../scripts/secret.ts";
import { signToken } from "../contract/token.ts";
import { FloorSocket, floorSend, mcpClient, RelaySocket, toolValue } from "./lib/clients.ts";
import { cpuDiff, cpuSnapshot, wranglerProcesses } from "./lib/proc.ts";
import { startWrangler, type WranglerServer } from "./lib/servers.ts";
import { now, sleep, summarize } from "./lib/stats.ts";

const { values, positionals } = parseArgs({ options: { trips: { type: "string", default: "400" } }, allowPositionals: true });
const trips = Number(values.trips);
const configs = positionals.length > 0 ? positionals : ["wrangler.toml"];
ensureDevSecret();
const secret = findSecret()!;

interface Variant {
  label: string;
  server: WranglerServer;
  trip: () => Promise<{ delivery: number; call: number }>;
  delivery: number[];
  call: number[];
  close: () => Promise<void>;
}

const servers = await Promise.all([
  startWrangler({ config: "bench/floor/wrangler.toml" }),
  ...configs.map((config) => startWrangler({ config, vars: { RATE_LIMIT_COUNT: "1000000", GROUP_AGENT_MESSAGES_PER_HOUR: "1000000" } })),
]);
try {
  const variants: Variant[] = [];
  const floorServer = servers[0]!;
  const floorSocket = await FloorSocket.open(floorServer.url, "ab");
  variants.push({
    label: "floor",
    server: floorServer,
    delivery: [],
    call: [],
    trip: async () => {
      const t0 = now();
      const { seq } = await floorSend(floorServer.url, "ab", "a/b");
      const t1 = now();
      return { delivery: (await floorSocket.arrivals.wait(seq, 5_000)) - t0, call: t1 - t0 };
    },
    close: async () => floorSocket.close(),
  });
  for (const [i, config] of configs.entries()) {
    const server = servers[i + 1]!;
    const mint = (peer: string) => signToken(secret, { g: "ab", p: peer, iat: Date.now() });
    const alice = await mcpClient(server.url, await mint("alice"));
    const bob = await RelaySocket.open(server.url, "ab", await mint("bob"));
    variants.push({
      label: config,
      server,
      delivery: [],
      call: [],
      trip: async () => {
        const t0 = now();
        const { seq } = toolValue<{ seq: number }>(await alice.callTool({ name: "send_dm", arguments: { to: "bob", text: "a/b" } }));
        const t1 = now();
        return { delivery: (await bob.arrivals.wait(seq, 5_000)) - t0, call: t1 - t0 };
      },
      close: async () => {
        bob.close();
        await alice.close();
      },
    });
  }
  for (let i = 0; i < 40; i++) for (const v of variants) await v.trip();
  const procs = variants.map((v) => wranglerProcesses(Number(new URL(v.server.url).port)));
  const before = procs.map((p) => cpuSnapshot(p));
  for (let round = 0; round < trips; round++) {
    const order = [...variants].sort(() => Math.random() - 0.5);
    for (const v of order) {
      const { delivery, call } = await v.trip();
      v.delivery.push(delivery);
      v.call.push(call);
      await sleep(5);
    }
  }
  for (const [i, v] of variants.entries()) {
    const cpu = cpuDiff(before[i]!, cpuSnapshot(procs[i]!), trips);
    delete cpu["bench client (node)"];
    const d = summarize(v.delivery);
    const c = summarize(v.call);
    console.log(`${v.label}\n  delivery p50 ${d.p50} p90 ${d.p90} p99 ${d.p99} | call p50 ${c.p50} p90 ${c.p90} p99 ${c.p99} | CPU ms/trip ${JSON.stringify(cpu)}`);
  }
  for (const v of variants) await v.close();
} finally {
  await Promise.all(servers.map((s) => s.stop()));
}

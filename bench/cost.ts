/**
 * Where a send's CPU goes, by process and by side: the relay and the floor are driven with raw
 * HTTP (no MCP client, so the client's own cost is the same small figure for both), closed-loop,
 * and the CPU each process spent is read from /proc and divided by the operations done. Rounds
 * alternate between the shapes, so machine noise hits them alike; the median round is shown.
 *
 *   relay send          tools/call send_message, answered by the fast lane: Worker + group object
 *   relay worker only   the same POST with an invalid argument: the Worker verifies the token,
 *                       reads and parses the body, validates, and answers with the SDK's error
 *                       result without calling the group object (the Worker's share of a send)
 *   floor send          POST -> DO -> SQLite -> sockets
 *   ... + 10 sockets    the same with 10 listening sockets (the relay's ack as a bridge does)
 *
 * Under wrangler dev the Worker and the group object share the "workerd user worker" process; in
 * production the Worker's share is spread over many isolates and the object's is one group's
 * ceiling, so "relay send" minus "relay worker only" is the object's share (plus the RPC hop).
 *
 *   node bench/cost.ts [ops per round=1500] [rounds=3]
 *   node bench/cost.ts 1500 3 --compare bench/.out/base/wrangler.toml   (A/B: another copy of the
 *                                      relay, e.g. `git archive main worker contract wrangler.toml`)
 *
 * Not part of `npm run bench`.
 */
import { parseArgs } from "node:util";
import { ensureDevSecret, findSecret } from "../scripts/secret.ts";
import { signToken } from "../contract/token.ts";
import { FloorSocket, floorSend, RelaySocket } from "./lib/clients.ts";
import { cpuDiff, cpuSnapshot, wranglerProcesses } from "./lib/proc.ts";
import { startWrangler } from "./lib/servers.ts";

const { values, positionals } = parseArgs({ options: { "relay-config": { type: "string" }, compare: { type: "string" } }, allowPositionals: true });
const OPS = Number(positionals[0] ?? 1500);
const ROUNDS = Number(positionals[1] ?? 3);
const CONCURRENCY = 4;
const LISTENERS = 10;

ensureDevSecret();
const secret = findSecret()!;
const RELAY_VARS = { RATE_LIMIT_COUNT: "1000000" };
const [relay, floor, other] = await Promise.all([
  startWrangler({ ...(values["relay-config"] && { config: values["relay-config"] }), vars: RELAY_VARS }),
  startWrangler({ config: "bench/floor/wrangler.toml" }),
  values.compare ? startWrangler({ config: values.compare, vars: RELAY_VARS }) : null,
]);

const mint = (group: string, peer: string) => signToken(secret, { g: group, p: peer, iat: Date.now() });
const port = (url: string) => Number(new URL(url).port);

/** A raw single tools/call POST, as Claude Code sends it; resolves once the whole answer is read. */
function toolCall(token: string, args: Record<string, unknown>, url = relay.url): () => Promise<void> {
  let id = 1;
  return async () => {
    const response = await fetch(`${url}/mcp`, {
      method: "POST",
      headers: {
        Authorization: `Bearer ${token}`,
        Accept: "application/json, text/event-stream",
        "Content-Type": "application/json",
        "mcp-protocol-version": "2025-06-18",
      },
      body: JSON.stringify({ jsonrpc: "2.0", id: id++, method: "tools/call", params: { name: "send_message", arguments: args } }),
    });
    const text = await response.text();
    if (!response.ok || !text.includes('"result"')) throw new Error(`unexpected answer ${response.status}: ${text.slice(0, 200)}`);
  };
}

async function cpuPerOp(procPort: number, op: () => Promise<void>): Promise<Record<string, number>> {
  const procs = wranglerProcesses(procPort);
  const before = cpuSnapshot(procs);
  let left = OPS;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (left-- > 0) await op();
    }),
  );
  return cpuDiff(before, cpuSnapshot(procs), OPS);
}

try {
  const shapes: { name: string; port: number; op: () => Promise<void>; setup?: () => Promise<() => void> }[] = [];
  const lone = await mint("cost-lone", "sender");
  shapes.push({ name: "relay send", port: port(relay.url), op: toolCall(lone, { text: "hello from the bench" }) });
  shapes.push({ name: "relay worker only (invalid input)", port: port(relay.url), op: toolCall(lone, { text: 42 }) });
  shapes.push({ name: "floor send", port: port(floor.url), op: () => floorSend(floor.url, "cost-lone", "hello from the bench").then(() => undefined) });
  const crowdToken = await mint("cost-crowd", "sender");
  const relayListeners = await Promise.all(Array.from({ length: LISTENERS }, async (_, i) => RelaySocket.open(relay.url, "cost-crowd", await mint("cost-crowd", `l${i}`))));
  const floorListeners = await Promise.all(Array.from({ length: LISTENERS }, () => FloorSocket.open(floor.url, "cost-crowd")));
  shapes.push({ name: `relay send + ${LISTENERS} sockets`, port: port(relay.url), op: toolCall(crowdToken, { text: "hello from the bench" }) });
  shapes.push({ name: `floor send + ${LISTENERS} sockets`, port: port(floor.url), op: () => floorSend(floor.url, "cost-crowd", "hello from the bench").then(() => undefined) });

  if (other) {
    const otherLone = await mint("cost-lone", "sender");
    shapes.push({ name: "compare: relay send", port: port(other.url), op: toolCall(otherLone, { text: "hello from the bench" }, other.url) });
    shapes.push({ name: "compare: relay worker only", port: port(other.url), op: toolCall(otherLone, { text: 42 }, other.url) });
    const listeners = await Promise.all(Array.from({ length: LISTENERS }, async (_, i) => RelaySocket.open(other.url, "cost-crowd", await mint("cost-crowd", `l${i}`))));
    relayListeners.push(...listeners);
    shapes.push({ name: `compare: relay send + ${LISTENERS} sockets`, port: port(other.url), op: toolCall(await mint("cost-crowd", "sender"), { text: "hello from the bench" }, other.url) });
  }
  // Warm every path first (JIT, first-use allocations).
  for (const shape of shapes) for (let i = 0; i < 100; i++) await shape.op();
  const results = new Map<string, Record<string, number>[]>();
  for (let round = 0; round < ROUNDS; round++) {
    for (const shape of shapes) {
      const figures = await cpuPerOp(shape.port, shape.op);
      results.set(shape.name, [...(results.get(shape.name) ?? []), figures]);
      process.stderr.write(`round ${round + 1} ${shape.name}: ${JSON.stringify(figures)}\n`);
    }
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  console.log(`\nCPU ms per operation (median of ${ROUNDS} rounds of ${OPS}, ${CONCURRENCY} concurrent):`);
  const roles = ["workerd user worker", "workerd entry proxy", "wrangler (node)", "bench client (node)"];
  console.log(`${"shape".padEnd(36)} ${roles.map((r) => r.padStart(20)).join(" ")} ${"total".padStart(8)}`);
  for (const [name, rounds] of results) {
    const cells = roles.map((role) => median(rounds.map((r) => r[role] ?? Number.NaN)));
    const total = median(rounds.map((r) => roles.reduce((sum, role) => sum + (r[role] ?? 0), 0)));
    console.log(`${name.padEnd(36)} ${cells.map((c) => c.toFixed(3).padStart(20)).join(" ")} ${total.toFixed(3).padStart(8)}`);
  }
  for (const l of relayListeners) l.close();
  for (const l of floorListeners) l.close();
} finally {
  await Promise.all([relay.stop(), floor.stop(), other?.stop()]);
}

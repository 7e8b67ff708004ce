/**
 * Where the relay's time goes: first the CPU each process spends per trip (from /proc: wrangler's
 * Node process, its entry workerd, the workerd running the worker), then V8 CPU profiles of the
 * relay's isolate (Worker + group object share one under wrangler dev) and of the floor's while
 * each serves the same number of trips, with the heaviest functions.
 *
 * Read the V8 part as a ranking, not as CPU time: workerd does not mark its idle time for the
 * sampler, so samples taken while the isolate waits land on whatever frame was last on the stack
 * (SQLite `exec`, `_onclose`, …) and the per-trip totals exceed the wall time. The /proc figures
 * are the CPU.
 *
 *   node bench/profile.ts [trips=300]
 *
 * Not part of `npm run bench`; it is the tool used to find the numbers in the bench's notes.
 */
import WebSocket from "ws";
import { ensureDevSecret, findSecret } from "../scripts/secret.ts";
import { signToken } from "../contract/token.ts";
import { FloorSocket, floorSend, mcpClient, RelaySocket, toolValue } from "./lib/clients.ts";
import { cpuDiff, cpuSnapshot, wranglerProcesses } from "./lib/proc.ts";
import { startWrangler, type WranglerServer } from "./lib/servers.ts";
import { now, sleep, summarize } from "./lib/stats.ts";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  hitCount?: number;
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

class Cdp {
  private next = 1;
  private readonly pending = new Map<number, (value: unknown) => void>();
  private readonly socket: WebSocket;
  private constructor(socket: WebSocket) {
    this.socket = socket;
    socket.on("message", (data) => {
      const message = JSON.parse(String(data)) as { id?: number; result?: unknown; error?: unknown };
      if (message.id !== undefined) this.pending.get(message.id)?.(message.error ? Promise.reject(new Error(JSON.stringify(message.error))) : message.result);
    });
  }

  static async connect(port: number): Promise<Cdp> {
    const [target] = (await (await fetch(`http://127.0.0.1:${port}/json`)).json()) as { webSocketDebuggerUrl: string }[];
    const socket = new WebSocket(target!.webSocketDebuggerUrl);
    await new Promise((resolve, reject) => socket.once("open", resolve).once("error", reject));
    return new Cdp(socket);
  }

  send<T = unknown>(method: string, params: Record<string, unknown> = {}): Promise<T> {
    const id = this.next++;
    this.socket.send(JSON.stringify({ id, method, params }));
    return new Promise((resolve) => this.pending.set(id, resolve as (value: unknown) => void));
  }

  close(): void {
    this.socket.close();
  }
}

async function profileWhile(server: WranglerServer, work: () => Promise<void>): Promise<Profile> {
  const cdp = await Cdp.connect(server.inspectorPort);
  await cdp.send("Profiler.enable");
  await cdp.send("Profiler.setSamplingInterval", { interval: 100 });
  await cdp.send("Profiler.start");
  await work();
  const { profile } = await cdp.send<{ profile: Profile }>("Profiler.stop");
  cdp.close();
  return profile;
}

const SPECIAL = new Set(["(idle)", "(program)", "(garbage collector)", "(root)"]);

function frameName(node: ProfileNode): string {
  const { functionName, url, lineNumber } = node.callFrame;
  const file = url.split("/").slice(-2).join("/");
  return `${functionName || "(anonymous)"} ${file ? `${file}:${lineNumber + 1}` : ""}`.trim();
}

function analyse(profile: Profile, trips: number, label: string, focus: string[]): void {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  // Time per sample: the delta that follows it.
  const self = new Map<number, number>();
  profile.samples.forEach((id, i) => {
    const dt = (profile.timeDeltas[i + 1] ?? 0) / 1000;
    self.set(id, (self.get(id) ?? 0) + dt);
  });
  const totalMs = (profile.endTime - profile.startTime) / 1000;
  let idle = 0;
  let busy = 0;
  const selfByName = new Map<string, number>();
  const inclusive = new Map<string, number>();
  for (const [id, ms] of self) {
    const node = byId.get(id)!;
    const name = node.callFrame.functionName;
    if (name === "(idle)") {
      idle += ms;
      continue;
    }
    busy += ms;
    const key = SPECIAL.has(name) ? name : frameName(node);
    selfByName.set(key, (selfByName.get(key) ?? 0) + ms);
    // Inclusive time for focus names, each counted once per stack.
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const fname = byId.get(cur)!.callFrame.functionName;
      for (const f of focus) {
        if (fname === f && !seen.has(f)) {
          seen.add(f);
          inclusive.set(f, (inclusive.get(f) ?? 0) + ms);
        }
      }
    }
  }
  console.log(`\n== ${label}: ${trips} trips, ${totalMs.toFixed(0)} ms profiled, ${busy.toFixed(0)} ms in non-idle samples (over-counts, see above)`);
  console.log("  heaviest functions (sampled self time per trip; a ranking, not CPU):");
  for (const [name, ms] of [...selfByName].sort((a, b) => b[1] - a[1]).slice(0, 25)) {
    console.log(`    ${(ms / trips).toFixed(3).padStart(7)} ms  ${name}`);
  }
  if (focus.length) {
    console.log("  sampled inclusive time per trip:");
    for (const f of focus) console.log(`    ${((inclusive.get(f) ?? 0) / trips).toFixed(3).padStart(7)} ms  ${f}`);
  }
}

const trips = Number(process.argv[2] ?? 300);
ensureDevSecret();
const secret = findSecret()!;
const [relay, floor] = await Promise.all([startWrangler({ vars: { RATE_LIMIT_COUNT: "1000000", GROUP_AGENT_MESSAGES_PER_HOUR: "1000000" } }), startWrangler({ config: "bench/floor/wrangler.toml" })]);
try {
  const mint = (peer: string) => signToken(secret, { g: "prof", p: peer, iat: Date.now() });
  const alice = await mcpClient(relay.url, await mint("alice"));
  const bob = await RelaySocket.open(relay.url, "prof", await mint("bob"));
  const floorSocket = await FloorSocket.open(floor.url, "prof");
  const relayTimes: number[] = [];
  const floorTimes: number[] = [];
  const relayTrip = async (record: boolean) => {
    const t0 = now();
    const { seq } = toolValue<{ seq: number }>(await alice.callTool({ name: "send_dm", arguments: { to: "bob", text: "profiling" } }));
    const at = await bob.arrivals.wait(seq, 5_000);
    if (record) relayTimes.push(at - t0);
  };
  const floorTrip = async (record: boolean) => {
    const t0 = now();
    const { seq } = await floorSend(floor.url, "prof", "profiling");
    const at = await floorSocket.arrivals.wait(seq, 5_000);
    if (record) floorTimes.push(at - t0);
  };
  for (let i = 0; i < 50; i++) {
    await relayTrip(false);
    await floorTrip(false);
  }
  // CPU per trip by process, without the profiler attached.
  const port = (url: string) => Number(new URL(url).port);
  const relayProcs = wranglerProcesses(port(relay.url));
  const floorProcs = wranglerProcesses(port(floor.url));
  for (const [label, procs, trip] of [
    ["relay send_dm", relayProcs, relayTrip],
    ["floor POST", floorProcs, floorTrip],
  ] as const) {
    const before = cpuSnapshot(procs);
    const t0 = now();
    for (let i = 0; i < trips; i++) await trip(false);
    const wall = (now() - t0) / trips;
    console.log(`${label}: CPU ms per trip by process ${JSON.stringify(cpuDiff(before, cpuSnapshot(procs), trips))}; wall ${wall.toFixed(2)} ms per trip`);
  }
  const relayProfile = await profileWhile(relay, async () => {
    for (let i = 0; i < trips; i++) {
      await relayTrip(true);
      await sleep(5);
    }
  });
  const floorProfile = await profileWhile(floor, async () => {
    for (let i = 0; i < trips; i++) {
      await floorTrip(true);
      await sleep(5);
    }
  });
  console.log(`relay send_dm -> socket under the profiler: ${JSON.stringify(summarize(relayTimes))}`);
  console.log(`floor POST -> socket under the profiler:    ${JSON.stringify(summarize(floorTimes))}`);
  analyse(relayProfile, trips, "relay (send_dm)", [
    "fetch",
    "dispatch",
    "requireToken",
    "verifyToken",
    "callsATool",
    "buildRelayServer",
    "registerTool",
    "handleRequest",
    "isLegacyRequest",
    "send",
    "deliver",
    "touch",
    "validateToolInput",
    "safeParseAsync",
    "parseAsync",
  ]);
  analyse(floorProfile, trips, "floor (POST)", ["fetch", "send"]);
  bob.close();
  floorSocket.close();
  await alice.close();
} finally {
  await Promise.all([relay.stop(), floor.stop()]);
}

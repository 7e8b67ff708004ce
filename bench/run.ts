/**
 * `npm run bench`: starts the relay (`npm start`, i.e. wrangler dev) and the floor worker
 * (bench/floor) on free ports with fresh storage, runs every scenario with a bound on its time,
 * prints a table, writes bench/results.json and regenerates docs/performance.md from it. Exits
 * non-zero when a scenario could not finish or counted a message lost or duplicated.
 *
 *   npm run bench                      every scenario
 *   npm run bench -- floor tool_call   only these (the floor always runs: ratios need it)
 *   npm run bench -- --relay-config bench/.out/exp/wrangler.toml throughput
 *                                      the relay from another wrangler config (A/B of a worker
 *                                      change); results go to bench/.out/, never results.json
 *   npm run bench -- --bridge-dir bench/.out/exp/lb/local-bridge delivery
 *                                      the bridge from another copy of local-bridge/ (A/B)
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, loadavg, platform, release, totalmem } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { type BenchResults, PERFORMANCE_PAGE, renderPerformancePage } from "../scripts/perf-docs.ts";
import { findSecret } from "../scripts/secret.ts";
import { signToken } from "../contract/token.ts";
import { useBridgeDir } from "./lib/bridge.ts";
import { busyPercent, machineTicks, wranglerProcesses } from "./lib/proc.ts";
import type { BenchContext, BenchRelay, Row, Scenario, ScenarioOutput } from "./lib/context.ts";
import { type FloorServer, REPO_ROOT, startFloor, startRelay, startWrangler } from "./lib/servers.ts";
import { bridge } from "./scenarios/bridge.ts";
import { bundle, bundleSize } from "./scenarios/bundle.ts";
import { contextCost } from "./scenarios/context.ts";
import { delivery } from "./scenarios/delivery.ts";
import { fanout } from "./scenarios/fanout.ts";
import { floor } from "./scenarios/floor.ts";
import { hooks } from "./scenarios/hooks.ts";
import { throughput } from "./scenarios/throughput.ts";
import { toolCall } from "./scenarios/tool-call.ts";
import { wake } from "./scenarios/wake.ts";
import { web } from "./scenarios/web.ts";
import { runaway } from "./scenarios/runaway.ts";
import { judge, type TargetResult } from "./targets.ts";

const RESULTS_PATH = fileURLToPath(new URL("./results.json", import.meta.url));

/**
 * The relay's per-peer send limit (30 per 10 s) would cap every load scenario; it is lifted here,
 * and so is the group's hourly budget for agent messages (docs/chains.md), which thousands of
 * bench sends in one group would pass. Each chain's budget stays: `runaway` measures it.
 */
const RELAY_VARS = { RATE_LIMIT_COUNT: "1000000", GROUP_AGENT_MESSAGES_PER_HOUR: "1000000" };

const SCENARIOS: Scenario[] = [floor, toolCall, delivery, fanout, throughput, wake, contextCost, bundle, bridge, hooks, web, runaway];

const started = performance.now();
const ticksAtStart = machineTicks();
const elapsed = () => `${((performance.now() - started) / 1000).toFixed(1)} s`;
const log = (message: string) => process.stderr.write(`[bench ${elapsed()}] ${message}\n`);

function machine() {
  // Read package.json files directly: some packages' export maps hide or redirect them.
  const version = (dir: string) => {
    try {
      return (JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as { version: string }).version;
    } catch {
      return "unknown";
    }
  };
  const modules = join(REPO_ROOT, "node_modules");
  const nested = join(modules, "wrangler", "node_modules", "workerd");
  const workerd = version(existsSync(nested) ? nested : join(modules, "workerd"));
  const cpu = cpus();
  return {
    cores: cpu.length,
    cpu_model: cpu[0]?.model ?? "unknown",
    memory_gib: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    platform: `${platform()} ${release()}`,
    node: process.version,
    wrangler: version(join(modules, "wrangler")),
    workerd,
    mcp_sdk_client: version(join(modules, "@modelcontextprotocol", "sdk")),
    load_average_at_start: loadavg().map((l) => Math.round(l * 100) / 100),
  };
}

function fmt(value: number): string {
  return Number.isFinite(value) ? value.toFixed(2) : "-";
}

function printTable(
  outputs: [Scenario, ScenarioOutput | { error: string }][],
  targets: TargetResult[],
  startedWith: string,
  info: ReturnType<typeof machine>,
): void {
  const lines: string[] = [];
  const width = 46;
  lines.push("");
  lines.push(`${"Scenario / metric".padEnd(width)} ${"p50 ms".padStart(9)} ${"p90 ms".padStart(9)} ${"p99 ms".padStart(9)} ${"n".padStart(5)}  note`);
  lines.push("-".repeat(width + 46));
  for (const [scenario, output] of outputs) {
    lines.push(scenario.title);
    if ("error" in output) {
      lines.push(`  FAILED: ${output.error}`);
      continue;
    }
    for (const row of output.rows as Row[]) {
      const name = `  ${row.metric}`.padEnd(width);
      if (row.latency) {
        const l = row.latency;
        lines.push(`${name} ${fmt(l.p50).padStart(9)} ${fmt(l.p90).padStart(9)} ${fmt(l.p99).padStart(9)} ${String(l.n).padStart(5)}  ${row.note ?? ""}`);
      } else {
        lines.push(`${name} ${row.value ?? ""}${row.note ? `  ${row.note}` : ""}`);
      }
    }
  }
  lines.push("");
  lines.push(`${"Target".padEnd(44)} ${"Goal".padEnd(36)} ${"Met".padEnd(4)} Measured`);
  lines.push("-".repeat(width + 46));
  for (const t of targets) lines.push(`${t.target.padEnd(44)} ${t.goal.padEnd(36)} ${(t.value === null ? "-" : t.met ? "yes" : "NO").padEnd(4)} ${t.measured}`);
  lines.push("");
  lines.push(`Machine: ${info.cores} cores, ${info.cpu_model}, Node ${info.node}, wrangler ${info.wrangler}; load average ${info.load_average_at_start.join(" ")} at start.`);
  lines.push(`Relay: ${startedWith}, with --var ${Object.entries(RELAY_VARS).map(([k, v]) => `${k}:${v}`).join(" ")} (per-peer rate limit lifted for the load scenarios).`);
  for (const [scenario, output] of outputs) {
    if ("error" in output) continue;
    for (const note of output.notes) lines.push(`${scenario.name}: ${note}`);
  }
  process.stdout.write(`${lines.join("\n")}\n`);
}

async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} exceeded its ${ms} ms bound`)), ms))),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** A relay from another wrangler config, with tokens minted from the same secret (.dev.vars). */
async function startRelayFromConfig(config: string): Promise<BenchRelay> {
  const server = await startWrangler({ config, vars: RELAY_VARS });
  const secret = findSecret();
  if (!secret) throw new Error("no RELAY_SECRET: run `npm start` once, or export RELAY_SECRET");
  return { ...server, mint: (group, peer) => signToken(secret, { g: group, p: peer, iat: Date.now() }) };
}

async function main(): Promise<void> {
  const { values, positionals: only } = parseArgs({
    options: { "relay-config": { type: "string" }, "bridge-dir": { type: "string" } },
    allowPositionals: true,
  });
  const relayConfig = values["relay-config"];
  const bridgeDir = values["bridge-dir"];
  if (bridgeDir) useBridgeDir(resolve(bridgeDir));
  const chosen = only.length === 0 ? SCENARIOS : SCENARIOS.filter((s) => s.name === "floor" || only.includes(s.name));
  const info = machine();
  log(`${info.cores} cores, ${info.memory_gib} GiB, Node ${info.node}, wrangler ${info.wrangler}; starting relay and floor`);

  let relay: BenchRelay | undefined;
  let floorServer: FloorServer | undefined;
  const shutdown = async () => {
    await Promise.allSettled([relay?.stop(), floorServer?.stop()]);
  };
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.once(signal, () => {
      log(`${signal}: stopping servers`);
      void shutdown().finally(() => process.exit(130));
    });
  }

  // The bundle build needs no server, and its figure does not depend on load: run it meanwhile.
  const bundling = chosen.includes(bundle) ? bundleSize().catch((error: unknown) => error as Error) : null;
  const outputs: [Scenario, ScenarioOutput | { error: string }][] = [];
  const done: Record<string, ScenarioOutput> = {};
  try {
    [relay, floorServer] = await Promise.all([
      relayConfig ? startRelayFromConfig(relayConfig) : startRelay({ vars: RELAY_VARS }),
      startFloor(),
    ]);
    log(`relay on ${relay.url}, floor on ${floorServer.url}`);
    for (const scenario of chosen) {
      log(`${scenario.name}: running (bound ${scenario.budgetMs / 1000} s)`);
      const ctx: BenchContext = {
        relay,
        floor: floorServer,
        relayVars: RELAY_VARS,
        done,
        budgetMs: scenario.budgetMs,
        log: (message) => log(`${scenario.name}: ${message}`),
      };
      // A workerd that restarts mid-scenario (crash, or something else on the machine killing it)
      // closes every socket: the figures would be wrong, so it is detected and said.
      const servers = { relay: relay.url, floor: floorServer.url };
      const pidsOf = () =>
        Object.fromEntries(Object.entries(servers).map(([name, url]) => [name, wranglerProcesses(Number(new URL(url).port)).map((p) => p.pid).sort().join(",")]));
      const pidsBefore = pidsOf();
      const t0 = performance.now();
      try {
        const run = scenario === bundle && bundling ? bundle.fromBuild(await bundling) : scenario.run(ctx);
        const output = await withTimeout(run, scenario.budgetMs + 20_000, scenario.name);
        const pidsAfter = pidsOf();
        for (const name of Object.keys(servers)) {
          if (pidsBefore[name] !== pidsAfter[name]) {
            const warning = `WARNING: the ${name}'s wrangler/workerd processes changed during this scenario (${pidsBefore[name]} -> ${pidsAfter[name]}): it restarted, and these figures are suspect.`;
            output.notes.push(warning);
            log(`${scenario.name}: ${warning}`);
          }
        }
        done[scenario.name] = output;
        outputs.push([scenario, output]);
        log(`${scenario.name}: done in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        outputs.push([scenario, { error: message }]);
        log(`${scenario.name}: FAILED: ${message}`);
      }
    }
  } finally {
    await shutdown();
  }

  const targets = judge(done);
  const startedWith = [relayConfig ? `wrangler dev -c ${relayConfig}` : "npm start", bridgeDir ? `bridge from ${bridgeDir}` : ""].filter(Boolean).join("; ");
  printTable(outputs, targets, startedWith, info);
  const results = {
    date: new Date().toISOString(),
    duration_seconds: Math.round((performance.now() - started) / 100) / 10,
    machine: {
      ...info,
      load_average_at_end: loadavg().map((l) => Math.round(l * 100) / 100),
      // Everything on the machine, the bench's own servers and clients included: with other work
      // running, the same code measures slower. Compare runs with this in view.
      cpu_busy_percent_during_run: busyPercent(ticksAtStart, machineTicks()),
    },
    relay: {
      started_with: relayConfig ? `wrangler dev -c ${relayConfig}` : "npm start (wrangler dev)",
      ...(bridgeDir && { bridge_dir: bridgeDir }),
      vars: RELAY_VARS,
      note: "RATE_LIMIT_COUNT raised from 30 to 1000000 per 10 s and GROUP_AGENT_MESSAGES_PER_HOUR from 200 to 1000000 so load scenarios measure the relay, not its limits.",
    },
    units: "milliseconds unless a key says otherwise; latencies as {n, p50, p90, p99, min, max, mean}",
    scenarios: Object.fromEntries(
      outputs.map(([s, o]) => [
        s.name,
        "error" in o ? { title: s.title, error: o.error } : { title: s.title, ...o.figures, notes: o.notes, ...(o.losses && { losses: o.losses }) },
      ]),
    ),
    targets,
  };
  if (only.length === 0 && !relayConfig && !bridgeDir) {
    writeFileSync(RESULTS_PATH, `${JSON.stringify(results, null, 2)}\n`);
    log(`wrote ${RESULTS_PATH} (${elapsed()} in all)`);
    writeFileSync(PERFORMANCE_PAGE, renderPerformancePage(results as unknown as BenchResults));
    log(`wrote ${PERFORMANCE_PAGE} from it`);
  } else {
    const partial = fileURLToPath(new URL("./.out/results.partial.json", import.meta.url));
    mkdirSync(dirname(partial), { recursive: true });
    writeFileSync(partial, `${JSON.stringify(results, null, 2)}\n`);
    log(`partial run: wrote ${partial}, results.json left as it was`);
  }

  const failures = failuresOf(outputs);
  if (failures.length > 0) {
    process.stdout.write(`\nFAILED:\n${failures.map((f) => `  ${f}`).join("\n")}\n`);
    process.exitCode = 1;
  }
}

/** What makes the run fail: a scenario that could not finish, or any message lost or duplicated. */
function failuresOf(outputs: [Scenario, ScenarioOutput | { error: string }][]): string[] {
  const failures: string[] = [];
  for (const [scenario, output] of outputs) {
    if ("error" in output) {
      failures.push(`${scenario.name}: did not finish: ${output.error}`);
      continue;
    }
    for (const [what, count] of Object.entries(output.losses ?? {})) if (count > 0) failures.push(`${scenario.name}: ${what}: ${count}`);
  }
  return failures;
}

await main();

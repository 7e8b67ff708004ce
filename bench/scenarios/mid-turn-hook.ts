/**
 * What the PostToolUse hook (`relay-hook.mjs hook tool`) costs a session per tool call, timed as a
 * whole process from spawn to exit (Node's start-up included), next to `node -e 0` (Node's own
 * start-up on this machine):
 * - local: a bridge's pressing file answers (nothing pressing: the common case);
 * - cached: no bridge; the relay's answer from less than 3 s ago is reused;
 * - asks: no bridge, no fresh answer: one GET /groups/:group/pressing to the relay.
 *
 * Runnable alone: `node bench/scenarios/mid-turn-hook.ts [runs]` (default 30). Prints JSON.
 * Starts its own relay (`npm start`). Run `npm run build:bridge` first for the hook bundle.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { resolveTarget } from "../../local-bridge/core/config.ts";
import { configPath, saveTarget } from "../../local-bridge/core/config-file.ts";
import { PressingBoard } from "../../local-bridge/core/pressing-file.ts";
import { REPO_ROOT, startRelay } from "../../tests/helpers/relay-server.ts";

const RUNS = Number(process.argv[2] ?? 30);
const HOOK = join(REPO_ROOT, "local-bridge", "dist", "relay-hook.mjs");

function timed(args: string[], env: NodeJS.ProcessEnv, stdin: string): Promise<number> {
  const start = performance.now();
  const child = spawn(process.execPath, args, { env, stdio: ["pipe", "ignore", "ignore"] });
  child.stdin.end(stdin);
  return new Promise((resolve) => child.once("exit", () => resolve(performance.now() - start)));
}

function stats(samples: number[]) {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (p: number) => Math.round(sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]! * 10) / 10;
  return { n: sorted.length, p50: at(50), p95: at(95), max: at(100) };
}

async function series(run: () => Promise<number>, before: () => void = () => {}): Promise<ReturnType<typeof stats>> {
  for (let i = 0; i < 3; i++) {
    before();
    await run();
  }
  const samples: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    before();
    samples.push(await run());
  }
  return stats(samples);
}

const relay = await startRelay();
try {
  const dir = mkdtempSync(join(tmpdir(), "bench-midturn-"));
  const env = { ...process.env, XDG_CONFIG_HOME: dir, XDG_STATE_HOME: dir };
  const token = await relay.mint("bench-midturn", "bob");
  const target = resolveTarget(relay.url, token);
  const profile = saveTarget(target, configPath({ XDG_CONFIG_HOME: dir }));
  const input = JSON.stringify({ session_id: "bench", hook_event_name: "PostToolUse", tool_name: "Bash" });
  const hook = () => timed([HOOK, "hook", "tool", "--profile", profile], env, input);
  const results: Record<string, unknown> = { runs: RUNS, node: process.version };

  results.node_e_0_ms = await series(() => timed(["-e", "0"], env, ""));

  const board = new PressingBoard({ url: target.baseUrl, group: target.group, peer: target.peer }, join(dir, "claude-relay"));
  board.setConnected(true);
  results.local_file_ms = await series(hook);
  board.setConnected(false);

  results.relay_cached_ms = await series(hook);
  const cacheDir = join(dir, "claude-relay", "hooks");
  results.relay_asks_ms = await series(hook, () => {
    rmSync(cacheDir, { recursive: true, force: true });
  });
  process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
} finally {
  await relay.stop();
}

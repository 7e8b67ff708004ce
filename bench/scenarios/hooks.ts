/**
 * Hooks: how long Claude Code waits for the relay's hook command (`relay-bridge hook prompt|stop`)
 * per prompt and per stop, as a whole process (start-up, reading its profile, the unread-summary
 * call, printing), with two unread DMs so every run has something to say; and the summary call
 * alone (GET /groups/:group/unread from this process) for the relay's share. Every form a hook can
 * run as: the small hook bundle `dist/relay-hook.mjs` that `hooks install` prefers when it is built
 * (the target), the bundle behind the `relay-bridge` bin, and the TypeScript CLI (information).
 * Fail-open cost: the same hook against a relay that refuses connections.
 *
 * The claims guard (PreToolUse, `guard tool --profile`, added by `hooks install` on the editing
 * tools and Bash): an Edit inside another peer's claim in a real git repository, denied (the GET
 * of the group's claims plus git's two questions about the checkout), and a Bash command that
 * cannot discard work, which asks nothing.
 */
import { execFileSync, spawn as spawnChild } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { resolveTarget } from "../../local-bridge/core/config.ts";
import { saveTarget } from "../../local-bridge/core/config-file.ts";
import { bridgeAvailable, bridgeForms } from "../lib/bridge.ts";
import { dmWhenKnown, mcpClient } from "../lib/clients.ts";
import type { Row, Scenario } from "../lib/context.ts";
import { freePort } from "../lib/servers.ts";
import { now, percentile, summarize } from "../lib/stats.ts";

const RUNS = 40;
const WARMUP = 3;

/** One hook process, its event JSON on stdin; resolves with its wall time and what it printed. */
function runHook(script: string, hook: string, profile: string, env: NodeJS.ProcessEnv, sessionId: string): Promise<{ ms: number; stdout: string }> {
  const start = now();
  const child = spawnChild(process.execPath, [script, "hook", hook, "--profile", profile], { env, stdio: ["pipe", "pipe", "ignore"] });
  let stdout = "";
  child.stdout.on("data", (chunk) => (stdout += chunk));
  child.stdin.end(JSON.stringify({ hook_event_name: hook, session_id: sessionId }));
  return new Promise((resolve) => child.once("exit", () => resolve({ ms: now() - start, stdout })));
}

/** One `guard tool` process (Claude Code's PreToolUse hook) for `call`, run in `cwd`. */
function runGuard(script: string, profile: string, env: NodeJS.ProcessEnv, cwd: string, call: object): Promise<{ ms: number; stdout: string }> {
  const start = now();
  const child = spawnChild(process.execPath, [script, "guard", "tool", "--profile", profile], { env, cwd, stdio: ["pipe", "pipe", "ignore"] });
  let stdout = "";
  child.stdout.on("data", (chunk) => (stdout += chunk));
  child.stdin.end(JSON.stringify({ hook_event_name: "PreToolUse", cwd, ...call }));
  return new Promise((resolve) => child.once("exit", () => resolve({ ms: now() - start, stdout })));
}

/** A git checkout with an origin, for the guard to locate files in. */
function checkout(home: string): string {
  const dir = join(home, "app");
  mkdirSync(join(dir, "src", "api"), { recursive: true });
  execFileSync("git", ["init", "-q", "-b", "main"], { cwd: dir });
  execFileSync("git", ["remote", "add", "origin", "git@github.com:acme/app.git"], { cwd: dir });
  return dir;
}

const p95 = (samples: number[]) => Math.round(percentile([...samples].sort((a, b) => a - b), 95) * 100) / 100;

export const hooks: Scenario = {
  name: "hooks",
  title: "Claude Code hooks (hook command per prompt / stop)",
  budgetMs: 180_000,
  async run(ctx) {
    if (!bridgeAvailable()) {
      return { figures: { skipped: "local-bridge/cli.ts not found" }, rows: [{ metric: "hooks", value: "skipped: no local-bridge/cli.ts" }], notes: [] };
    }
    const notes: string[] = [];
    const [ts, bundle] = bridgeForms();
    const hookBundle = { label: "relay-hook bundle (dist/relay-hook.mjs)", script: join(dirname(bundle!.script), "relay-hook.mjs") };
    const forms = [ts!, bundle!, hookBundle].filter((form) => {
      if (existsSync(form.script)) return true;
      notes.push(`${form.label}: ${form.script} not found (run \`npm run build:bridge\`); not measured.`);
      return false;
    });
    const group = "bench-hooks";
    const token = await ctx.relay.mint(group, "reader");
    const reader = await mcpClient(ctx.relay.url, token);
    await reader.callTool({ name: "list_peers", arguments: {} });
    const sender = await mcpClient(ctx.relay.url, await ctx.relay.mint(group, "writer"));
    await dmWhenKnown(sender, "reader", "one");
    await dmWhenKnown(sender, "reader", "two");

    const home = mkdtempSync(join(tmpdir(), "bench-hooks-"));
    const env = { ...process.env, XDG_CONFIG_HOME: join(home, "config"), XDG_STATE_HOME: join(home, "state") };
    const configPath = join(home, "config", "claude-relay", "config.json");
    const profile = saveTarget(resolveTarget(ctx.relay.url, token), configPath);
    const downToken = await ctx.relay.mint("bench-hooks-down", "reader");
    const down = saveTarget(resolveTarget(`http://127.0.0.1:${await freePort()}`, downToken), configPath);

    const figures: Record<string, unknown> = {};
    const rows: Row[] = [];

    // The relay's share: the summary call alone, from a warm process.
    const summary: number[] = [];
    for (let i = 0; i < WARMUP + RUNS; i++) {
      const start = now();
      const response = await fetch(`${ctx.relay.url}/groups/${group}/unread`, { headers: { Authorization: `Bearer ${token}` } });
      await response.json();
      if (i >= WARMUP) summary.push(now() - start);
    }
    figures.unread_call = { ...summarize(summary), p95: p95(summary) };
    rows.push({ metric: "GET /groups/:group/unread (in-process)", latency: summarize(summary), note: `p95 ${p95(summary)} ms` });

    for (const form of forms) {
      const key = form === ts ? "ts" : form === bundle ? "bundle" : "hook_bundle";
      for (const hook of ["prompt", "stop"]) {
        const samples: number[] = [];
        for (let i = 0; i < WARMUP + RUNS; i++) {
          // A fresh session id each time, so the Stop hook has something to raise on every run.
          const { ms, stdout } = await runHook(form.script, hook, profile, env, `bench-${key}-${hook}-${i}`);
          if (!stdout.includes("[relay] 2 unread")) throw new Error(`${form.label} hook ${hook} printed ${JSON.stringify(stdout)}`);
          if (i >= WARMUP) samples.push(ms);
        }
        figures[`${key}_${hook}`] = { ...summarize(samples), p95: p95(samples) };
        rows.push({ metric: `hook ${hook}, ${form.label}`, latency: summarize(samples), note: `p95 ${p95(samples)} ms` });
      }
      const refused: number[] = [];
      for (let i = 0; i < 10; i++) {
        const { ms, stdout } = await runHook(form.script, "stop", down, env, `bench-down-${i}`);
        if (stdout !== "") throw new Error(`hook against a relay that is down printed ${JSON.stringify(stdout)}`);
        refused.push(ms);
      }
      figures[`${key}_relay_down`] = summarize(refused);
      rows.push({ metric: `hook stop, relay down (fail open), ${form.label}`, latency: summarize(refused) });
    }
    // The claims guard: the writer holds src/api; the reader's session edits inside it.
    await sender.callTool({ name: "claim_paths", arguments: { paths: ["src/api"], reason: "bench" } });
    const repo = checkout(home);
    const edit = { tool_name: "Edit", tool_input: { file_path: join(repo, "src", "api", "server.ts"), old_string: "a", new_string: "b" } };
    const ls = { tool_name: "Bash", tool_input: { command: "ls src" } };
    // Only the form `hooks install` writes (the hook bundle when built): the others start the same way.
    for (const form of forms.filter((f) => f === hookBundle)) {
      const key = "hook_bundle";
      for (const [name, call, denied] of [["edit_denied", edit, true], ["bash_no_request", ls, false]] as const) {
        const samples: number[] = [];
        for (let i = 0; i < WARMUP + RUNS; i++) {
          const { ms, stdout } = await runGuard(form.script, profile, env, repo, call);
          if (stdout.includes('"deny"') !== denied) throw new Error(`${form.label} guard ${name} printed ${JSON.stringify(stdout)}`);
          if (i >= WARMUP) samples.push(ms);
        }
        figures[`${key}_guard_${name}`] = { ...summarize(samples), p95: p95(samples) };
        rows.push({ metric: `guard (PreToolUse) ${name.replace(/_/g, " ")}, ${form.label}`, latency: summarize(samples), note: `p95 ${p95(samples)} ms` });
      }
    }
    await Promise.all([reader.close(), sender.close()]);
    notes.push(
      `Whole hook process on the bench's Node (${process.version}), ${RUNS} runs each after ${WARMUP} unrecorded, two unread DMs; ` +
        "target: p95 < 150 ms for the form `hooks install` writes (the relay-hook bundle when built). A relay that hangs costs the hook's 1.5 s bound (tests/bridge/hooks-command.test.ts).",
    );
    return { figures, rows, notes };
  },
};

/**
 * to-model: the figure that matters to a person waiting for an answer: the time from a send
 * (`send_dm` returning to the sender) to the model having the news in its context, with the real
 * Claude Code CLI offline against the model stand-in, which records when each request arrives.
 *
 * - idle pane: Claude Code's TUI idle in a tmux pane, `relay-bridge connect --pane` beside it: the
 *   notice is typed into the input box and submitted (idle detection, typing, Enter, Claude's own
 *   turn start, the UserPromptSubmit hook when installed: here none, as setup with a bridge may).
 * - hooks only, next prompt: no bridge; the news reaches the model with the person's next prompt
 *   (the UserPromptSubmit hook). Timed from the send to that request when the prompt comes at once
 *   (`claude -p` started right after the send), so it includes Claude Code's start-up.
 * - busy, urgent mid-turn: hooks only; a turn of Bash calls (each `sleep 1`), an urgent DM sent
 *   during it; timed until the PostToolUse context is in a request of the same turn. Bound by when
 *   the running tool call ends. Again with a bridge beside the session (`busy-bridge`).
 *
 * Runnable alone: `node bench/scenarios/to-model.ts [samples] [pane|prompt|busy|busy-bridge ...]` (default 5
 * samples, every case). Prints JSON.
 * Needs `claude` and `tmux` on PATH. It starts its own relay (`npm start`) and model stand-in.
 */
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { startBridge, stopBridge, CLI } from "../../tests/helpers/bridge-process.ts";
import { allText, claudeEnv, isSessionTurn, lastUserText, startModelStandin, type RecordedRequest } from "../../tests/helpers/model-standin.ts";
import { callTool, relayClient } from "../../tests/helpers/relay-client.ts";
import { REPO_ROOT, startRelay } from "../../tests/helpers/relay-server.ts";
import { TmuxLab } from "../../tests/helpers/tmux-lab.ts";
import { waitFor } from "../../tests/helpers/wait.ts";

const run = promisify(execFile);
const SAMPLES = Number(process.argv[2] ?? 5);
/** Which cases to run: `pane`, `prompt`, `busy`, `busy-bridge` (default all). */
const CASES = new Set(process.argv.slice(3).length > 0 ? process.argv.slice(3) : ["pane", "prompt", "busy", "busy-bridge"]);
const CLAUDE_VARS = ["HOME", "ANTHROPIC_BASE_URL", "ANTHROPIC_API_KEY", "DISABLE_AUTOUPDATER", "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "ENABLE_TOOL_SEARCH", "PATH", "XDG_CONFIG_HOME", "XDG_STATE_HOME"];

function stats(samples: number[]): { n: number; p50: number; p95: number; min: number; max: number } {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (p: number) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
  return { n: sorted.length, p50: at(50), p95: at(95), min: sorted[0]!, max: sorted.at(-1)! };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const relay = await startRelay();
const model = await startModelStandin(() => ({ text: "Noted." }));
const lab = TmuxLab.start();
const results: Record<string, unknown> = { samples_per_case: SAMPLES, claude: (await run("claude", ["--version"])).stdout.trim() };

async function project(name: string) {
  const home = mkdtempSync(join(tmpdir(), `to-model-${name}-`));
  const dir = join(home, "project");
  mkdirSync(dir);
  const env = claudeEnv(home, dir, model.url, { XDG_CONFIG_HOME: join(home, ".config"), XDG_STATE_HOME: join(home, ".state") });
  return { home, dir, env };
}

async function withHooks(dir: string, env: NodeJS.ProcessEnv, token: string): Promise<void> {
  await run("claude", ["mcp", "add", "--transport", "http", "relay", `${relay.url}/mcp`, "--header", `Authorization: Bearer ${token}`], { cwd: dir, env });
  await run(process.execPath, [CLI, "hooks", "install", "--project", dir, "--url", relay.url, "--token", token], { cwd: dir, env });
  // The hook bundle, as an installed relay-bridge runs it, not the TypeScript sources.
  const file = join(dir, ".claude", "settings.local.json");
  const settings = JSON.parse(readFileSync(file, "utf8")) as { hooks: Record<string, { hooks: { command: string }[] }[]> };
  const bundle = join(REPO_ROOT, "local-bridge", "dist", "relay-hook.mjs");
  for (const entry of Object.values(settings.hooks).flat()) for (const hook of entry.hooks) hook.command = hook.command.replace(/\S+cli\.ts/, bundle);
  writeFileSync(file, JSON.stringify(settings, null, 2));
}

const after = (from: number, match: (r: RecordedRequest) => boolean) => () => model.requests.slice(from).find((r) => isSessionTurn(r) && match(r));

try {
  // Idle pane --------------------------------------------------------------------------------------
  if (CASES.has("pane")) {
    const { dir, env } = await project("pane");
    const pane = lab.window(["env", ...CLAUDE_VARS.map((k) => `${k}=${env[k] ?? ""}`), "claude"], {}, dir);
    await waitFor(() => /^❯/m.test(lab.tmuxSync(["capture-pane", "-p", "-t", pane])), { timeoutMs: 60_000, what: "Claude Code's prompt" });
    const token = await relay.mint("to-model-pane", "bob");
    const bridge = startBridge(["connect", "--url", relay.url, "--token", token, "--pane", pane], { TMUX: lab.tmuxEnv(), XDG_RUNTIME_DIR: mkdtempSync(join(tmpdir(), "relay-runtime-")) });
    await waitFor(() => bridge.stderr().includes("connected"), { what: "the bridge to connect" });
    const alice = await relayClient(relay.url, await relay.mint("to-model-pane", "alice"));
    const bob = await relayClient(relay.url, token);
    await callTool(bob, "list_peers");
    const samples: number[] = [];
    for (let i = 0; i < SAMPLES + 1; i++) {
      await sleep(2_000); // Claude idle again, its answer drawn
      const from = model.requests.length;
      const sent = await callTool(alice, "send_dm", { to: "bob", text: `sample ${i}` });
      const sentAt = Date.now();
      const heard = await waitFor(after(from, (r) => lastUserText(r).includes("[relay]")), { timeoutMs: 60_000, what: "the notice at the model" });
      if (i > 0) samples.push(heard.at - sentAt); // the first warms Claude Code up
      await callTool(bob, "read_new_messages");
      void sent;
    }
    results.idle_pane_ms = { ...stats(samples), raw: samples };
    await stopBridge(bridge);
    await alice.close();
    await bob.close();
  }

  // Hooks only, next prompt --------------------------------------------------------------------------
  if (CASES.has("prompt")) {
    const { dir, env } = await project("prompt");
    const token = await relay.mint("to-model-prompt", "bob");
    await withHooks(dir, env, token);
    const alice = await relayClient(relay.url, await relay.mint("to-model-prompt", "alice"));
    const bob = await relayClient(relay.url, token);
    await callTool(bob, "list_peers");
    const samples: number[] = [];
    for (let i = 0; i < SAMPLES; i++) {
      const from = model.requests.length;
      await callTool(alice, "send_dm", { to: "bob", text: `sample ${i}` });
      const sentAt = Date.now();
      await run("claude", ["-p", "What next?", "--allowedTools", "mcp__relay"], { cwd: dir, env, timeout: 120_000 });
      const heard = after(from, (r) => allText(r).includes("UserPromptSubmit hook additional context: [relay]"))();
      if (heard) samples.push(heard.at - sentAt);
      await callTool(bob, "read_new_messages");
    }
    results.hooks_next_prompt_ms = { ...stats(samples), raw: samples, note: "includes Claude Code's start-up (claude -p)" };
    await alice.close();
    await bob.close();
  }

  // Busy, urgent mid-turn: hooks only (the hook asks the relay), then with a bridge beside the
  // session (`connect --stdout`, whose pressing file the hook reads instead) -----------------------
  for (const withBridge of [false, true]) {
    if (!CASES.has(withBridge ? "busy-bridge" : "busy")) continue;
    const { home, dir, env } = await project(withBridge ? "busy-bridge" : "busy");
    const group = withBridge ? "to-model-busy-bridge" : "to-model-busy";
    const token = await relay.mint(group, "bob");
    await withHooks(dir, env, token);
    const carol = await relayClient(relay.url, await relay.mint(group, "carol"));
    const bob = await relayClient(relay.url, token);
    await callTool(bob, "list_peers");
    // The bridge's state directory is the session's, so the hook finds the file it keeps.
    const bridge = withBridge ? startBridge(["connect", "--url", relay.url, "--token", token, "--stdout"], {}, join(home, ".state")) : null;
    if (bridge) await waitFor(() => bridge.stderr().includes("connected"), { what: "the bridge to connect" });
    const samples: number[] = [];
    for (let i = 0; i < SAMPLES; i++) {
      let sentAt = 0;
      let sending: Promise<unknown> | null = null;
      model.setScript((request) => {
        if (!isSessionTurn(request)) return { text: "title" };
        const done = request.body.messages.flatMap((m) => (typeof m.content === "string" ? [] : m.content)).filter((b) => b.type === "tool_result").length;
        if (done === 1 && !sending) {
          // Sent while the second Bash call runs.
          sending = sleep(300).then(async () => {
            await callTool(carol, "send_dm", { to: "bob", text: `urgent ${i}`, urgent: true });
            sentAt = Date.now();
          });
        }
        if (done < 4 && !allText(request).includes("PostToolUse:Bash hook additional context: [relay]")) return { tool: "Bash", input: { command: "sleep 1", description: "work" } };
        return { text: "Done." };
      });
      const from = model.requests.length;
      await run("claude", ["-p", "Do the work.", "--allowedTools", "mcp__relay", "Bash"], { cwd: dir, env, timeout: 120_000 });
      const heard = after(from, (r) => allText(r).includes("PostToolUse:Bash hook additional context: [relay]") && r.at >= sentAt)();
      if (heard && sentAt > 0) samples.push(heard.at - sentAt);
      await callTool(bob, "read_new_messages");
    }
    model.setScript(() => ({ text: "Noted." }));
    const note = `each tool call is \`sleep 1\`; the DM is sent 300 ms into one; ${withBridge ? "the hook reads the bridge's file" : "the hook asks the relay, reusing an answer for 3 s"}`;
    results[withBridge ? "busy_urgent_mid_turn_with_bridge_ms" : "busy_urgent_mid_turn_ms"] = { ...stats(samples), raw: samples, note };
    if (bridge) await stopBridge(bridge);
    await carol.close();
    await bob.close();
  }
} finally {
  lab.kill();
  await model.stop();
  await relay.stop();
}
process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);

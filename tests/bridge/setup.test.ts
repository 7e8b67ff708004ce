/**
 * `relay-bridge setup` in real tmux: it must find the pane whose process tree holds Claude Code
 * (here a stand-in executable named `claude`), produce the right `claude mcp add` command, and
 * start `connect` for that pane in a small split.
 */
import { spawn } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { signToken } from "../../contract/token.ts";
import { claudePanes, isClaudeProcess, listProcesses } from "../../local-bridge/pane/tmux.ts";
import { CLI, startBridge } from "../helpers/bridge-process.ts";
import { ProtocolPeer } from "../helpers/protocol-peer.ts";
import { TmuxLab } from "../helpers/tmux-lab.ts";
import { callTool, relayClient } from "../helpers/relay-client.ts";
import { sharedRelay } from "../helpers/shared-relay.ts";
import { TEST_SECRET } from "../test-secret.ts";
import { waitFor } from "../helpers/wait.ts";

let lab: TmuxLab;
/** Holds the stand-in `claude` executables. */
let bin: string;
let calls: string;

/**
 * `claude` as a shell script: `claude mcp …` records its argv and cwd (and fails like Claude
 * Code when told the server already exists); anything else just runs, like a session would.
 */
const SHELL_CLAUDE = `#!/bin/sh
if [ "$1" = mcp ]; then
  printf '%s\\n' "$PWD" "$@" > "$CLAUDE_CALLS/$$.txt"
  if [ -e "$PWD/.relay-exists" ]; then echo "MCP server relay already exists in local config" >&2; exit 1; fi
  echo "Added HTTP MCP server relay"
  exit 0
fi
while :; do sleep 1; done
`;

/** `claude` as a Node script: then the process is `node …/claude`, as with an npm install. */
const NODE_CLAUDE = `#!/usr/bin/env node
setInterval(() => {}, 1000);
`;

beforeAll(() => {
  lab = TmuxLab.start();
  bin = mkdtempSync(join(tmpdir(), "claude-bin-"));
  mkdirSync(join(bin, "shell"));
  mkdirSync(join(bin, "node"));
  writeFileSync(join(bin, "shell", "claude"), SHELL_CLAUDE);
  writeFileSync(join(bin, "node", "claude"), NODE_CLAUDE);
  chmodSync(join(bin, "shell", "claude"), 0o755);
  chmodSync(join(bin, "node", "claude"), 0o755);
  calls = mkdtempSync(join(tmpdir(), "claude-calls-"));
});

afterAll(() => {
  lab?.kill();
});

let relay: ProtocolPeer | null = null;
const windows: string[] = [];
afterEach(async () => {
  for (const pane of windows.splice(0)) {
    try {
      lab.tmuxSync(["kill-window", "-t", pane]);
    } catch {
      // Already gone.
    }
  }
  await relay?.stop();
  relay = null;
});

function project(name: string): string {
  const dir = mkdtempSync(join(tmpdir(), `${name}-`));
  return dir;
}

/** A pane running a shell that runs `claude` (so Claude Code sits below the pane's shell). */
function claudePane(kind: "shell" | "node", cwd: string): string {
  // Through env(1): tmux replaces a new pane's PATH with its client's, whatever -e says.
  const path = `${join(bin, kind)}:${process.env.PATH}`;
  const pane = lab.window(["env", `PATH=${path}`, `CLAUDE_CALLS=${calls}`, "/bin/sh", "-c", "claude; exit"], {}, cwd);
  windows.push(pane);
  return pane;
}

function plainPane(cwd: string): string {
  const pane = lab.window(["sleep", "600"], {}, cwd);
  windows.push(pane);
  return pane;
}

async function claudeSeenIn(pane: string): Promise<void> {
  await waitFor(async () => claudePanes(await lab.tmux.listPanes(), await listProcesses()).some((p) => p.id === pane), {
    what: `Claude Code in ${pane}`,
  });
}

const url = "http://127.0.0.1:8787";

function setupProcess(args: string[], env: Record<string, string> = {}) {
  return startBridge(["setup", ...args], { TMUX: lab.tmuxEnv(), ...env });
}

describe("finding Claude Code", { timeout: 30_000 }, () => {
  it("recognises claude by process name or by the script a runtime runs", () => {
    expect(isClaudeProcess({ pid: 1, ppid: 0, comm: "claude", args: "/bin/sh /home/u/.local/bin/claude" })).toBe(true);
    expect(isClaudeProcess({ pid: 1, ppid: 0, comm: "node", args: "node /usr/local/bin/claude --resume" })).toBe(true);
    expect(isClaudeProcess({ pid: 1, ppid: 0, comm: "node", args: "node /x/node_modules/@anthropic-ai/claude-code/cli.js" })).toBe(true);
    expect(isClaudeProcess({ pid: 1, ppid: 0, comm: "vim", args: "vim claude.md" })).toBe(false);
    expect(isClaudeProcess({ pid: 1, ppid: 0, comm: "node", args: "node server.js claude" })).toBe(false);
  });

  it("finds the panes whose process tree holds claude, and only those", async () => {
    const a = claudePane("shell", project("alpha"));
    const b = claudePane("node", project("beta"));
    const other = plainPane(project("gamma"));
    await claudeSeenIn(a);
    await claudeSeenIn(b);
    const found = claudePanes(await lab.tmux.listPanes(), await listProcesses()).map((p) => p.id);
    expect(found).toContain(a);
    expect(found).toContain(b);
    expect(found).not.toContain(other);
  });
});

describe("setup", { timeout: 30_000 }, () => {
  it("--print-only prints the claude mcp add command for the one Claude pane, in its project", async () => {
    const cwd = project("webapp");
    const pane = claudePane("shell", cwd);
    plainPane(project("notes"));
    await claudeSeenIn(pane);
    const token = await signToken(TEST_SECRET, { g: "core", p: "alice", iat: Date.now() });
    const callsBefore = readdirSync(calls).length;
    const run = setupProcess(["--url", `${url}/`, "--token", token, "--print-only", "--compact"]);
    expect(await run.exited).toBe(0);
    const out = run.stdout();
    expect(out).toContain(`Claude Code found in pane ${pane}`);
    expect(out).toContain(
      `cd ${cwd} && claude mcp add --transport http relay ${url}/mcp --header "Authorization: Bearer ${token}"`,
    );
    expect(out).toMatch(new RegExp(`tmux split-window -d -v -l 3 -t ${pane} -c ${cwd} .*connect --pane ${pane}`));
    expect(readdirSync(calls)).toHaveLength(callsBefore); // nothing was run

    // By default: a sidebar to the right running tail, with the bridge's 3-line status above it.
    const sidebar = setupProcess(["--url", url, "--token", token, "--print-only"]);
    expect(await sidebar.exited).toBe(0);
    expect(sidebar.stdout()).toMatch(new RegExp(`side=\\$\\(tmux split-window -P -F .* -d -h -l 40% -t ${pane} -c ${cwd} .* tail\\) && tmux split-window -d -v -b -l 3 -t "\\$side" .*connect --pane ${pane}`));
  });

  it("asks for --pane when several panes run Claude Code and nobody can be asked", async () => {
    const a = claudePane("shell", project("one"));
    const b = claudePane("shell", project("two"));
    await claudeSeenIn(a);
    await claudeSeenIn(b);
    const token = await signToken(TEST_SECRET, { g: "core", p: "alice", iat: Date.now() });
    const run = setupProcess(["--url", url, "--token", token, "--print-only"]);
    expect(await run.exited).toBe(1);
    expect(run.stderr()).toContain("several panes run Claude Code: pick one with --pane");
    expect(run.stderr()).toContain(a);
    expect(run.stderr()).toContain(b);
  });

  it("lets a person pick the pane from a list", async () => {
    const first = claudePane("shell", project("first"));
    const secondCwd = project("second");
    const second = claudePane("shell", secondCwd);
    await claudeSeenIn(first);
    await claudeSeenIn(second);
    const token = await signToken(TEST_SECRET, { g: "core", p: "alice", iat: Date.now() });
    // Run setup in a pane of its own, so it has a terminal to ask on.
    const picker = lab.window(["/bin/sh", "-c", `"$0" "$1" setup --url ${url} --token ${token} --print-only; sleep 600`, process.execPath, CLI]);
    windows.push(picker);
    const screen = () => lab.tmuxSync(["capture-pane", "-p", "-J", "-t", picker]);
    await waitFor(() => screen().includes("Which Claude Code session"), { what: "the picker" });
    const order = [first, second].sort((x, y) => screen().indexOf(x) - screen().indexOf(y));
    if (order[0] !== second) lab.tmuxSync(["send-keys", "-t", picker, "Down"]);
    lab.tmuxSync(["send-keys", "-t", picker, "Enter"]);
    await waitFor(() => screen().includes(`cd ${secondCwd} && claude mcp add`), { what: "the command for the picked pane" });
  });

  it("without a pane running Claude Code, sets up this directory's session: tools, allow rule, hooks and a first hello", async () => {
    plainPane(project("empty"));
    const shared = await sharedRelay();
    const token = await shared.mint("setup-nopane", "carol");
    const cwd = project("outside");
    const dir = mkdtempSync(join(tmpdir(), "bridge-state-"));
    const run = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, [CLI, "setup", "--url", shared.url, "--token", token], {
        cwd,
        env: { ...process.env, RELAY_URL: undefined, RELAY_TOKEN: undefined, XDG_STATE_HOME: dir, XDG_CONFIG_HOME: dir, TMUX: lab.tmuxEnv(), PATH: `${join(bin, "shell")}:${process.env.PATH}`, CLAUDE_CALLS: calls },
        stdio: ["ignore", "pipe", "pipe"],
      });
      let stdout = "";
      let stderr = "";
      child.stdout.on("data", (chunk) => (stdout += chunk));
      child.stderr.on("data", (chunk) => (stderr += chunk));
      child.on("close", (code) => resolve({ code, stdout, stderr }));
    });
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    expect(run.stdout).toContain("no tmux pane runs Claude Code: setting up the session in");
    const recorded = readdirSync(calls).map((f) => readFileSync(join(calls, f), "utf8").split("\n").slice(0, -1));
    expect(recorded).toContainEqual([cwd, ...["mcp", "add", "--transport", "http", "relay", `${shared.url}/mcp`, "--header", `Authorization: Bearer ${token}`]]);
    const settings = JSON.parse(readFileSync(join(cwd, ".claude", "settings.local.json"), "utf8")) as { permissions: { allow: string[] }; hooks: Record<string, unknown> };
    expect(settings.permissions.allow).toContain("mcp__relay");
    // Not asked: without a bridge the hooks are how notices reach the session.
    expect(Object.keys(settings.hooks).sort()).toEqual(["PostToolUse", "PreToolUse", "SessionStart", "Stop", "UserPromptSubmit"]);
    // The first hello: a peer can DM carol at once.
    const alice = await relayClient(shared.url, await shared.mint("setup-nopane", "alice"));
    expect((await callTool(alice, "send_dm", { to: "carol", text: "welcome" })).id).toMatch(/^m_/);
    await alice.close();
  });

  it("runs claude mcp add in the pane's project, saves the config, and with --compact starts the bridge in a 3-line split beside it", async () => {
    relay = await ProtocolPeer.start();
    const cwd = project("api");
    const pane = claudePane("shell", cwd);
    await claudeSeenIn(pane);
    const token = await signToken(TEST_SECRET, { g: "core", p: "bob", iat: Date.now() });
    const run = setupProcess(["--url", relay.url, "--token", token, "--pane", pane, "--compact"], {
      PATH: `${join(bin, "shell")}:${process.env.PATH}`,
      CLAUDE_CALLS: calls,
    });
    expect(await run.exited).toBe(0);

    const recorded = readdirSync(calls).map((f) => readFileSync(join(calls, f), "utf8").split("\n").slice(0, -1));
    expect(recorded).toContainEqual([
      cwd,
      ...["mcp", "add", "--transport", "http", "relay", `${relay.url}/mcp`, "--header", `Authorization: Bearer ${token}`],
    ]);
    expect(run.stdout()).toContain(`registered the relay's tools for ${cwd}`);
    // The flags were saved, so every later command needs none; the file holds a token: 0600.
    const config = join(run.stateDir, "claude-relay", "config.json");
    expect(statSync(config).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(config, "utf8"))).toEqual({ default: "core", profiles: { core: { url: relay.url, group: "core", peer: "bob", token } } });

    // The split: same window, 3 lines high, running connect for the Claude pane.
    const window = lab.tmuxSync(["display-message", "-p", "-t", pane, "#{window_id}"]).trim();
    const panes = lab
      .tmuxSync(["list-panes", "-t", window, "-F", "#{pane_id} #{pane_height}"])
      .trim()
      .split("\n")
      .map((row) => row.split(" "));
    expect(panes).toHaveLength(2);
    const split = panes.find(([id]) => id !== pane)!;
    expect(split[1]).toBe("3");
    await waitFor(() => relay!.hellos.some((h) => h.peer === "bob"), { what: "the split's bridge to connect" });
    await waitFor(() => lab.tmuxSync(["capture-pane", "-p", "-t", split[0]!]).includes("relay core/bob · connected"), {
      what: "the status line in the split",
    });
    // The token reached the split through its environment, not its command line.
    const processes = await listProcesses();
    expect(processes.filter((p) => p.args.includes("connect --pane")).some((p) => p.args.includes(token))).toBe(false);

    // Running setup again does not start a second bridge for the same pane.
    const again = setupProcess(["--url", relay.url, "--token", token, "--pane", pane, "--compact"], {
      PATH: `${join(bin, "shell")}:${process.env.PATH}`,
      CLAUDE_CALLS: calls,
    });
    expect(await again.exited).toBe(0);
    expect(again.stdout()).toContain(`a bridge for ${pane} already runs in pane ${split[0]}`);
    expect(lab.tmuxSync(["list-panes", "-t", window]).trim().split("\n")).toHaveLength(2);
  });

  it("carries on when the relay is already registered in that project", async () => {
    const cwd = project("again");
    writeFileSync(join(cwd, ".relay-exists"), "");
    const pane = claudePane("shell", cwd);
    await claudeSeenIn(pane);
    relay = await ProtocolPeer.start();
    const token = await signToken(TEST_SECRET, { g: "core", p: "carol", iat: Date.now() });
    const run = setupProcess(["--url", relay.url, "--token", token, "--pane", pane, "--compact"], {
      PATH: `${join(bin, "shell")}:${process.env.PATH}`,
      CLAUDE_CALLS: calls,
    });
    expect(await run.exited).toBe(0);
    expect(run.stdout()).toContain("the relay is already registered");
    await waitFor(() => relay!.hellos.some((h) => h.peer === "carol"), { what: "the bridge to connect anyway" });
  });
});

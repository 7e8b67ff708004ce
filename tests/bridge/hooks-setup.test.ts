/**
 * `relay-bridge setup` finishing the job: it allows the relay's tools in the project's
 * .claude/settings.local.json (merged, and it says what it wrote), installs the hooks when asked,
 * tells the person to restart Claude Code (not `/mcp`), sees a pane's lock, and registers the
 * channel server with `--channel` (and refuses it where no channel server can start). `claude` is a stand-in script that records its arguments.
 */
import { execFile } from "node:child_process";
import { chmodSync, copyFileSync, existsSync, mkdtempSync, readFileSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { signToken } from "../../contract/token.ts";
import { CLI } from "../helpers/bridge-process.ts";
import { ProtocolPeer } from "../helpers/protocol-peer.ts";
import { TmuxLab } from "../helpers/tmux-lab.ts";
import { waitFor } from "../helpers/wait.ts";
import { TEST_SECRET } from "../test-secret.ts";

const exec = promisify(execFile);
let lab: TmuxLab;
let relay: ProtocolPeer;
let bin: string;

beforeAll(async () => {
  lab = TmuxLab.start();
  relay = await ProtocolPeer.start();
  bin = mkdtempSync(join(tmpdir(), "claude-bin-"));
  writeFileSync(join(bin, "claude"), `#!/bin/sh\nprintf '%s\\n' "$*" >> "$PWD/.claude-calls"\necho "Added"\n`);
  chmodSync(join(bin, "claude"), 0o755);
});

afterAll(async () => {
  lab?.kill();
  await relay?.stop();
});

function project(): { dir: string; env: NodeJS.ProcessEnv } {
  const root = mkdtempSync(join(tmpdir(), "setup-finish-"));
  const dir = join(root, "project");
  mkdirSync(dir);
  const env = {
    ...process.env,
    PATH: `${bin}:${process.env.PATH}`,
    TMUX: lab.tmuxEnv(),
    XDG_CONFIG_HOME: join(root, "config"),
    XDG_STATE_HOME: join(root, "state"),
    RELAY_URL: undefined,
    RELAY_TOKEN: undefined,
  };
  return { dir, env };
}

async function setup(args: string[], cwd: string, env: NodeJS.ProcessEnv, script = CLI) {
  try {
    const { stdout } = await exec(process.execPath, [script, "setup", ...args], { cwd, env, timeout: 30_000 });
    return { code: 0, stdout };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

const settingsOf = (dir: string) => JSON.parse(readFileSync(join(dir, ".claude", "settings.local.json"), "utf8"));

describe("setup finishes the job", () => {
  it("allows mcp__relay next to existing rules, installs the hooks, says to restart, and sees the pane's bridge", async () => {
    const { dir, env } = project();
    mkdirSync(join(dir, ".claude"));
    writeFileSync(join(dir, ".claude", "settings.local.json"), JSON.stringify({ permissions: { allow: ["Bash(ls:*)"] } }));
    const pane = lab.window(["sleep", "600"], {}, dir);
    const token = await signToken(TEST_SECRET, { g: "core", p: "bob", iat: Date.now() });

    const first = await setup(["--url", relay.url, "--token", token, "--pane", pane, "--hooks"], dir, env);
    expect(first.code).toBe(0);
    const path = join(dir, ".claude", "settings.local.json");
    expect(first.stdout).toContain(`added "mcp__relay" to permissions.allow in ${path}`);
    expect(first.stdout).toContain(`installed the relay's SessionStart, UserPromptSubmit, Stop and PostToolUse hooks in ${path} (profile bob@core)`);
    // `--continue` alone stops on a session with no conversation yet, so both restarts are named.
    expect(first.stdout).toContain("quit it and run `claude --continue` (it resumes the conversation), or `claude` if the session had none yet");
    const settings = settingsOf(dir);
    expect(settings.permissions.allow).toEqual(["Bash(ls:*)", "mcp__relay"]);
    expect(Object.keys(settings.hooks).sort()).toEqual(["PostToolUse", "PreToolUse", "SessionStart", "Stop", "UserPromptSubmit"]);
    expect(readFileSync(join(dir, ".claude-calls"), "utf8")).toContain(`mcp add --transport http relay ${relay.url}/mcp`);

    // The split's bridge holds the pane: setup again starts no second one, and says which pid serves it.
    await waitFor(() => relay.hellos.some((h) => h.peer === "bob"), { what: "the split's bridge" });
    const again = await setup(["--url", relay.url, "--token", token, "--pane", pane, "--no-hooks"], dir, env);
    expect(again.stdout).toContain(`the relay's tools are already allowed in ${path}`);
    expect(again.stdout).toMatch(new RegExp(`a bridge for ${pane} already runs.*\\(pid \\d+\\); not starting another`));
    expect(settingsOf(dir).permissions.allow).toEqual(["Bash(ls:*)", "mcp__relay"]);
  });

  it("--no-permissions and --no-hooks leave Claude Code's settings alone", async () => {
    const { dir, env } = project();
    const pane = lab.window(["sleep", "600"], {}, dir);
    const token = await signToken(TEST_SECRET, { g: "core", p: "carol", iat: Date.now() });
    const run = await setup(["--url", relay.url, "--token", token, "--pane", pane, "--no-permissions", "--no-hooks"], dir, env);
    expect(run.code).toBe(0);
    expect(existsSync(join(dir, ".claude", "settings.local.json"))).toBe(false);
    expect(run.stdout).not.toContain("hooks");
  });

  it("--channel registers the channel server through a stored profile and gives the launch line; no tmux pane needed", async () => {
    const { dir, env } = project();
    const token = await signToken(TEST_SECRET, { g: "core", p: "dave", iat: Date.now() });
    const run = await setup(["--url", relay.url, "--token", token, "--channel", "--no-hooks"], dir, { ...env, TMUX: undefined });
    expect(run.code).toBe(0);
    const calls = readFileSync(join(dir, ".claude-calls"), "utf8");
    expect(calls).toMatch(/mcp add relay-channel -- \S+ \S+ channel --profile dave@core/);
    expect(calls).not.toContain(`channel --profile dave@core ${token}`);
    expect(run.stdout).toContain("claude --dangerously-load-development-channels server:relay-channel");
    expect(settingsOf(dir).permissions.allow).toEqual(["mcp__relay"]);
  });

  it("--channel with the single-file bridge (as served at /bridge.mjs) refuses before registering anything, and says what works", async () => {
    const { dir, env } = project();
    const alone = mkdtempSync(join(tmpdir(), "bridge-alone-"));
    const single = join(alone, "relay-bridge");
    copyFileSync(fileURLToPath(new URL("../../local-bridge/dist/relay-bridge.mjs", import.meta.url)), single);
    const token = await signToken(TEST_SECRET, { g: "core", p: "erin", iat: Date.now() });
    const run = await setup(["--url", relay.url, "--token", token, "--channel", "--no-hooks"], dir, { ...env, TMUX: undefined }, single);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain("this relay-bridge has no channel server");
    expect(run.stderr).toContain("relay-bridge hooks install");
    expect(run.stderr).not.toContain("npm run");
    expect(existsSync(join(dir, ".claude-calls"))).toBe(false);
  });
});

/**
 * The claims guard as the installed hooks run it, with a stored profile: the small hook bundle's
 * `guard tool` (Claude Code's PreToolUse) and the CLI's `guard check` (git), asking a relay over
 * real HTTP (a small local server answering GET /groups/:group/claims), denying an edit inside
 * another peer's claim, and failing open, saying so, when the relay is dead or the profile is
 * missing. `guard install` without --profile saves one and the git hooks name it.
 */
import { execFileSync, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { signToken } from "../../contract/token.ts";
import { REPO_ROOT } from "../helpers/relay-server.ts";
import { TEST_SECRET } from "../test-secret.ts";

const HOOK = join(REPO_ROOT, "local-bridge", "dist", "relay-hook.mjs");
const BRIDGE = join(REPO_ROOT, "local-bridge", "dist", "relay-bridge.mjs");
const DEAD = "http://127.0.0.1:9";

let server: Server;
let liveUrl = "";
const asked: string[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    asked.push(`${req.method} ${req.url} ${req.headers.authorization ?? ""}`);
    const claim = { peer: "alice", repo: null, pattern: "src/api", exclusive: true, reason: "API refactor", claimed_at: new Date().toISOString(), expires_at: new Date(Date.now() + 3_600_000).toISOString() };
    res.setHeader("Content-Type", "application/json");
    res.end(JSON.stringify({ peer: "bob", claims: [claim] }));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  liveUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

/** A repository, and a config home holding profile bob@core for `url`. */
async function machine(url: string) {
  const home = mkdtempSync(join(tmpdir(), "guard-profile-"));
  const dir = join(home, "app");
  mkdirSync(join(dir, "src", "api"), { recursive: true });
  const env = { ...process.env, HOME: home, XDG_CONFIG_HOME: join(home, "config"), XDG_STATE_HOME: join(home, "state"), RELAY_URL: undefined, RELAY_TOKEN: undefined };
  const git = (...args: string[]) => execFileSync("git", args, { cwd: dir, env, encoding: "utf8", stdio: "pipe" });
  git("init", "-q", "-b", "main");
  git("config", "user.email", "bob@example.com");
  git("config", "user.name", "bob");
  const token = await signToken(TEST_SECRET, { g: "core", p: "bob", iat: Date.now() });
  mkdirSync(join(home, "config", "claude-relay"), { recursive: true });
  writeFileSync(join(home, "config", "claude-relay", "config.json"), JSON.stringify({ default: "bob@core", profiles: { "bob@core": { url, group: "core", peer: "bob", token } } }), { mode: 0o600 });
  return { home, dir, env, git, token };
}

/** Runs a bundle as a hook does; asynchronously, so the relay served from this process can answer. */
function runNode(script: string, args: string[], env: NodeJS.ProcessEnv, cwd: string, input = ""): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [script, ...args], { env, cwd });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk) => (stdout += chunk));
    child.stderr.on("data", (chunk) => (stderr += chunk));
    child.on("close", (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(input);
  });
}

/** git, asynchronously for the same reason (its hooks ask the relay). */
function gitAsync(dir: string, env: NodeJS.ProcessEnv, ...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn("git", args, { cwd: dir, env });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk) => (stdout += chunk));
    child.stderr.on("data", (chunk) => (stderr += chunk));
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

const editCall = (dir: string) => JSON.stringify({ tool_name: "Edit", tool_input: { file_path: join(dir, "src", "api", "server.ts") }, cwd: dir });

describe("the guard with a stored profile", () => {
  it("relay-hook.mjs guard tool asks the profile's relay and denies an edit inside alice's claim, naming her", async () => {
    const m = await machine(liveUrl);
    const out = await runNode(HOOK, ["guard", "tool", "--profile", "bob@core"], m.env, m.dir, editCall(m.dir));
    expect(out.code).toBe(0);
    const decision = JSON.parse(out.stdout) as { hookSpecificOutput: { permissionDecision: string; permissionDecisionReason: string } };
    expect(decision.hookSpecificOutput.permissionDecision).toBe("deny");
    expect(decision.hookSpecificOutput.permissionDecisionReason).toContain('alice holds src/api (exclusive, every repository)');
    expect(asked.at(-1)).toBe(`GET /groups/core/claims Bearer ${m.token}`);

    // A Bash command that cannot discard work asks nothing at all.
    const before = asked.length;
    const ls = await runNode(HOOK, ["guard", "tool", "--profile", "bob@core", "--timeout-ms", "5000"], m.env, m.dir, JSON.stringify({ tool_name: "Bash", tool_input: { command: "ls src" }, cwd: m.dir }));
    expect(ls).toMatchObject({ code: 0, stdout: "" });
    expect(asked.length).toBe(before);
  });

  it("fails open, saying so: a dead relay, a missing profile", async () => {
    const m = await machine(DEAD);
    const dead = await runNode(HOOK, ["guard", "tool", "--profile", "bob@core"], m.env, m.dir, editCall(m.dir));
    expect(dead).toMatchObject({ code: 0, stdout: "" });
    expect(dead.stderr).toMatch(/relay guard: could not check claims \(the relay is unreachable .*\); allowing the tool call unchecked/);

    const missing = await runNode(HOOK, ["guard", "tool", "--profile", "nobody@core"], m.env, m.dir, editCall(m.dir));
    expect(missing).toMatchObject({ code: 0, stdout: "" });
    expect(missing.stderr).toMatch(/no profile "nobody@core".*allowing the tool call unchecked/);

    // Exit 2 from a PreToolUse hook blocks the tool in Claude Code: a command line the guard does
    // not understand lets the edit through, saying so, instead of stopping every edit and command.
    const odd = await runNode(HOOK, ["guard", "tool", "--profile", "bob@core", "--no-such-flag"], m.env, m.dir, editCall(m.dir));
    expect(odd).toMatchObject({ code: 0, stdout: "" });
    expect(odd.stderr).toMatch(/Unknown option '--no-such-flag'.*letting this through unchecked/);

    writeFileSync(join(m.dir, "src", "api", "server.ts"), "x\n");
    m.git("add", ".");
    const commit = await runNode(BRIDGE, ["guard", "check", "--pre-commit", "--profile", "bob@core"], m.env, m.dir);
    expect(commit.code).toBe(0);
    expect(commit.stderr).toMatch(/could not check claims \(the relay is unreachable.*letting this commit through unchecked/);
  });

  it("guard install without --profile saves the flags' relay as one, and the git hooks name it; a commit into alice's claim is refused", async () => {
    const m = await machine(liveUrl);
    writeFileSync(join(m.env.XDG_CONFIG_HOME!, "claude-relay", "config.json"), JSON.stringify({ profiles: {} }));
    const installed = await runNode(BRIDGE, ["guard", "install", "--url", liveUrl, "--token", m.token], m.env, m.dir);
    expect(installed.code, installed.stderr).toBe(0);
    const hook = readFileSync(join(m.dir, ".git", "hooks", "pre-commit"), "utf8");
    expect(hook).toMatch(/relay-hook\.mjs guard check --profile bob@core --pre-commit/);
    writeFileSync(join(m.dir, "src", "api", "server.ts"), "x\n");
    m.git("add", ".");
    const refused = await gitAsync(m.dir, m.env, "commit", "-q", "-m", "api");
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("alice holds src/api");
    expect((await runNode(BRIDGE, ["guard", "uninstall"], m.env, m.dir)).stdout).toContain("pre-commit: none");
  });
});

/**
 * The guard behind Claude Code's PreToolUse hook, in real git repositories: edits (Edit, Write,
 * MultiEdit, NotebookEdit) inside another peer's exclusive claim are denied with a reason naming
 * holder, pattern, reason, expiry and what to do; Bash commands that would discard work in a
 * claimed path, or in the whole tree while someone holds an exclusive claim there, are denied the
 * same way; everything else passes. Fails open, saying so, without claims. One test runs the
 * standalone entry as Claude Code would, JSON in and out.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { Claim } from "../../contract/claim-rules.ts";
import { shellCommands } from "../../local-bridge/guard/bash.ts";
import { checkToolCall } from "../../local-bridge/guard/check.ts";
import type { ClaimsSource } from "../../local-bridge/guard/source.ts";
import { writeClaimsCache } from "../../local-bridge/guard/source.ts";

const MAIN = join(import.meta.dirname, "..", "..", "local-bridge", "guard", "main.ts");
const APP = "github.com/acme/app";

function git(cwd: string, ...args: string[]): void {
  const result = spawnSync("git", args, { cwd, encoding: "utf8" });
  if (result.status !== 0) throw new Error(`git ${args.join(" ")}: ${result.stderr}`);
}

function repository(origin: string): string {
  const dir = mkdtempSync(join(tmpdir(), "guard-tool-"));
  git(dir, "init", "-q", "-b", "main");
  mkdirSync(join(dir, "src", "api"), { recursive: true });
  mkdirSync(join(dir, "docs"));
  writeFileSync(join(dir, "src", "api", "server.ts"), "s\n");
  writeFileSync(join(dir, "docs", "guide.md"), "g\n");
  git(dir, "remote", "add", "origin", origin);
  return dir;
}

const app = repository("https://github.com/acme/app.git");
const web = repository("git@github.com:acme/web.git");
const EXPIRES = new Date(Date.now() + 45 * 60_000).toISOString();

const claims: Claim[] = [
  { peer: "alice", repo: APP, pattern: "src/api", exclusive: true, reason: "API refactor", claimed_at: new Date().toISOString(), expires_at: EXPIRES },
  { peer: "carol", repo: null, pattern: "docs", exclusive: false, claimed_at: new Date().toISOString(), expires_at: EXPIRES },
  { peer: "bob", repo: null, pattern: "notes", exclusive: true, claimed_at: new Date().toISOString(), expires_at: EXPIRES },
];

const source = (peer = "bob", list = claims): ClaimsSource => ({ load: async () => ({ peer, claims: list }) });

async function decide(tool: string, input: Record<string, unknown>, options: { cwd?: string; peer?: string; list?: Claim[] } = {}) {
  const cwd = options.cwd ?? app;
  const result = await checkToolCall({ stdin: JSON.stringify({ tool_name: tool, tool_input: input, cwd }), source: source(options.peer, options.list), cwd, mode: "block" });
  if (result.stdout === "") return { allowed: true, reason: "" };
  const output = JSON.parse(result.stdout) as { hookSpecificOutput: { hookEventName: string; permissionDecision: string; permissionDecisionReason: string } };
  expect(output.hookSpecificOutput).toMatchObject({ hookEventName: "PreToolUse", permissionDecision: "deny" });
  return { allowed: false, reason: output.hookSpecificOutput.permissionDecisionReason };
}

describe("edits", () => {
  it("denies a Write inside another peer's exclusive claim, saying who, what, why, until when and what to do", async () => {
    const { allowed, reason } = await decide("Write", { file_path: join(app, "src", "api", "server.ts"), content: "x" });
    expect(allowed).toBe(false);
    expect(reason).toContain("[relay] src/api/server.ts is inside another peer's exclusive claim, so this Write was not made.");
    expect(reason).toContain(`alice holds src/api (exclusive, ${APP}) until ${EXPIRES.slice(11, 16)} UTC`);
    expect(reason).toContain('"API refactor"');
    expect(reason).toContain("Ask alice with ask_peer");
    expect(reason).toContain("wait until the claim expires");
  });

  it("denies every editing tool, relative paths and files not created yet", async () => {
    expect((await decide("Edit", { file_path: "src/api/server.ts", old_string: "s", new_string: "t" })).allowed).toBe(false);
    expect((await decide("MultiEdit", { file_path: join(app, "src", "api", "server.ts"), edits: [] })).allowed).toBe(false);
    expect((await decide("NotebookEdit", { notebook_path: join(app, "src", "api", "new", "n.ipynb"), new_source: "" })).allowed).toBe(false);
    expect((await decide("Write", { file_path: "../api/v2/routes.ts" }, { cwd: join(app, "src", "api") })).allowed).toBe(false);
  });

  it("allows edits outside claims, under shared claims, under the peer's own, and in another repository", async () => {
    expect((await decide("Write", { file_path: join(app, "src", "main.ts") })).allowed).toBe(true);
    expect((await decide("Edit", { file_path: join(app, "docs", "guide.md") })).allowed).toBe(true);
    expect((await decide("Write", { file_path: join(app, "notes", "todo.md") })).allowed).toBe(true);
    expect((await decide("Write", { file_path: join(app, "src", "api", "server.ts") }, { peer: "alice" })).allowed).toBe(true);
    expect((await decide("Write", { file_path: join(web, "src", "api", "server.ts") }, { cwd: web })).allowed).toBe(true);
    expect((await decide("Write", { file_path: join(tmpdir(), "outside-any-repo.txt") })).allowed).toBe(true);
    expect((await decide("Read", { file_path: join(app, "src", "api", "server.ts") })).allowed).toBe(true);
  });
});

describe("Bash commands that discard work", () => {
  it.each([
    "git stash",
    "git stash -u",
    "git stash push -m wip",
    "git stash save wip",
    "git checkout .",
    "git checkout -- src/api/server.ts",
    "git checkout HEAD~1 -- src",
    "git checkout src/api",
    "git checkout -f main",
    "git restore src/api/server.ts",
    "git restore --staged --worktree src/api",
    "git reset --hard",
    "git reset --hard HEAD~2",
    "git clean -fd",
    "git clean -fdx src",
    "git switch --discard-changes main",
    "git rm -r src/api",
    "cd src && git checkout .",
    "npm test && git -C src checkout -- api",
    "git checkout -- 'src/*.ts'",
    "bash -c 'git stash -u'",
    "FOO=1 git -c core.pager=cat reset --hard 2>&1 | tail",
    "git checkout :/src/api",
  ])("denies %s", async (command) => {
    const { allowed, reason } = await decide("Bash", { command });
    expect(allowed).toBe(false);
    expect(reason).toContain("alice holds src/api");
    expect(reason).toContain("so it was not run");
  });

  it.each([
    "git status",
    "git stash list",
    "git stash pop",
    "git checkout main",
    "git checkout -b feature",
    "git restore --staged src/api/server.ts",
    "git reset --soft HEAD~1",
    "git clean -n",
    "git clean -fd docs",
    "git checkout -- docs/guide.md",
    "git rm --cached src/api/server.ts",
    "echo 'git stash'",
    "cd docs && git checkout .",
    "git -C ../x stash",
  ])("allows %s", async (command) => {
    expect((await decide("Bash", { command })).allowed).toBe(true);
  });

  it("a whole-tree command says so and suggests naming one's own files", async () => {
    const { reason } = await decide("Bash", { command: "git stash" });
    expect(reason).toContain("across the whole tree");
    expect(reason).toContain("git stash push -- PATH");
  });

  it("a whole-tree command passes when no other peer holds an exclusive claim in this repository", async () => {
    expect((await decide("Bash", { command: "git stash" }, { cwd: web })).allowed).toBe(true);
    expect((await decide("Bash", { command: "git reset --hard" }, { peer: "alice", list: claims.slice(0, 2) })).allowed).toBe(true);
  });

  it("reads shell text as a shell would split it", () => {
    expect(shellCommands(`a "b c" 'd e'\\ f && g; h | i 2>&1 > out.log\n# note\nj`)).toEqual([["a", "b c", "d e f"], ["g"], ["h"], ["i"], ["j"]]);
  });
});

describe("failing open", () => {
  it("allows, and says why on stderr, when the claims cannot be had", async () => {
    const result = await checkToolCall({
      stdin: JSON.stringify({ tool_name: "Write", tool_input: { file_path: join(app, "src", "api", "server.ts") }, cwd: app }),
      source: { load: () => Promise.reject(new Error("relay unreachable")) },
      cwd: app,
      mode: "block",
    });
    expect(result).toEqual({ stdout: "", stderr: "relay guard: could not check claims (relay unreachable); allowing the tool call unchecked.\n" });
  });

  it("allows when the source hangs, within its bound", async () => {
    const result = await checkToolCall({
      stdin: JSON.stringify({ tool_name: "Bash", tool_input: { command: "git stash" }, cwd: app }),
      source: { load: () => new Promise(() => {}) },
      cwd: app,
      mode: "block",
      timeoutMs: 200,
    });
    expect(result.stdout).toBe("");
    expect(result.stderr).toContain("no answer within 200 ms");
  });

  it("never asks for claims for a call it could not deny", async () => {
    let asked = 0;
    const counting: ClaimsSource = { load: async () => (asked++, { peer: "bob", claims }) };
    await checkToolCall({ stdin: JSON.stringify({ tool_name: "Bash", tool_input: { command: "ls -la" }, cwd: app }), source: counting, cwd: app, mode: "block" });
    await checkToolCall({ stdin: JSON.stringify({ tool_name: "Read", tool_input: { file_path: "x" }, cwd: app }), source: counting, cwd: app, mode: "block" });
    expect(asked).toBe(0);
  });
});

describe("the standalone entry, as Claude Code runs it", () => {
  const runTool = (claimsFile: string, input: unknown, env: Record<string, string> = {}) =>
    spawnSync(process.execPath, [MAIN, "--claims-file", claimsFile, "tool"], { cwd: app, input: JSON.stringify(input), encoding: "utf8", env: { ...process.env, ...env } });

  it("prints the deny JSON on stdout, exits 0; RELAY_GUARD=warn only warns; a missing cache lets the call through", () => {
    const file = join(mkdtempSync(join(tmpdir(), "guard-tool-cache-")), "claims.json");
    writeClaimsCache(file, { peer: "bob", claims });
    const call = { tool_name: "Edit", tool_input: { file_path: join(app, "src", "api", "server.ts") }, cwd: app };
    const denied = runTool(file, call);
    expect(denied.status).toBe(0);
    expect(JSON.parse(denied.stdout).hookSpecificOutput).toMatchObject({ permissionDecision: "deny", permissionDecisionReason: expect.stringContaining("alice holds src/api") });

    const warned = runTool(file, call, { RELAY_GUARD: "warn" });
    expect(warned.stdout).toBe("");
    expect(warned.stderr).toContain("warning only");

    const missing = runTool(join(tmpdir(), "absent", "claims.json"), call);
    expect(missing).toMatchObject({ status: 0, stdout: "" });
    expect(missing.stderr).toContain("allowing the tool call unchecked");
  });
});

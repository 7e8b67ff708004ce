/**
 * The git guard in real repositories: pre-commit and pre-push hooks installed by installGuard,
 * running the standalone guard entry (local-bridge/guard/main.ts) against a claims cache file.
 * Refusing a commit or push inside another peer's exclusive claim and naming the holder; letting
 * through the peer's own claims, shared claims and other repositories' claims; warn mode;
 * --no-verify; failing open when there are no claims to read; chaining to an existing hook (in
 * .git/hooks and under core.hooksPath) and restoring it on uninstall.
 */
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { Claim } from "../../contract/claim-rules.ts";
import { guardStatus, installGuard, uninstallGuard } from "../../local-bridge/guard/install.ts";
import { writeClaimsCache } from "../../local-bridge/guard/source.ts";

const MAIN = join(import.meta.dirname, "..", "..", "local-bridge", "guard", "main.ts");
const ORIGIN = "git@github.com:acme/app.git";
const APP = "github.com/acme/app";

const quote = (word: string) => `'${word.replace(/'/g, `'\\''`)}'`;

function run(cwd: string, args: string[], env: Record<string, string> = {}) {
  const result = spawnSync("git", args, { cwd, encoding: "utf8", env: { ...process.env, ...env } });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

function git(cwd: string, ...args: string[]): string {
  const result = run(cwd, args);
  if (result.status !== 0) throw new Error(`git ${args.join(" ")}: ${result.stderr}`);
  return result.stdout;
}

/** A repository with one commit of src/, docs/ and README.md, and origin set to `origin`. */
function repository(origin = ORIGIN): string {
  const dir = mkdtempSync(join(tmpdir(), "guard-repo-"));
  git(dir, "init", "-q", "-b", "main");
  git(dir, "config", "user.email", "bob@example.com");
  git(dir, "config", "user.name", "bob");
  mkdirSync(join(dir, "src"));
  mkdirSync(join(dir, "docs"));
  writeFileSync(join(dir, "src", "a.ts"), "a\n");
  writeFileSync(join(dir, "docs", "guide.md"), "g\n");
  writeFileSync(join(dir, "README.md"), "r\n");
  git(dir, "add", ".");
  git(dir, "commit", "-q", "-m", "start");
  git(dir, "remote", "add", "origin", origin);
  return dir;
}

function claim(peer: string, pattern: string, extra: Partial<Claim> = {}): Claim {
  return {
    peer,
    repo: APP,
    pattern,
    exclusive: true,
    reason: "moving the API",
    claimed_at: new Date().toISOString(),
    expires_at: new Date(Date.now() + 3_600_000).toISOString(),
    ...extra,
  };
}

/** A claims cache as the bridge writes it, seen by `peer`. */
function cache(peer: string, claims: Claim[]): string {
  const file = join(mkdtempSync(join(tmpdir(), "guard-claims-")), "claims.json");
  writeClaimsCache(file, { peer, claims });
  return file;
}

const guardCommand = (claimsFile: string) => [process.execPath, MAIN, "--claims-file", claimsFile, "check"].map(quote).join(" ");

/** Changes `path` and stages it. */
function stage(dir: string, path: string): void {
  writeFileSync(join(dir, path), `${Math.random()}\n`);
  git(dir, "add", path);
}

describe("pre-commit", () => {
  it("refuses a commit inside another peer's exclusive claim, naming holder, pattern and reason; commits the rest", () => {
    const dir = repository();
    installGuard(dir, guardCommand(cache("bob", [claim("alice", "src")])));
    stage(dir, "src/a.ts");
    stage(dir, "docs/guide.md");
    const refused = run(dir, ["commit", "-m", "both"]);
    expect(refused.status).not.toBe(0);
    expect(refused.stderr).toContain("relay guard: This commit touches paths inside another peer's exclusive claim");
    expect(refused.stderr).toContain("src/a.ts");
    expect(refused.stderr).toContain(`alice holds src (exclusive, ${APP})`);
    expect(refused.stderr).toContain('"moving the API"');
    expect(refused.stderr).toContain("git restore --staged");
    expect(git(dir, "log", "--format=%s")).toBe("start\n");

    git(dir, "restore", "--staged", "src/a.ts");
    expect(run(dir, ["commit", "-q", "-m", "docs only"]).status).toBe(0);
    expect(git(dir, "log", "-1", "--format=%s")).toBe("docs only\n");
  });

  it("sees what `git commit -a` and `git commit PATH` record, not only what was staged before", () => {
    const dir = repository();
    installGuard(dir, guardCommand(cache("bob", [claim("alice", "src")])));
    writeFileSync(join(dir, "src", "a.ts"), "changed\n");
    expect(run(dir, ["commit", "-q", "-a", "-m", "all"]).stderr).toContain("alice holds src");
    expect(run(dir, ["commit", "-q", "-m", "path", "src/a.ts"]).stderr).toContain("alice holds src");
    expect(git(dir, "log", "--format=%s")).toBe("start\n");
  });

  it("never blocks a peer's own claims, shared claims, or claims in another repository; a claim without repo blocks everywhere", () => {
    const dir = repository();
    const commits = (claims: Claim[]) => {
      installGuard(dir, guardCommand(cache("bob", claims)));
      stage(dir, "src/a.ts");
      const result = run(dir, ["commit", "-q", "-m", "x"]);
      git(dir, "reset", "-q");
      return result.status === 0;
    };
    expect(commits([claim("bob", "src")])).toBe(true);
    expect(commits([claim("alice", "src", { exclusive: false })])).toBe(true);
    expect(commits([claim("alice", "src", { repo: "github.com/acme/web" })])).toBe(true);
    expect(commits([claim("alice", "src", { expires_at: new Date(Date.now() - 1000).toISOString() })])).toBe(true);
    expect(commits([claim("alice", "src", { repo: null })])).toBe(false);
  });

  it("RELAY_GUARD=warn only warns; --no-verify skips the guard", () => {
    const dir = repository();
    installGuard(dir, guardCommand(cache("bob", [claim("alice", "src")])));
    stage(dir, "src/a.ts");
    const warned = run(dir, ["commit", "-q", "-m", "warned"], { RELAY_GUARD: "warn" });
    expect(warned.status).toBe(0);
    expect(warned.stderr).toContain("warning only");
    expect(warned.stderr).toContain("alice holds src");

    stage(dir, "src/a.ts");
    expect(run(dir, ["commit", "-q", "-m", "blocked"]).status).not.toBe(0);
    const skipped = run(dir, ["commit", "-q", "--no-verify", "-m", "skipped"]);
    expect(skipped.status).toBe(0);
    expect(skipped.stderr).not.toContain("relay guard");
    expect(git(dir, "log", "--format=%s")).toBe("skipped\nwarned\nstart\n");
  });

  it("fails open, saying so, when there are no claims to read or they are stale", () => {
    const dir = repository();
    installGuard(dir, guardCommand(join(tmpdir(), "no-such-dir", "claims.json")));
    stage(dir, "src/a.ts");
    const missing = run(dir, ["commit", "-q", "-m", "unchecked"]);
    expect(missing.status).toBe(0);
    expect(missing.stderr).toContain("could not check claims (no claims cache at");
    expect(missing.stderr).toContain("letting this commit through unchecked");

    const stale = cache("bob", [claim("alice", "src")]);
    writeClaimsCache(stale, { peer: "bob", claims: [claim("alice", "src")] }, Date.now() - 10 * 60_000);
    installGuard(dir, guardCommand(stale));
    stage(dir, "src/a.ts");
    const old = run(dir, ["commit", "-q", "-m", "stale"]);
    expect(old.status).toBe(0);
    expect(old.stderr).toMatch(/claims cache at .* is \d+ s old/);
  });
});

describe("chaining and uninstalling", () => {
  /** A team's own pre-commit: records that it ran and refuses when REFUSE is set. */
  const TEAM_HOOK = `#!/bin/sh\necho "team hook ran with $# args" >> "$(git rev-parse --show-toplevel)/.team-hook.log"\n[ -z "$REFUSE" ]\n`;

  it("keeps an existing hook, runs it after the check, and restores it exactly on uninstall", () => {
    const dir = repository();
    const hook = join(dir, ".git", "hooks", "pre-commit");
    writeFileSync(hook, TEAM_HOOK);
    chmodSync(hook, 0o755);
    installGuard(dir, guardCommand(cache("bob", [claim("alice", "src")])));
    // Installing twice must not chain the guard to itself.
    const status = installGuard(dir, guardCommand(cache("bob", [claim("alice", "src")])));
    expect(status.hooks).toEqual([
      { hook: "pre-commit", state: "ours", chained: true },
      { hook: "pre-push", state: "ours", chained: false },
    ]);

    stage(dir, "docs/guide.md");
    expect(run(dir, ["commit", "-q", "-m", "docs"]).status).toBe(0);
    expect(readFileSync(join(dir, ".team-hook.log"), "utf8")).toBe("team hook ran with 0 args\n");
    stage(dir, "docs/guide.md");
    expect(run(dir, ["commit", "-q", "-m", "refused by the team hook"], { REFUSE: "1" }).status).not.toBe(0);
    // Refused by the guard: the team hook does not run.
    stage(dir, "src/a.ts");
    expect(run(dir, ["commit", "-q", "-m", "claimed"]).status).not.toBe(0);
    expect(readFileSync(join(dir, ".team-hook.log"), "utf8").split("\n").filter(Boolean)).toHaveLength(2);

    const after = uninstallGuard(dir);
    expect(after.hooks).toEqual([
      { hook: "pre-commit", state: "other", chained: false },
      { hook: "pre-push", state: "absent", chained: false },
    ]);
    expect(readFileSync(hook, "utf8")).toBe(TEAM_HOOK);
    expect(run(dir, ["commit", "-q", "-m", "claimed, guard gone"]).status).toBe(0);
  });

  it("installs where core.hooksPath points, chaining to the hook there, and leaves .git/hooks alone", () => {
    const dir = repository();
    mkdirSync(join(dir, ".githooks"));
    const hook = join(dir, ".githooks", "pre-commit");
    writeFileSync(hook, TEAM_HOOK);
    chmodSync(hook, 0o755);
    git(dir, "config", "core.hooksPath", ".githooks");
    const status = installGuard(join(dir, "src"), guardCommand(cache("bob", [claim("alice", "src")])));
    expect(status.hooksDir).toBe(join(git(dir, "rev-parse", "--show-toplevel").trim(), ".githooks"));
    expect(existsSync(join(dir, ".git", "hooks", "pre-commit"))).toBe(false);

    stage(dir, "src/a.ts");
    expect(run(dir, ["commit", "-q", "-m", "claimed"]).stderr).toContain("alice holds src");
    stage(dir, "docs/guide.md");
    git(dir, "restore", "--staged", "src/a.ts");
    expect(run(dir, ["commit", "-q", "-m", "docs"]).status).toBe(0);
    expect(readFileSync(join(dir, ".team-hook.log"), "utf8")).toBe("team hook ran with 0 args\n");

    uninstallGuard(dir);
    expect(readFileSync(hook, "utf8")).toBe(TEAM_HOOK);
    expect(guardStatus(dir).hooks.map((h) => h.state)).toEqual(["other", "absent"]);
  });
});

describe("pre-push", () => {
  /** A repository pushing to a local bare remote, with main already pushed. */
  function pushing() {
    const remote = mkdtempSync(join(tmpdir(), "guard-remote-"));
    git(remote, "init", "-q", "--bare", "-b", "main");
    const dir = repository(remote);
    git(dir, "push", "-q", "origin", "main");
    return { dir, remote, repo: remote.toLowerCase() };
  }

  it("refuses a push whose commits touch another peer's claim, naming the holder; pushes when they do not", () => {
    const { dir, repo } = pushing();
    const team = join(dir, ".git", "hooks", "pre-push");
    // The team's own pre-push gets the same arguments and ref lines.
    writeFileSync(team, `#!/bin/sh\necho "$1 $(cat | wc -l)" >> "$(git rev-parse --show-toplevel)/.push.log"\n`);
    chmodSync(team, 0o755);
    installGuard(dir, guardCommand(cache("bob", [claim("alice", "src", { repo })])));

    stage(dir, "docs/guide.md");
    git(dir, "commit", "-q", "-m", "docs");
    expect(run(dir, ["push", "-q", "origin", "main"]).status).toBe(0);
    expect(readFileSync(join(dir, ".push.log"), "utf8")).toBe("origin 1\n");

    stage(dir, "src/a.ts");
    git(dir, "commit", "-q", "--no-verify", "-m", "api");
    stage(dir, "README.md");
    git(dir, "commit", "-q", "-m", "readme");
    const refused = run(dir, ["push", "-q", "origin", "main"]);
    expect(refused.status).not.toBe(0);
    expect(refused.stderr).toContain("This push touches paths inside another peer's exclusive claim");
    expect(refused.stderr).toContain("  src/a.ts\n");
    expect(refused.stderr).toContain("alice holds src");

    // A new branch sends only what the remote does not have yet: here, the claimed commit.
    const branch = run(dir, ["push", "-q", "origin", "main:feature"]);
    expect(branch.status).not.toBe(0);
    expect(run(dir, ["push", "-q", "--no-verify", "origin", "main"]).status).toBe(0);
  });
});

describe("the guard's command line", () => {
  const cli = (cwd: string, ...args: string[]) => spawnSync(process.execPath, [MAIN, ...args], { cwd, encoding: "utf8" });

  it("installs, reports and uninstalls; refuses outside a repository and without a command, saying what to do", () => {
    const dir = repository();
    const installed = cli(dir, "install", "--command", guardCommand(cache("bob", [])));
    expect(installed.status).toBe(0);
    expect(installed.stdout).toContain("pre-commit: relay guard installed");
    const status = JSON.parse(cli(join(dir, "src"), "status", "--json").stdout);
    expect(status.hooks.map((h: { state: string }) => h.state)).toEqual(["ours", "ours"]);
    expect(cli(tmpdir(), "uninstall", "--dir", dir).stdout).toContain("pre-commit: none");

    const outside = cli(mkdtempSync(join(tmpdir(), "guard-plain-")), "status");
    expect(outside.status).toBe(1);
    expect(outside.stderr).toContain("is not inside a git worktree. Run this in your repository, or pass --dir");
    const usage = cli(dir, "install");
    expect(usage.status).toBe(2);
    expect(usage.stderr).toContain("usage: guard check --pre-commit");
  });
});

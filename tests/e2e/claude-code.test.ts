/**
 * The README's one-liner, run by the real Claude Code CLI against the real `npm start` (shared):
 * `claude mcp add --transport http relay <url>/mcp --header "Authorization: Bearer <token>"`,
 * then `claude mcp list` must report the relay as Connected. Needs `claude` on PATH
 * (.ci/run installs it); skipped, saying so, where it is absent.
 */
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { beforeAll, describe, expect, it } from "vitest";
import { claudeVersion } from "../helpers/claude-cli.ts";
import { sharedRelay, type SharedRelay } from "../helpers/shared-relay.ts";

const run = promisify(execFile);


const version = claudeVersion();
if (!version) console.warn("claude-code.test.ts: `claude` is not on PATH; install @anthropic-ai/claude-code to run it.");

describe.skipIf(!version)(`Claude Code (${version}) as a client`, () => {
  let relay: SharedRelay;
  beforeAll(async () => {
    relay = await sharedRelay();
  });

  async function claude(home: string, args: string[]) {
    const project = join(home, "project");
    mkdirSync(project, { recursive: true });
    return run("claude", args, {
      cwd: project,
      // A private HOME: the test must not read or change the developer's own Claude config.
      env: { ...process.env, HOME: home, CLAUDE_CONFIG_DIR: join(home, ".claude") },
      timeout: 60_000,
    });
  }

  it("connects with the README's claude mcp add one-liner", async () => {
    const home = mkdtempSync(join(tmpdir(), "claude-home-"));
    const token = await relay.mint("claude-code", "alice");
    // localhost, as in the README (wrangler dev also answers on it).
    const url = `http://localhost:${relay.port}/mcp`;
    await claude(home, ["mcp", "add", "--transport", "http", "relay", url, "--header", `Authorization: Bearer ${token}`]);
    const { stdout } = await claude(home, ["mcp", "list"]);
    expect(stdout).toMatch(/relay: .*Connected/);
    expect(stdout).not.toContain(token);
  });

  // The slips a person makes when typing the URL: the bare relay URL, and a trailing slash.
  for (const path of ["", "/", "/mcp/"]) {
    it(`connects when pointed at '${path || "(no path)"}' instead of /mcp`, async () => {
      const home = mkdtempSync(join(tmpdir(), "claude-home-"));
      const token = await relay.mint("claude-code", "bob");
      const url = `http://localhost:${relay.port}${path}`;
      await claude(home, ["mcp", "add", "--transport", "http", "relay", url, "--header", `Authorization: Bearer ${token}`]);
      const { stdout } = await claude(home, ["mcp", "list"]);
      expect(stdout).toMatch(/relay: .*Connected/);
    });
  }

  it("shows the relay's own explanation when the token is bad", async () => {
    const home = mkdtempSync(join(tmpdir(), "claude-home-"));
    const url = `http://localhost:${relay.port}/mcp`;
    await claude(home, ["mcp", "add", "--transport", "http", "relay", url, "--header", "Authorization: Bearer rly1.bad.token"]);
    const { stdout } = await claude(home, ["mcp", "list"]).catch((error: { stdout: string }) => error);
    expect(stdout).toMatch(/relay: .*Failed to connect/);
    expect(stdout).toContain("Token refused");
  });
});

/**
 * `relay-bridge hooks install|uninstall|status` on real settings files: merged next to what a
 * person already has, never clobbering it, replaced (not duplicated) on a second install, removed
 * exactly by uninstall, and never holding the token.
 */
import { mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { signToken } from "../../contract/token.ts";
import { startBridge } from "../helpers/bridge-process.ts";
import { TEST_SECRET } from "../test-secret.ts";

const url = "http://127.0.0.1:9";

/** A person's own settings, with hooks of their own on the same events. */
const THEIRS = {
  model: "opus",
  permissions: { allow: ["Bash(ls:*)"], deny: ["Read(./.env)"] },
  hooks: {
    Stop: [{ hooks: [{ type: "command", command: "notify-send done" }] }],
    PreToolUse: [{ matcher: "Bash", hooks: [{ type: "command", command: "audit-bash", timeout: 3 }] }],
  },
};

async function run(args: string[], env: Record<string, string>) {
  const cli = startBridge(args, env);
  const code = await cli.exited;
  return { code, stdout: cli.stdout(), stderr: cli.stderr() };
}

function fresh() {
  const root = mkdtempSync(join(tmpdir(), "hooks-settings-"));
  const project = join(root, "project");
  mkdirSync(join(project, ".claude"), { recursive: true });
  const env = { XDG_CONFIG_HOME: join(root, "config"), CLAUDE_CONFIG_DIR: join(root, "user-claude"), HOME: root };
  return { root, project, env, settings: join(project, ".claude", "settings.local.json") };
}

const read = (path: string) => JSON.parse(readFileSync(path, "utf8"));

describe("hooks install / uninstall / status", () => {
  it("merges the relay's hooks and the claims guard next to the person's own settings and takes out exactly those again", async () => {
    const { project, env, settings } = fresh();
    writeFileSync(settings, JSON.stringify(THEIRS, null, 2));
    const token = await signToken(TEST_SECRET, { g: "core", p: "bob", iat: Date.now() });

    const install = await run(["hooks", "install", "--project", project, "--url", url, "--token", token], env);
    expect(install.stderr).toBe("");
    expect(install.code).toBe(0);
    expect(install.stdout).toContain(`SessionStart, UserPromptSubmit, Stop and PostToolUse hooks in ${settings} (profile bob@core)`);

    const merged = read(settings);
    expect(merged.model).toBe("opus");
    expect(merged.permissions).toEqual(THEIRS.permissions);
    expect(merged.hooks.PreToolUse[0]).toEqual(THEIRS.hooks.PreToolUse[0]);
    // The claims guard, on the editing tools and Bash, beside the person's own Bash hook.
    expect(merged.hooks.PreToolUse[1]).toEqual({
      matcher: "Edit|Write|MultiEdit|NotebookEdit|Bash",
      hooks: [{ type: "command", command: expect.stringMatching(/ guard tool --profile bob@core$/), timeout: 5 }],
    });
    expect(install.stdout).toContain("claims guard (PreToolUse)");
    expect(merged.hooks.Stop[0]).toEqual(THEIRS.hooks.Stop[0]);
    const ours = (event: string) =>
      (read(settings).hooks[event] ?? []).flatMap((g: { hooks: { command: string }[] }) => g.hooks).filter((h: { command: string }) => / hook /.test(h.command));
    expect(ours("SessionStart")).toEqual([{ type: "command", command: expect.stringMatching(/ hook session-start --profile bob@core$/), timeout: 5 }]);
    expect(ours("UserPromptSubmit")).toEqual([{ type: "command", command: expect.stringMatching(/ hook prompt --profile bob@core$/), timeout: 5 }]);
    expect(ours("Stop")).toEqual([{ type: "command", command: expect.stringMatching(/ hook stop --profile bob@core$/), timeout: 5 }]);
    expect(ours("PostToolUse")).toEqual([{ type: "command", command: expect.stringMatching(/ hook tool --profile bob@core$/), timeout: 5 }]);
    // The token lives in the profile (0600), never in the settings file.
    expect(readFileSync(settings, "utf8")).not.toContain(token);
    const profiles = join(env.XDG_CONFIG_HOME, "claude-relay", "config.json");
    expect(read(profiles).profiles["bob@core"]).toEqual({ url, group: "core", peer: "bob", token });
    expect(statSync(profiles).mode & 0o777).toBe(0o600);

    // A second install replaces ours instead of adding more.
    expect((await run(["hooks", "install", "--project", project, "--url", url, "--token", token], env)).code).toBe(0);
    expect(ours("Stop")).toHaveLength(1);
    expect(read(settings).hooks.Stop).toHaveLength(2);

    const status = await run(["hooks", "status", "--project", project], env);
    expect(status.stdout).toContain(`${settings}: 5 relay hooks`);
    expect(status.stdout).toContain("Stop: profile bob@core");
    expect(status.stdout).toContain("PreToolUse: profile bob@core");

    const uninstall = await run(["hooks", "uninstall", "--project", project], env);
    expect(uninstall.stdout).toContain(`removed 5 relay hooks from ${settings}`);
    expect(read(settings)).toEqual(THEIRS);
    expect((await run(["hooks", "uninstall", "--project", project], env)).stdout).toContain("nothing changed");
  });

  it("--user writes the user's settings file, creating it", async () => {
    const { env } = fresh();
    const token = await signToken(TEST_SECRET, { g: "core", p: "carol", iat: Date.now() });
    expect((await run(["hooks", "install", "--user", "--url", url, "--token", token], env)).code).toBe(0);
    const user = join(env.CLAUDE_CONFIG_DIR, "settings.json");
    expect(Object.keys(read(user).hooks).sort()).toEqual(["PostToolUse", "PreToolUse", "SessionStart", "Stop", "UserPromptSubmit"]);
    expect((await run(["hooks", "uninstall", "--user"], env)).code).toBe(0);
    expect(read(user)).toEqual({});
  });

  it("leaves a broken settings file alone and says what to do", async () => {
    const { project, env, settings } = fresh();
    writeFileSync(settings, "{ not json");
    const token = await signToken(TEST_SECRET, { g: "core", p: "bob", iat: Date.now() });
    const install = await run(["hooks", "install", "--project", project, "--url", url, "--token", token], env);
    expect(install.code).toBe(2);
    expect(install.stderr).toContain(`${settings} is not valid JSON`);
    expect(install.stderr).toContain("nothing was changed");
    expect(readFileSync(settings, "utf8")).toBe("{ not json");
  });
});

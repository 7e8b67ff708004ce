/**
 * `relay-bridge hooks install|uninstall|status`: puts the relay's Claude Code hooks
 * (SessionStart, UserPromptSubmit, Stop; see hook-command.ts; PostToolUse, see mid-turn.ts) and the
 * claims guard (PreToolUse on the editing tools and Bash; guard/profile-guard.ts) into a settings
 * file, next to whatever is there, and takes out exactly those again.
 *
 * The hook commands name a stored profile (config-file.ts, mode 0600), never the token: settings
 * files get shown, shared and pasted into bug reports.
 */
import { existsSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import type { RelayTarget } from "../core/config.ts";
import { configPath, readConfig, saveTarget } from "../core/config-file.ts";
import { addHook, findHooks, readSettings, removeHooks, settingsPath, writeSettings, type SettingsScope } from "./claude-settings.ts";
import { HOOK_EVENTS, type HookName } from "./hook-events.ts";
import { shellLine } from "../core/shell.ts";
import { GUARD_MATCHER } from "../guard/decide.ts";

/** Claude Code's own limit per hook command, in seconds; the hook gives up well before it. */
const CLAUDE_HOOK_TIMEOUT_S = 5;

/** Recognises a hook command this tool wrote, whatever node or script path it was written with. */
export function isRelayHook(command: string): boolean {
  return /(relay-bridge|local-bridge)/.test(command) && /\s(hook (session-start|prompt|stop|tool)|guard tool) --profile \S+$/.test(command);
}

/** The small hook-only bundle built next to the relay-bridge bundle (see hook-main.ts). */
export const HOOK_BUNDLE = "relay-hook.mjs";

/**
 * The command line Claude Code runs: the small hook bundle when it sits next to the relay-bridge
 * bundle running now (it starts faster), else this same CLI's `hook` subcommand.
 */
export function hookCommand(bridgeCommand: string[], hook: HookName, profile: string): string {
  return shellLine([...hookRunner(bridgeCommand), "hook", hook, "--profile", profile]);
}

/** The claims guard's PreToolUse command (guard/profile-guard.ts), run the same way as the hooks. */
export function guardToolCommand(bridgeCommand: string[], profile: string): string {
  return shellLine([...hookRunner(bridgeCommand), "guard", "tool", "--profile", profile]);
}

function hookRunner(bridgeCommand: string[]): string[] {
  const [node, script = ""] = bridgeCommand;
  const small = join(dirname(script), HOOK_BUNDLE);
  return basename(script) === "relay-bridge.mjs" && existsSync(small) ? [node!, small] : bridgeCommand;
}

export interface HooksResult {
  path: string;
  profile: string;
  /** Hook commands of ours that were replaced (a second install). */
  replaced: number;
}

/** Saves the target's profile and (re)writes our three hooks into the scope's settings file. */
export function installHooks(target: RelayTarget, scope: SettingsScope, bridgeCommand: string[]): HooksResult {
  const path = settingsPath(scope);
  const settings = readSettings(path);
  const profile = saveTarget(target);
  const replaced = removeHooks(settings, isRelayHook);
  for (const [hook, event] of Object.entries(HOOK_EVENTS) as [HookName, string][]) {
    addHook(settings, event, { type: "command", command: hookCommand(bridgeCommand, hook, profile), timeout: CLAUDE_HOOK_TIMEOUT_S });
  }
  // The claims guard: edits and work-discarding git commands inside another peer's claim are refused.
  addHook(settings, "PreToolUse", { type: "command", command: guardToolCommand(bridgeCommand, profile), timeout: CLAUDE_HOOK_TIMEOUT_S }, GUARD_MATCHER);
  writeSettings(path, settings);
  return { path, profile, replaced };
}

/** Removes our hooks from the scope's settings file; returns how many, and the file. */
export function uninstallHooks(scope: SettingsScope): { path: string; removed: number } {
  const path = settingsPath(scope);
  if (!existsSync(path)) return { path, removed: 0 };
  const settings = readSettings(path);
  const removed = removeHooks(settings, isRelayHook);
  if (removed > 0) writeSettings(path, settings);
  return { path, removed };
}

/** Human-readable lines: for each settings file, our hooks in it and whether their profile exists. */
export function hooksStatus(scopes: SettingsScope[]): string[] {
  const profiles = readConfig().profiles;
  const lines: string[] = [];
  for (const scope of scopes) {
    const path = settingsPath(scope);
    const found = existsSync(path) ? findHooks(readSettings(path), isRelayHook) : [];
    lines.push(`${path}: ${found.length === 0 ? "no relay hooks" : `${found.length} relay hook${found.length === 1 ? "" : "s"}`}`);
    for (const { event, command } of found) {
      const profile = /--profile (\S+)$/.exec(command)?.[1] ?? "";
      const known = profiles[profile] ? `profile ${profile}` : `profile ${profile} MISSING from ${configPath()}`;
      lines.push(`  ${event}: ${known}`);
    }
  }
  return lines;
}

/**
 * Claude Code's settings files, edited the way a careful person would: read the JSON, change only
 * our own entries, keep everything else exactly as it was, write atomically.
 *
 * Shape used (Claude Code hooks reference, docs.anthropic.com/en/docs/claude-code/hooks):
 *   { "permissions": { "allow": ["mcp__relay"] },
 *     "hooks": { "<Event>": [ { "matcher"?: "...", "hooks": [ { "type": "command", "command": "...", "timeout": 5 } ] } ] } }
 * Files: `<project>/.claude/settings.local.json` (per person, not committed) and the user's
 * `~/.claude/settings.json` (`$CLAUDE_CONFIG_DIR/settings.json` when that is set).
 */
import { existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { UsageError } from "../core/errors.ts";

export type SettingsScope = { project: string } | { user: true };

export interface HookCommand {
  type: "command";
  command: string;
  timeout?: number;
}

interface MatcherGroup {
  matcher?: string;
  hooks?: HookCommand[];
  [key: string]: unknown;
}

export interface Settings {
  permissions?: { allow?: string[]; [key: string]: unknown };
  hooks?: Record<string, MatcherGroup[]>;
  [key: string]: unknown;
}

export function settingsPath(scope: SettingsScope, env: NodeJS.ProcessEnv = process.env): string {
  if ("project" in scope) return join(resolve(scope.project), ".claude", "settings.local.json");
  return join(env.CLAUDE_CONFIG_DIR || join(homedir(), ".claude"), "settings.json");
}

export function readSettings(path: string): Settings {
  if (!existsSync(path)) return {};
  const text = readFileSync(path, "utf8");
  if (text.trim() === "") return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new UsageError(`${path} is not valid JSON (${(error as Error).message}): fix it by hand first; nothing was changed`);
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new UsageError(`${path} does not hold a JSON object: fix it by hand first; nothing was changed`);
  }
  return parsed as Settings;
}

/** Writes atomically, keeping the file's permissions (new files: 0600, they may name tokens' profiles). */
export function writeSettings(path: string, settings: Settings): void {
  mkdirSync(dirname(path), { recursive: true });
  const mode = existsSync(path) ? statSync(path).mode & 0o777 : 0o600;
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(settings, null, 2)}\n`, { mode });
  renameSync(tmp, path);
}

/** Adds `rule` to permissions.allow; false when it was there already. */
export function allowRule(settings: Settings, rule: string): boolean {
  const permissions = (settings.permissions ??= {});
  const allow = (permissions.allow ??= []);
  if (allow.includes(rule)) return false;
  allow.push(rule);
  return true;
}

/** Every hook command in `settings`, by event, that `isOurs` recognises. */
export function findHooks(settings: Settings, isOurs: (command: string) => boolean): { event: string; command: string }[] {
  const found: { event: string; command: string }[] = [];
  for (const [event, groups] of Object.entries(settings.hooks ?? {})) {
    if (!Array.isArray(groups)) continue;
    for (const group of groups) {
      for (const hook of group?.hooks ?? []) {
        if (typeof hook?.command === "string" && isOurs(hook.command)) found.push({ event, command: hook.command });
      }
    }
  }
  return found;
}

/**
 * Removes the hook commands `isOurs` recognises, and any matcher group or event list that only
 * they made non-empty. Returns how many were removed.
 */
export function removeHooks(settings: Settings, isOurs: (command: string) => boolean): number {
  let removed = 0;
  const hooks = settings.hooks;
  if (!hooks || typeof hooks !== "object") return 0;
  for (const [event, groups] of Object.entries(hooks)) {
    if (!Array.isArray(groups)) continue;
    const kept: MatcherGroup[] = [];
    for (const group of groups) {
      const before = group?.hooks ?? [];
      const after = before.filter((hook) => !(typeof hook?.command === "string" && isOurs(hook.command)));
      removed += before.length - after.length;
      if (after.length === before.length) kept.push(group);
      else if (after.length > 0) kept.push({ ...group, hooks: after });
    }
    if (kept.length > 0) hooks[event] = kept;
    else delete hooks[event];
  }
  if (Object.keys(hooks).length === 0) delete settings.hooks;
  return removed;
}

/** Appends one matcher group (no matcher: every occurrence of the event) running `hook`. */
export function addHook(settings: Settings, event: string, hook: HookCommand, matcher?: string): void {
  const hooks = (settings.hooks ??= {});
  (hooks[event] ??= []).push(matcher === undefined ? { hooks: [hook] } : { matcher, hooks: [hook] });
}

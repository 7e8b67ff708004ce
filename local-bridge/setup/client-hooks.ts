/**
 * The hook command lines that `setup --client codex|gemini` writes into those clients' settings,
 * and how to recognise them again (a second setup replaces them, never adds a copy). Like Claude
 * Code's hooks (hooks/hooks.ts), they name a stored profile, never the token.
 */
import { existsSync, mkdirSync, renameSync, statSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import type { Client } from "../hooks/clients.ts";
import { readSettings } from "../hooks/claude-settings.ts";
import { HOOK_BUNDLE } from "../hooks/hooks.ts";
import { shellLine } from "../core/shell.ts";

/** `… hook <name> --client <client> --profile <profile>`, with the small hook bundle when it is there. */
export function clientHookCommand(bridgeCommand: string[], client: Client, hook: string, profile: string): string {
  const [node, script = ""] = bridgeCommand;
  const small = join(dirname(script), HOOK_BUNDLE);
  const runner = basename(script) === "relay-bridge.mjs" && existsSync(small) ? [node!, small] : bridgeCommand;
  return shellLine([...runner, "hook", hook, "--client", client, "--profile", profile]);
}

/** Recognises a hook command setup wrote for `client`, whatever node or script path it names. */
export function isClientHook(command: string, client: Client): boolean {
  return /(relay-bridge|relay-hook|local-bridge)/.test(command) && new RegExp(`\\shook \\S+ --client ${client} --profile \\S+$`).test(command);
}

/** A JSON settings file as an object ({} when absent or empty); refuses to touch anything else. */
export function readJsonObject(path: string): Record<string, unknown> {
  // Read the way Claude Code's settings are: the same refusals for a broken or non-object file.
  return readSettings(path) as Record<string, unknown>;
}

/**
 * Writes atomically. `secret` files (they hold a token) are made 0600 whatever they were; others
 * keep their mode (new ones: 0600).
 */
export function writeFileAtomic(path: string, text: string, secret: boolean): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const mode = secret || !existsSync(path) ? 0o600 : statSync(path).mode & 0o777;
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, text, { mode });
  renameSync(tmp, path);
}

interface HookHandler {
  type?: string;
  command?: string;
  [key: string]: unknown;
}
interface MatcherGroup {
  hooks?: HookHandler[];
  [key: string]: unknown;
}

/**
 * Puts `handler` into `hooks[event]` where our hook was (so no one else's hook changes position:
 * Codex keys its trust by position), or appends a new matcher group. Returns the group's index.
 */
export function placeHook(hooks: Record<string, unknown>, event: string, handler: HookHandler, isOurs: (command: string) => boolean): number {
  const groups = Array.isArray(hooks[event]) ? (hooks[event] as MatcherGroup[]) : (hooks[event] = []) as MatcherGroup[];
  const at = groups.findIndex((group) => Array.isArray(group?.hooks) && group.hooks.length === 1 && typeof group.hooks[0]?.command === "string" && isOurs(group.hooks[0].command));
  if (at >= 0) {
    groups[at] = { hooks: [handler] };
    return at;
  }
  groups.push({ hooks: [handler] });
  return groups.length - 1;
}

/**
 * `relay-bridge setup --client gemini`: the relay's tools and hooks for Gemini CLI, merged into the
 * user's settings (`$GEMINI_CLI_HOME/.gemini/settings.json`, default ~/.gemini/settings.json):
 *
 * - `mcpServers.relay`: `httpUrl` (streamable HTTP; a plain `url` would mean the older SSE
 *   transport) and the token in `headers` (the file is made 0600).
 * - `hooks`: SessionStart, BeforeAgent (each prompt), AfterAgent (the turn's end), each
 *   `relay-bridge hook <name> --client gemini --profile P`.
 *
 * Gemini CLI ignores MCP servers and hooks in a folder it does not trust (and headless runs there
 * exit with an error), so setup says so and offers to trust the project: an entry
 * `"<dir>": "TRUST_FOLDER"` in ~/.gemini/trustedFolders.json, the file Gemini's own trust dialog writes.
 */
import { homedir } from "node:os";
import { dirname, join, resolve, sep } from "node:path";
import type { RelayTarget } from "../core/config.ts";
import { saveTarget } from "../core/config-file.ts";
import { clientHooks } from "../hooks/clients.ts";
import { clientHookCommand, isClientHook, placeHook, readJsonObject, writeFileAtomic } from "./client-hooks.ts";

/** Gemini's per-hook time limit, in milliseconds; the hook gives up well before it. */
const GEMINI_HOOK_TIMEOUT_MS = 5_000;
export const GEMINI_SERVER_NAME = "relay";

export function geminiDir(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.GEMINI_CLI_HOME || env.HOME || homedir(), ".gemini");
}

export interface GeminiSetupResult {
  settingsPath: string;
  profile: string;
  events: string[];
}

export function setupGemini(target: RelayTarget, bridgeCommand: string[], env: NodeJS.ProcessEnv = process.env): GeminiSetupResult {
  const settingsPath = join(geminiDir(env), "settings.json");
  const settings = readJsonObject(settingsPath);
  const profile = saveTarget(target);

  const servers = (isObject(settings.mcpServers) ? settings.mcpServers : (settings.mcpServers = {})) as Record<string, unknown>;
  servers[GEMINI_SERVER_NAME] = { httpUrl: target.mcpUrl, headers: { Authorization: `Bearer ${target.token}` } };

  const hooks = (isObject(settings.hooks) ? settings.hooks : (settings.hooks = {})) as Record<string, unknown>;
  const events: string[] = [];
  for (const { hook, event } of clientHooks("gemini")) {
    const command = clientHookCommand(bridgeCommand, "gemini", hook, profile);
    placeHook(hooks, event, { type: "command", command, timeout: GEMINI_HOOK_TIMEOUT_MS }, (c) => isClientHook(c, "gemini"));
    events.push(event);
  }
  writeFileAtomic(settingsPath, `${JSON.stringify(settings, null, 2)}\n`, true);
  return { settingsPath, profile, events };
}

const TRUST_FOLDER = "TRUST_FOLDER";
const TRUST_PARENT = "TRUST_PARENT";

/** Whether Gemini trusts `project`: it or a folder above it listed as TRUST_FOLDER, or a child of one of those listed as TRUST_PARENT. */
export function geminiTrusts(project: string, env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.GEMINI_CLI_TRUST_WORKSPACE === "true") return true;
  const folders = readJsonObject(join(geminiDir(env), "trustedFolders.json"));
  const dir = resolve(project);
  for (const [path, level] of Object.entries(folders)) {
    const root = level === TRUST_FOLDER ? resolve(path) : level === TRUST_PARENT ? dirname(resolve(path)) : null;
    if (root !== null && (dir === root || dir.startsWith(root.endsWith(sep) ? root : root + sep))) return true;
  }
  return false;
}

/** Adds `project` to Gemini's trusted folders; returns the file written. */
export function trustForGemini(project: string, env: NodeJS.ProcessEnv = process.env): string {
  const path = join(geminiDir(env), "trustedFolders.json");
  const folders = readJsonObject(path);
  folders[resolve(project)] = TRUST_FOLDER;
  writeFileAtomic(path, `${JSON.stringify(folders, null, 2)}\n`, false);
  return path;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

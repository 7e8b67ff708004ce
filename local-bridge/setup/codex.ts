/**
 * `relay-bridge setup --client codex`: the relay's tools and hooks for Codex CLI, per user
 * (`$CODEX_HOME`, default ~/.codex, which every project's Codex session reads).
 *
 * - config.toml: `[mcp_servers.relay]` with the MCP URL and the token in `http_headers` (the file
 *   is made 0600), and a `[hooks.state."<hooks.json>:<event>:<group>:<handler>"]` entry with
 *   `trusted_hash` for each of our hooks. Codex runs only hooks it trusts and skips the others
 *   without a word, so a hook setup did not mark trusted would never run.
 * - hooks.json: SessionStart, UserPromptSubmit, Stop (and any further relay hook whose Claude Code
 *   event Codex shares), each `relay-bridge hook <name> --client codex --profile P`.
 *
 * Everything else in both files is kept as it was.
 */
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import type { RelayTarget } from "../core/config.ts";
import { saveTarget } from "../core/config-file.ts";
import { clientHooks } from "../hooks/clients.ts";
import { clientHookCommand, isClientHook, placeHook, readJsonObject, writeFileAtomic } from "./client-hooks.ts";
import { formatKey, replaceTables, tomlString } from "./toml-tables.ts";

/** Codex's per-hook time limit, in seconds; the hook gives up well before it. */
const CODEX_HOOK_TIMEOUT_S = 5;
export const CODEX_SERVER_NAME = "relay";

export function codexHome(env: NodeJS.ProcessEnv = process.env): string {
  return env.CODEX_HOME || join(env.HOME || homedir(), ".codex");
}

/** Codex's snake_case name of a hook event in trust keys and hashes (`UserPromptSubmit` -> `user_prompt_submit`). */
export function codexEventKey(event: string): string {
  return event.replace(/(?<!^)([A-Z])/g, "_$1").toLowerCase();
}

/** JSON with every object's keys sorted, compact: what Codex hashes. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined && v !== null);
    entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

/**
 * The `trusted_hash` Codex records when a person trusts a command hook: sha256 over the canonical
 * JSON of the hook's normalised identity (its event, no matcher for ours, and the handler with
 * its timeout and `async: false`). Checked against `codex app-server`'s `hooks/list` (0.171.0),
 * whose `currentHash` for each hook must equal it (tests/e2e/codex.test.ts).
 */
export function codexTrustedHash(event: string, command: string, timeoutS: number): string {
  const identity = { event_name: codexEventKey(event), hooks: [{ type: "command", command, timeout: timeoutS, async: false }] };
  return `sha256:${createHash("sha256").update(canonicalJson(identity)).digest("hex")}`;
}

export interface CodexSetupResult {
  configPath: string;
  hooksPath: string;
  profile: string;
  events: string[];
}

/** Writes Codex's MCP server and hooks for `target`; see the file's comment. */
export function setupCodex(target: RelayTarget, bridgeCommand: string[], env: NodeJS.ProcessEnv = process.env): CodexSetupResult {
  const home = codexHome(env);
  const configPath = join(home, "config.toml");
  const hooksPath = join(home, "hooks.json");
  // Read both before writing either: a file that cannot be merged stops setup with nothing changed.
  const config = existsSync(configPath) ? readFileSync(configPath, "utf8") : "";
  const hooksFile = readJsonObject(hooksPath);
  const profile = saveTarget(target);

  const hooks = (hooksFile.hooks && typeof hooksFile.hooks === "object" && !Array.isArray(hooksFile.hooks) ? hooksFile.hooks : (hooksFile.hooks = {})) as Record<string, unknown>;
  const trusted: { key: string; hash: string }[] = [];
  for (const { hook, event } of clientHooks("codex")) {
    const command = clientHookCommand(bridgeCommand, "codex", hook, profile);
    const group = placeHook(hooks, event, { type: "command", command, timeout: CODEX_HOOK_TIMEOUT_S }, (c) => isClientHook(c, "codex"));
    trusted.push({ key: `${hooksPath}:${codexEventKey(event)}:${group}:0`, hash: codexTrustedHash(event, command, CODEX_HOOK_TIMEOUT_S) });
  }

  const tables = [
    `[mcp_servers.${CODEX_SERVER_NAME}]`,
    `url = ${tomlString(target.mcpUrl)}`,
    `http_headers = { Authorization = ${tomlString(`Bearer ${target.token}`)} }`,
    ...trusted.flatMap(({ key, hash }) => ["", `[hooks.state.${formatKey(key)}]`, `trusted_hash = ${tomlString(hash)}`]),
  ].join("\n");
  const owned = [["mcp_servers", CODEX_SERVER_NAME], ...trusted.map(({ key }) => ["hooks", "state", key])];
  const merged = replaceTables(config, owned, tables, configPath);

  writeFileAtomic(hooksPath, `${JSON.stringify(hooksFile, null, 2)}\n`, false);
  writeFileAtomic(configPath, merged, true);
  return { configPath, hooksPath, profile, events: clientHooks("codex").map(({ event }) => event) };
}

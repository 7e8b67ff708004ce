/**
 * Stored relay profiles, so commands that Claude Code runs for us (hooks, the channel server) can
 * find the relay without a token on their command line or in Claude's settings files:
 * `$XDG_CONFIG_HOME/claude-relay/config.json` (or `~/.config/claude-relay/config.json`), mode 0600
 * in a 0700 directory, shaped `{ "profiles": { "<name>": { url, group, peer, token } } }`.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { resolveTarget, type RelayTarget } from "./config.ts";
import { UsageError } from "./errors.ts";

export interface Profile {
  url: string;
  group: string;
  peer: string;
  token: string;
}

export interface ConfigFile {
  profiles: Record<string, Profile>;
}

export function configFilePath(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_CONFIG_HOME && env.XDG_CONFIG_HOME.startsWith("/") ? env.XDG_CONFIG_HOME : join(homedir(), ".config");
  return join(base, "claude-relay", "config.json");
}

/** A profile's name for a target: one per peer per group, so two sessions as different peers coexist. */
export function profileName(target: Pick<RelayTarget, "group" | "peer">): string {
  return `${target.peer}@${target.group}`;
}

export function readConfigFile(path = configFilePath()): ConfigFile {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch {
    return { profiles: {} };
  }
  try {
    const parsed = JSON.parse(text) as Partial<ConfigFile>;
    return { profiles: typeof parsed.profiles === "object" && parsed.profiles !== null ? parsed.profiles : {} };
  } catch {
    throw new UsageError(`${path} is not valid JSON: fix it or delete it, then run \`relay-bridge hooks install\` again`);
  }
}

/** Saves the target as a profile (0600: the file holds tokens) and returns the profile's name. */
export function saveProfile(target: RelayTarget, path = configFilePath()): string {
  const config = readConfigFile(path);
  const name = profileName(target);
  config.profiles[name] = { url: target.baseUrl, group: target.group, peer: target.peer, token: target.token };
  mkdirSync(join(path, ".."), { recursive: true, mode: 0o700 });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
  renameSync(tmp, path);
  return name;
}

/** The target a stored profile names. */
export function loadProfile(name: string, path = configFilePath()): RelayTarget {
  const profile = readConfigFile(path).profiles[name];
  if (!profile) throw new UsageError(`no profile ${JSON.stringify(name)} in ${path}: run \`relay-bridge hooks install --url … --token …\` again`);
  return resolveTarget(profile.url, profile.token);
}

/** `--profile NAME`, else `--url`/`--token`, else RELAY_URL/RELAY_TOKEN. */
export function targetFromOptions(values: { url?: string; token?: string; profile?: string }): RelayTarget {
  if (values.profile) return loadProfile(values.profile);
  return resolveTarget(values.url ?? process.env.RELAY_URL, values.token ?? process.env.RELAY_TOKEN);
}

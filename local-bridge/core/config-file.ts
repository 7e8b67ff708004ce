/**
 * The config file: which relay, group, peer and token to use, per profile, so no command needs
 * flags after `join` or `setup`.
 *
 *   $XDG_CONFIG_HOME/claude-relay/config.json (default ~/.config/claude-relay/config.json), mode 0600
 *   {"default": "core", "profiles": {"core": {"url": "…", "group": "core", "peer": "bob", "token": "rly1.…"}}}
 *
 * It holds tokens, so it is written 0600 in a 0700 directory, atomically (a temporary file renamed
 * over it): a crash mid-write leaves the old file, never half of one.
 */
import { chmodSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import * as z from "zod/mini";
import { UsageError } from "./errors.ts";

const Profile = z.object({ url: z.string(), group: z.string(), peer: z.string(), token: z.string() });
const ConfigShape = z.object({ default: z.optional(z.string()), profiles: z.record(z.string(), Profile) });

export type RelayProfile = z.infer<typeof Profile>;
export type RelayConfig = z.infer<typeof ConfigShape>;

export function configPath(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_CONFIG_HOME || join(env.HOME || homedir(), ".config");
  return join(base, "claude-relay", "config.json");
}

export function readConfig(path = configPath()): RelayConfig {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return { profiles: {} };
    throw new UsageError(`cannot read ${path}: ${(error as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new UsageError(`${path} is not JSON: fix it, or delete it and run \`relay-bridge join\` or \`setup\` again`);
  }
  const checked = ConfigShape.safeParse(parsed);
  if (!checked.success) {
    throw new UsageError(`${path} is not a relay config (expected {"profiles": {"<name>": {"url", "group", "peer", "token"}}}): fix it, or delete it and run \`relay-bridge join\` again`);
  }
  return checked.data;
}

/**
 * Adds or replaces profile `name` and makes it the default (unless `makeDefault` is false and the
 * file already has one). Returns the file's path.
 */
export function saveProfile(name: string, profile: RelayProfile, path = configPath(), makeDefault = true): string {
  const config = readConfig(path);
  config.profiles[name] = profile;
  if (makeDefault || config.default === undefined) config.default = name;
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const temporary = `${path}.${process.pid}.tmp`;
  writeFileSync(temporary, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
  // mode applies only when the file is created; a stale temporary file keeps its old one.
  chmodSync(temporary, 0o600);
  renameSync(temporary, path);
  return path;
}

/**
 * The profile to use: the one named, else the default, else the only one. Null when the file has
 * none. Naming a profile that is not there is a usage error listing the ones that are.
 */
export function pickProfile(config: RelayConfig, name: string | undefined, path = configPath()): { name: string; profile: RelayProfile } | null {
  const names = Object.keys(config.profiles);
  const chosen = name ?? (config.default !== undefined && config.profiles[config.default] ? config.default : names.length === 1 ? names[0] : undefined);
  if (chosen === undefined) {
    if (names.length > 1) throw new UsageError(`${path} has several profiles (${names.join(", ")}) and no default: pick one with --profile NAME`);
    return null;
  }
  const profile = config.profiles[chosen];
  if (!profile) {
    throw new UsageError(`no profile '${chosen}' in ${path}${names.length > 0 ? `: it has ${names.join(", ")}` : ": it has none yet (run `relay-bridge join <invite url>`)"}`);
  }
  return { name: chosen, profile };
}

/** The profile name hooks and the channel server carry on their command line: one per peer per group. */
export function profileName(target: { group: string; peer: string }): string {
  return `${target.peer}@${target.group}`;
}

/**
 * Saves a relay target under its profileName, leaving the person's default alone when there is
 * one, and returns that name: commands Claude Code runs for us name it instead of a token.
 */
export function saveTarget(target: { baseUrl: string; group: string; peer: string; token: string }, path = configPath()): string {
  const name = profileName(target);
  saveProfile(name, { url: target.baseUrl, group: target.group, peer: target.peer, token: target.token }, path, false);
  return name;
}

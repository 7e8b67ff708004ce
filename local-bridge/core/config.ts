/**
 * Turns `--url`/`--token` (or RELAY_URL/RELAY_TOKEN, or a profile of the config file) into
 * everything the commands need: the group and peer named by the token, the MCP endpoint and the
 * group's socket URL.
 */
import { readClaimsUnverified } from "../../contract/token.ts";
import { configPath, pickProfile, readConfig } from "./config-file.ts";
import { UsageError } from "./errors.ts";

export interface RelayTarget {
  /** The relay's base URL as the person gave it, without a trailing slash (http or https). */
  baseUrl: string;
  /** `<base>/mcp`, for `claude mcp add`. */
  mcpUrl: string;
  /** `<base with ws scheme>/groups/<group>/ws`. */
  socketUrl: string;
  token: string;
  group: string;
  peer: string;
  /** Set for an observer token: it may read, not send. */
  observer?: boolean;
  /** What was adjusted on the way (a dropped /mcp suffix), for the person to read. */
  notes: string[];
}

/** A relay URL as people paste it -> its base, or a usage error that says what to type instead. */
export function normaliseRelayUrl(url: string, flag = "--url"): { base: string; notes: string[] } {
  const notes: string[] = [];
  const text = url.trim();
  // "localhost:8787" parses as a URL with protocol "localhost:": say what is missing instead.
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(text)) {
    const local = /^(localhost|127\.|\[::1\])/i.test(text);
    throw new UsageError(`${flag} ${JSON.stringify(url)} has no scheme: add ${local ? "http://" : "https://"} (${local ? "http" : "https"}://${text})`);
  }
  let parsed: URL;
  try {
    parsed = new URL(text);
  } catch {
    throw new UsageError(`${flag} ${JSON.stringify(url)} is not a URL: expected something like https://relay.example.workers.dev`);
  }
  const httpScheme = { "http:": "http:", "https:": "https:", "ws:": "http:", "wss:": "https:" }[parsed.protocol];
  if (!httpScheme) throw new UsageError(`${flag} must start with https:// or http:// (got ${parsed.protocol}//)`);
  let path = parsed.pathname.replace(/\/+$/, "");
  if (/\/mcp$/.test(path)) {
    path = path.slice(0, -"/mcp".length);
    notes.push(`note: using the relay's base URL ${httpScheme}//${parsed.host}${path} (the /mcp at the end of ${flag} is the MCP endpoint, added where needed)`);
  }
  return { base: `${httpScheme}//${parsed.host}${path}`, notes };
}

export function resolveTarget(url: string | undefined, token: string | undefined): RelayTarget {
  if (!url) throw new UsageError("no relay URL: pass --url https://<your relay> or set RELAY_URL (or run `relay-bridge join <invite url>` once)");
  if (!token) throw new UsageError("no token: pass --token rly1.… or set RELAY_TOKEN (or run `relay-bridge join <invite url>` once)");
  const { base, notes } = normaliseRelayUrl(url);
  const claims = readClaimsUnverified(token.trim());
  if (!claims) {
    throw new UsageError("the token is not a relay token (expected rly1.<claims>.<signature>): copy it again, whole");
  }
  const socketBase = base.replace(/^http/, "ws");
  return {
    baseUrl: base,
    mcpUrl: `${base}/mcp`,
    socketUrl: `${socketBase}/groups/${encodeURIComponent(claims.g)}/ws`,
    token: token.trim(),
    group: claims.g,
    peer: claims.p,
    ...(claims.r === "observer" ? { observer: true } : {}),
    notes,
  };
}

export interface TargetFlags {
  url?: string | undefined;
  token?: string | undefined;
  profile?: string | undefined;
}

/**
 * Flags first, then RELAY_URL/RELAY_TOKEN, then the config file's profile (--profile, else its
 * default). A profile fills only what flags and environment left open.
 */
export function targetFrom(flags: TargetFlags, env: NodeJS.ProcessEnv = process.env): RelayTarget {
  let url = flags.url ?? env.RELAY_URL;
  let token = flags.token ?? env.RELAY_TOKEN;
  if (!url || !token || flags.profile !== undefined) {
    const path = configPath(env);
    const picked = pickProfile(readConfig(path), flags.profile, path);
    if (picked) {
      url ??= picked.profile.url;
      token ??= picked.profile.token;
    }
  }
  return resolveTarget(url, token);
}

/** The target a stored profile names (for hooks and the channel server, which Claude Code runs). */
export function loadProfile(name: string): RelayTarget {
  const path = configPath();
  if (name === "" || !readConfig(path).profiles[name]) {
    throw new UsageError(`no profile ${JSON.stringify(name)} in ${path}: run \`relay-bridge hooks install --url … --token …\` again`);
  }
  return targetFrom({ profile: name });
}

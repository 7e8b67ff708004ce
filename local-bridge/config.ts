/**
 * Turns `--url`/`--token` (or RELAY_URL/RELAY_TOKEN) into everything both commands need: the group
 * and peer named by the token, the MCP endpoint and the group's socket URL.
 */
import { readClaimsUnverified } from "../contract/token.ts";
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
}

export function resolveTarget(url: string | undefined, token: string | undefined): RelayTarget {
  if (!url) throw new UsageError("no relay URL: pass --url https://<your relay> or set RELAY_URL");
  if (!token) throw new UsageError("no token: pass --token rly1.… or set RELAY_TOKEN (ask whoever runs the relay for one)");
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new UsageError(`--url ${JSON.stringify(url)} is not a URL: expected something like https://relay.example.workers.dev`);
  }
  const httpScheme = { "http:": "http:", "https:": "https:", "ws:": "http:", "wss:": "https:" }[parsed.protocol];
  if (!httpScheme) throw new UsageError(`--url must start with https:// or http:// (got ${parsed.protocol}//)`);
  const claims = readClaimsUnverified(token.trim());
  if (!claims) {
    throw new UsageError("the token is not a relay token (expected rly1.<claims>.<signature>): copy it again, whole");
  }
  const path = parsed.pathname.replace(/\/+$/, "");
  const base = `${httpScheme}//${parsed.host}${path}`;
  const socketScheme = httpScheme === "https:" ? "wss:" : "ws:";
  return {
    baseUrl: base,
    mcpUrl: `${base}/mcp`,
    socketUrl: `${socketScheme}//${parsed.host}${path}/groups/${encodeURIComponent(claims.g)}/ws`,
    token: token.trim(),
    group: claims.g,
    peer: claims.p,
  };
}

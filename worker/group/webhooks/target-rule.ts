/**
 * Where a webhook may point. A lead types the URL, but the relay makes the request, so a URL is a
 * way to make the relay reach hosts the lead could not: its own loopback, a cloud metadata address
 * (169.254.169.254), a private network. The rule: https to a public name or address; plain http,
 * and loopback, only when the relay itself runs locally (wrangler dev on a developer's machine).
 *
 * This checks the literal host only. A public name whose DNS answers with a private address (DNS
 * rebinding) cannot be excluded from a Worker, which never sees the address it connects to; on
 * Cloudflare's network a Worker's fetch cannot reach the account's private addresses anyway.
 * Plain functions, no platform imports: tested in Node (tests/unit/webhook-target.test.ts).
 */
import { MAX_WEBHOOK_URL_LENGTH } from "../../../contract/limits.ts";

const LOOPBACK_NAMES = new Set(["localhost", "127.0.0.1", "[::1]"]);
/** Suffixes that name hosts on a private network (mDNS, corporate and home-router names). */
const PRIVATE_SUFFIXES = [".localhost", ".local", ".internal", ".lan", ".home.arpa", ".intranet", ".corp"];

/** Whether a relay reached at `hostname` runs on a developer's machine (wrangler dev). */
export function isLocalRelayHost(hostname: string): boolean {
  return LOOPBACK_NAMES.has(hostname.toLowerCase()) || hostname === "::1";
}

function ipv4Parts(host: string): number[] | null {
  const parts = host.split(".");
  if (parts.length !== 4 || !parts.every((p) => /^\d{1,3}$/.test(p))) return null;
  const numbers = parts.map(Number);
  return numbers.every((n) => n <= 255) ? numbers : null;
}

/** Loopback, private, link-local, shared (CGNAT), benchmark, multicast and reserved IPv4 ranges. */
function isNonPublicIpv4([a, b]: number[]): boolean {
  return (
    a === 0 ||
    a === 10 ||
    a === 127 ||
    (a === 100 && b! >= 64 && b! <= 127) ||
    (a === 169 && b === 254) ||
    (a === 172 && b! >= 16 && b! <= 31) ||
    (a === 192 && b === 168) ||
    (a === 192 && b === 0) ||
    (a === 198 && (b === 18 || b === 19)) ||
    a! >= 224
  );
}

/**
 * IPv6 as the URL parser writes it (compressed, lower case, in brackets). Loopback, unspecified,
 * unique-local fc00::/7, link-local fe80::/10, multicast, and IPv4-mapped or NAT64 forms of a
 * non-public IPv4 address.
 */
function isNonPublicIpv6(bracketed: string): boolean {
  const host = bracketed.slice(1, -1);
  if (host === "::" || host === "::1") return true;
  if (/^f[cd][0-9a-f]{0,2}:/.test(host) || /^fe[89ab][0-9a-f]?:/.test(host) || host.startsWith("ff")) return true;
  const mapped = /^(?:::ffff:|64:ff9b::)([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(host);
  if (mapped) {
    const high = parseInt(mapped[1]!, 16);
    const low = parseInt(mapped[2]!, 16);
    return isNonPublicIpv4([high >> 8, high & 255, low >> 8, low & 255]);
  }
  return /^::ffff:/.test(host) || /^::[0-9a-f]/.test(host);
}

function isPrivateName(host: string): boolean {
  if (!host.includes(".")) return true;
  return PRIVATE_SUFFIXES.some((suffix) => host.endsWith(suffix));
}

/** Whether `host` (as URL.hostname gives it) is loopback, private, link-local or a private-network name. */
export function isNonPublicHost(hostname: string): boolean {
  const host = hostname.toLowerCase().replace(/\.$/, "");
  if (host.startsWith("[")) return isNonPublicIpv6(host);
  const v4 = ipv4Parts(host);
  if (v4) return isNonPublicIpv4(v4);
  return isPrivateName(host);
}

/**
 * Why the relay will not post to `raw`, or null when it may. `localRelay`: the relay runs on a
 * developer's machine, where a receiver on localhost is the whole point.
 */
export function webhookTargetProblem(raw: string, localRelay: boolean): string | null {
  if (raw.length > MAX_WEBHOOK_URL_LENGTH) return `The webhook URL is longer than ${MAX_WEBHOOK_URL_LENGTH} characters; use a shorter one.`;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return `${JSON.stringify(raw.slice(0, 100))} is not a URL. Give the full address, e.g. https://hooks.slack.com/services/...`;
  }
  if (url.username || url.password) return "The webhook URL must not carry a user name or password; put a secret in its path or query instead.";
  const host = url.hostname.toLowerCase();
  const loopback = LOOPBACK_NAMES.has(host);
  if (localRelay && loopback && (url.protocol === "http:" || url.protocol === "https:")) return null;
  if (url.protocol !== "https:") {
    return localRelay
      ? "A webhook URL must be https (plain http only to localhost or 127.0.0.1 while the relay runs locally)."
      : "A webhook URL must be https: the relay signs each post, but only TLS keeps its content private on the way.";
  }
  if (isNonPublicHost(host)) {
    return `A webhook must not point at ${host}: loopback, private, link-local and local-network names are refused. Use a public https address (a tunnel such as cloudflared gives a local receiver one).`;
  }
  return null;
}

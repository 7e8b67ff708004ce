/**
 * DNS-rebinding guard. A relay on a developer's machine listens on localhost; a web page on an
 * attacker's domain that re-points its DNS at 127.0.0.1 would reach it with its own Host and
 * Origin headers. So: the Host must be a localhost name, a *.workers.dev name, or one listed in
 * ALLOWED_HOSTNAMES (custom domains); an Origin, when a browser sends one, must be one of those,
 * and on a relay reached through a localhost name, a localhost one: anybody can host a page on
 * some *.workers.dev name.
 */
import type { MiddlewareHandler } from "hono";
import type { Env } from "./env.ts";

const LOCAL_HOSTNAMES = new Set(["localhost", "127.0.0.1", "[::1]", "::1"]);

function hostnameOf(hostHeader: string): string {
  // "[::1]:8787" -> "[::1]", "localhost:8787" -> "localhost"
  return hostHeader.startsWith("[") ? hostHeader.slice(0, hostHeader.indexOf("]") + 1) : hostHeader.split(":")[0]!;
}

export function configuredHostnames(env: Env): string[] {
  return (env.ALLOWED_HOSTNAMES ?? "")
    .split(",")
    .map((h) => h.trim().toLowerCase())
    .filter(Boolean);
}

export function isAllowedHostname(hostname: string, env: Env): boolean {
  const host = hostname.toLowerCase();
  return LOCAL_HOSTNAMES.has(host) || host.endsWith(".workers.dev") || configuredHostnames(env).includes(host);
}

export const hostGuard: MiddlewareHandler<{ Bindings: Env }> = async (c, next) => {
  const host = hostnameOf(c.req.header("Host") ?? new URL(c.req.url).host);
  if (!isAllowedHostname(host, c.env)) {
    return c.json(
      {
        error: "host_not_allowed",
        message: `This relay does not answer for host '${host}'. Use localhost, a *.workers.dev name, or add the name to ALLOWED_HOSTNAMES in wrangler.toml.`,
      },
      403,
    );
  }
  const origin = c.req.header("Origin");
  if (origin !== undefined) {
    let originHost: string | null = null;
    try {
      const url = new URL(origin);
      if (url.protocol === "http:" || url.protocol === "https:") originHost = url.hostname;
    } catch {
      originHost = null;
    }
    const allowed = LOCAL_HOSTNAMES.has(host.toLowerCase())
      ? originHost !== null && LOCAL_HOSTNAMES.has(originHost === "::1" ? "[::1]" : originHost.toLowerCase())
      : originHost !== null && isAllowedHostname(originHost, c.env);
    if (!allowed) {
      return c.json(
        { error: "origin_not_allowed", message: `Requests from origin '${origin}' are refused (DNS-rebinding protection).` },
        403,
      );
    }
  }
  await next();
};

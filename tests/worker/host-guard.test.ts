/**
 * DNS-rebinding guard: the relay answers only for localhost, *.workers.dev and configured names,
 * and refuses browser Origins from anywhere else. /health needs no token.
 */
import { describe, expect, it } from "vitest";
import { BASE, freshGroup, mint, upgradeRequest, workerFetch } from "./helpers.ts";
import { env, exports } from "cloudflare:workers";
import app from "../../worker/index.ts";

const INITIALIZE = {
  jsonrpc: "2.0",
  id: 1,
  method: "initialize",
  params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "raw", version: "1" } },
};

async function initialize(url: string, headers: Record<string, string>): Promise<Response> {
  return exports.default.fetch(
    new Request(url, {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json, text/event-stream", ...headers },
      body: JSON.stringify(INITIALIZE),
    }),
  );
}

describe("host guard", () => {
  it("refuses a foreign Host with 403, even with a valid token", async () => {
    const token = await mint(freshGroup("host"), "alice");
    for (const [url, host] of [
      [`${BASE}/mcp`, "evil.example"],
      [`${BASE}/mcp`, "evil.example:8787"],
      ["http://evil.example/mcp", "evil.example"],
      [`${BASE}/mcp`, "localhost.evil.example"],
      [`${BASE}/mcp`, "workers.dev.evil.example"],
    ] as const) {
      const response = await initialize(url, { Host: host, Authorization: `Bearer ${token}` });
      expect(response.status, host).toBe(403);
      const body = (await response.json()) as { error: string; message: string };
      expect(body.error).toBe("host_not_allowed");
      expect(body.message).toMatch(/ALLOWED_HOSTNAMES/);
    }
  });

  it("refuses a foreign Origin with 403, on /mcp and on the socket endpoint", async () => {
    const group = freshGroup("host");
    const token = await mint(group, "alice");
    for (const origin of ["https://evil.example", "http://evil.example:8787", "null", "file://", "chrome-extension://abc"]) {
      const response = await initialize(`${BASE}/mcp`, { Host: "localhost", Origin: origin, Authorization: `Bearer ${token}` });
      expect(response.status, origin).toBe(403);
      expect(((await response.json()) as { error: string }).error).toBe("origin_not_allowed");
      const socket = await workerFetch(upgradeRequest(group, token, { Origin: origin }));
      expect(socket.status, origin).toBe(403);
      expect(socket.webSocket).toBeNull();
    }
  });

  it("answers local hosts and origins, and *.workers.dev", async () => {
    const token = await mint(freshGroup("host"), "alice");
    const workersDev = "https://claude-relay.team.workers.dev";
    for (const [url, headers] of [
      [`${BASE}/mcp`, { Host: "localhost:8787" }],
      ["http://127.0.0.1:8787/mcp", { Host: "127.0.0.1:8787" }],
      ["http://[::1]:8787/mcp", { Host: "[::1]:8787" }],
      [`${BASE}/mcp`, { Host: "localhost", Origin: "http://localhost:3000" }],
      [`${BASE}/mcp`, { Host: "localhost", Origin: "http://127.0.0.1" }],
      [`${workersDev}/mcp`, { Host: "claude-relay.team.workers.dev", Origin: workersDev }],
    ] as const) {
      const response = await initialize(url, { ...headers, Authorization: `Bearer ${token}` });
      expect(response.status, JSON.stringify(headers)).toBe(200);
    }
  });

  it("answers a custom domain listed in ALLOWED_HOSTNAMES, and still refuses others", async () => {
    const token = await mint(freshGroup("host"), "alice");
    const configured = { ...env, ALLOWED_HOSTNAMES: "relay.example.com, other.example.org" };
    const request = (host: string, origin?: string) =>
      new Request(`https://${host}/mcp`, {
        method: "POST",
        headers: {
          "Content-Type": "application/json",
          Accept: "application/json, text/event-stream",
          Authorization: `Bearer ${token}`,
          Host: host,
          ...(origin ? { Origin: origin } : {}),
        },
        body: JSON.stringify(INITIALIZE),
      });
    expect((await app.fetch(request("relay.example.com"), configured)).status).toBe(200);
    expect((await app.fetch(request("relay.example.com", "https://other.example.org"), configured)).status).toBe(200);
    expect((await app.fetch(request("evil.example"), configured)).status).toBe(403);
    expect((await app.fetch(request("relay.example.com", "https://evil.example"), configured)).status).toBe(403);
    // Without the setting the same domain is refused.
    expect((await app.fetch(request("relay.example.com"), env)).status).toBe(403);
  });

  it("the guard runs before the token check: a foreign host learns nothing about tokens", async () => {
    const response = await initialize(`${BASE}/mcp`, { Host: "evil.example" });
    expect(response.status).toBe(403);
  });
});

describe("/health and unknown routes", () => {
  it("/health answers 200 without a token", async () => {
    const response = await workerFetch(`${BASE}/health`);
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ ok: true, service: "claude-relay" });
  });

  it("an unknown route is a JSON 404 that names the real ones", async () => {
    const response = await workerFetch(`${BASE}/nope`);
    expect(response.status).toBe(404);
    expect(((await response.json()) as { message: string }).message).toMatch(/\/mcp.*\/groups\/<group>\/ws.*\/health/);
  });
});

/**
 * The guard's relay source over real HTTP. The relay's GET /groups/:group/claims is not routed
 * yet, so a plain Node server answers in its place with the agreed shape; the source must accept
 * it, turn refusals, wrong shapes, a dead port and a hang into rejections that say what happened,
 * and never outlive its bound.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import type { Claim } from "../../contract/claim-rules.ts";
import { relayClaimsSource } from "../../local-bridge/guard/relay-source.ts";

const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

async function serve(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<string> {
  const server = createServer(handler);
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

const claim: Claim = { peer: "alice", repo: null, pattern: "src", exclusive: true, claimed_at: "2026-12-07T10:00:00.000Z", expires_at: "2026-12-07T11:00:00.000Z" };

describe("relayClaimsSource", () => {
  it("asks GET /groups/:group/claims with the token and returns the view", async () => {
    let seen = "";
    const baseUrl = await serve((req, res) => {
      seen = `${req.method} ${req.url} ${req.headers.authorization}`;
      res.setHeader("Content-Type", "application/json");
      res.end(JSON.stringify({ peer: "bob", claims: [claim] }));
    });
    expect(await relayClaimsSource({ baseUrl, group: "team", token: "T" }, 5_000).load()).toEqual({ peer: "bob", claims: [claim] });
    expect(seen).toBe("GET /groups/team/claims Bearer T");
  });

  it("rejects a refusal with the relay's message, and an answer of the wrong shape", async () => {
    const refused = await serve((_req, res) => {
      res.statusCode = 401;
      res.end(JSON.stringify({ error: "token_revoked", message: "This token was revoked." }));
    });
    await expect(relayClaimsSource({ baseUrl: refused, group: "g", token: "T" }, 5_000).load()).rejects.toThrow("the relay refused (401): This token was revoked.");
    const odd = await serve((_req, res) => res.end(JSON.stringify({ claims: "none" })));
    await expect(relayClaimsSource({ baseUrl: odd, group: "g", token: "T" }, 5_000).load()).rejects.toThrow("not in the expected shape");
  });

  it("rejects a dead port and a hang within its bound", async () => {
    const dead = await serve(() => {});
    servers.pop()!.close();
    await expect(relayClaimsSource({ baseUrl: dead, group: "g", token: "T" }, 5_000).load()).rejects.toThrow("unreachable");
    const hanging = await serve(() => {});
    await expect(relayClaimsSource({ baseUrl: hanging, group: "g", token: "T" }, 300).load()).rejects.toThrow("did not answer within 300 ms");
  });
});

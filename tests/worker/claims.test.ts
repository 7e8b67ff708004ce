/**
 * The group's claims module against the real Durable Object SQLite: the migration, granting and
 * renewing, conflicts (exclusive vs shared, both ways, two repositories), partial grants,
 * release (own, by a lead, on revocation), listing, expiry and the limits. Time is passed in, so
 * expiry is tested without waiting.
 */
import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { type Claim, ClaimPathsInput } from "../../contract/claims.ts";
import { MAX_CLAIMS_PER_PEER } from "../../contract/limits.ts";
import { GroupClaims } from "../../worker/group/claims/claims.ts";
import type { Caller, Outcome } from "../../worker/types.ts";
import { freshGroup, stubFor } from "./helpers.ts";

const NOW = Date.parse("2026-12-07T10:00:00Z");
const MIN = 60_000;
const APP = "github.com/acme/app";
const WEB = "github.com/acme/web";

/** Runs `test` with a GroupClaims over a fresh group's own storage. */
function withClaims<T>(test: (claims: GroupClaims, sql: SqlStorage) => T): Promise<T> {
  return runInDurableObject(stubFor(freshGroup("claims")), (_instance, state) => test(new GroupClaims(state.storage), state.storage.sql));
}

function value<T>(outcome: Outcome<T>): T {
  if (!outcome.ok) throw new Error(`${outcome.problem.code}: ${outcome.problem.message}`);
  return outcome.value;
}

const input = (args: Record<string, unknown>) => ClaimPathsInput.parse(args);
const patterns = (claims: Claim[]) => claims.map((c) => `${c.peer}:${c.pattern}`);

describe("the claims table", () => {
  it("is created by the group's migrations", async () => {
    const columns = await withClaims((_claims, sql) => sql.exec(`SELECT name FROM pragma_table_info('claims')`).toArray().map((r) => r.name));
    expect(columns).toEqual(["peer", "repo", "pattern", "exclusive", "reason", "claimed_at", "expires_at"]);
  });
});

describe("granting", () => {
  it("grants exclusively for 60 minutes by default, with the reason on one line", async () => {
    const grant = await withClaims((claims) => value(claims.grant("alice", input({ paths: ["src/api/"], reason: "API\nrefactor", repo: `git@github.com:acme/app.git` }), NOW)));
    expect(grant).toEqual({
      granted: [
        {
          peer: "alice",
          repo: APP,
          pattern: "src/api",
          exclusive: true,
          reason: "API refactor",
          claimed_at: new Date(NOW).toISOString(),
          expires_at: new Date(NOW + 60 * MIN).toISOString(),
        },
      ],
      conflicts: [],
    });
  });

  it("refuses an overlapping path to another peer, both ways, naming holder, pattern, reason and expiry", async () => {
    await withClaims((claims) => {
      value(claims.grant("alice", input({ paths: ["src/**"], reason: "moving files" }), NOW));
      const narrower = value(claims.grant("bob", input({ paths: ["src/a/*.ts"] }), NOW + MIN));
      expect(narrower.granted).toEqual([]);
      expect(narrower.conflicts).toMatchObject([{ requested: "src/a/*.ts", claim: { peer: "alice", pattern: "src", reason: "moving files" } }]);
      expect(narrower.advice).toContain("Nothing was claimed");
      expect(narrower.advice).toContain('alice holds src (exclusive, every repository) until 11:00 UTC, 59 min from now: "moving files"');
      expect(narrower.advice).toContain("Ask alice with ask_peer");

      value(claims.grant("carol", input({ paths: ["lib/a/*.ts"] }), NOW));
      const wider = value(claims.grant("dave", input({ paths: ["lib/**"] }), NOW));
      expect(wider.conflicts.map((c) => c.claim.peer)).toEqual(["carol"]);
      expect(patterns(value(claims.list({}, NOW)))).toEqual(["alice:src", "carol:lib/a/*.ts"]);
    });
  });

  it("grants what is free and reports the rest", async () => {
    await withClaims((claims) => {
      value(claims.grant("alice", input({ paths: ["src"] }), NOW));
      const grant = value(claims.grant("bob", input({ paths: ["src/x.ts", "docs", "tests/**"] }), NOW));
      expect(grant.granted.map((c) => c.pattern)).toEqual(["docs", "tests"]);
      expect(grant.conflicts.map((c) => c.requested)).toEqual(["src/x.ts"]);
      expect(grant.advice).toMatch(/^The rest was claimed/);
    });
  });

  it("shared claims sit together; an exclusive one is refused over a shared one and the other way", async () => {
    await withClaims((claims) => {
      expect(value(claims.grant("alice", input({ paths: ["docs"], exclusive: false }), NOW)).granted).toHaveLength(1);
      expect(value(claims.grant("bob", input({ paths: ["docs/*.md"], exclusive: false }), NOW)).granted).toHaveLength(1);
      expect(value(claims.grant("carol", input({ paths: ["docs/guide.md"] }), NOW)).conflicts.map((c) => c.claim.peer)).toEqual(["alice", "bob"]);
      value(claims.grant("carol", input({ paths: ["src"] }), NOW));
      expect(value(claims.grant("dave", input({ paths: ["src/a"], exclusive: false }), NOW)).conflicts.map((c) => c.claim.peer)).toEqual(["carol"]);
    });
  });

  it("a peer's own claims never stand in its way", async () => {
    await withClaims((claims) => {
      value(claims.grant("alice", input({ paths: ["src"] }), NOW));
      expect(value(claims.grant("alice", input({ paths: ["src/a.ts", "**"] }), NOW)).conflicts).toEqual([]);
    });
  });

  it("claiming again renews: one row, expiry from now, claimed_at kept, exclusive and reason updated", async () => {
    await withClaims((claims, sql) => {
      value(claims.grant("alice", input({ paths: ["src"], reason: "first" }), NOW));
      const renewed = value(claims.grant("alice", input({ paths: ["src/"], ttl_minutes: 120, exclusive: false }), NOW + 50 * MIN));
      expect(renewed.granted).toEqual([
        {
          peer: "alice",
          repo: null,
          pattern: "src",
          exclusive: false,
          reason: "first",
          claimed_at: new Date(NOW).toISOString(),
          expires_at: new Date(NOW + 170 * MIN).toISOString(),
        },
      ]);
      expect(sql.exec(`SELECT COUNT(*) AS n FROM claims`).one().n).toBe(1);
    });
  });

  it("two repositories: claims in one leave the other free; a claim without repo reaches both", async () => {
    await withClaims((claims) => {
      value(claims.grant("alice", input({ paths: ["src"], repo: APP }), NOW));
      expect(value(claims.grant("bob", input({ paths: ["src"], repo: `https://github.com/acme/web.git` }), NOW)).granted).toHaveLength(1);
      const everywhere = value(claims.grant("carol", input({ paths: ["src/main.ts"] }), NOW));
      expect(everywhere.conflicts.map((c) => c.claim.peer)).toEqual(["alice", "bob"]);
      value(claims.grant("carol", input({ paths: ["config"] }), NOW));
      expect(value(claims.grant("dave", input({ paths: ["config/x"], repo: WEB }), NOW)).conflicts.map((c) => c.claim.peer)).toEqual(["carol"]);
    });
  });

  it("an expired claim is in nobody's way and is deleted", async () => {
    await withClaims((claims, sql) => {
      value(claims.grant("alice", input({ paths: ["src"], ttl_minutes: 5 }), NOW));
      expect(value(claims.grant("bob", input({ paths: ["src"] }), NOW + 4 * MIN)).granted).toEqual([]);
      expect(value(claims.grant("bob", input({ paths: ["src"] }), NOW + 5 * MIN)).granted).toHaveLength(1);
      expect(sql.exec(`SELECT peer FROM claims`).toArray()).toEqual([{ peer: "bob" }]);
    });
  });

  it(`refuses past ${MAX_CLAIMS_PER_PEER} claims a peer, storing nothing of that call; renewals do not count`, async () => {
    await withClaims((claims, sql) => {
      for (let i = 0; i < MAX_CLAIMS_PER_PEER; i += 20) {
        value(claims.grant("alice", input({ paths: Array.from({ length: 20 }, (_, j) => `f${i + j}`) }), NOW));
      }
      const over = claims.grant("alice", input({ paths: ["f0", "new"] }), NOW);
      expect(over).toMatchObject({ ok: false, problem: { code: "quota_exceeded", message: expect.stringContaining("release_paths") } });
      expect(sql.exec(`SELECT COUNT(*) AS n FROM claims WHERE pattern = 'new'`).one().n).toBe(0);
      expect(value(claims.grant("alice", input({ paths: ["f0", "f1"] }), NOW)).granted).toHaveLength(2);
    });
  });
});

describe("releasing", () => {
  it("releases named patterns as claimed (normalised), reports the ones not held, and all when none are named", async () => {
    await withClaims((claims) => {
      value(claims.grant("alice", input({ paths: ["src", "docs", "tests"] }), NOW));
      expect(value(claims.release("alice", ["src/", "lib"], NOW))).toMatchObject({ released: [{ pattern: "src" }], not_held: ["lib"] });
      expect(claims.release("alice", ["lib"], NOW)).toMatchObject({ ok: false, problem: { code: "not_found", message: expect.stringContaining("docs, tests") } });
      expect(patterns(value(claims.release("alice", undefined, NOW)).released)).toEqual(["alice:docs", "alice:tests"]);
      expect(value(claims.list({}, NOW))).toEqual([]);
    });
  });

  it("only a lead releases another peer's claims", async () => {
    await withClaims((claims) => {
      value(claims.grant("alice", input({ paths: ["src"] }), NOW));
      const bob: Caller = { group: "g", peer: "bob", iat: 0 };
      expect(claims.releaseFor(bob, "alice", undefined, NOW)).toMatchObject({ ok: false, problem: { code: "forbidden", message: expect.stringContaining("ask_peer") } });
      expect(value(claims.releaseFor({ ...bob, role: "lead" }, "alice", ["src"], NOW)).released).toHaveLength(1);
    });
  });

  it("a revoked peer's claims all go", async () => {
    await withClaims((claims) => {
      value(claims.grant("alice", input({ paths: ["src", "docs"] }), NOW));
      value(claims.grant("bob", input({ paths: ["lib"] }), NOW));
      expect(claims.releaseAllOf("alice")).toBe(2);
      expect(patterns(value(claims.list({}, NOW)))).toEqual(["bob:lib"]);
    });
  });
});

describe("listing and expiry", () => {
  it("filters by repository (claims without one included) and by peer; never lists expired claims", async () => {
    await withClaims((claims) => {
      value(claims.grant("alice", input({ paths: ["src"], repo: APP }), NOW));
      value(claims.grant("bob", input({ paths: ["src"], repo: WEB }), NOW));
      value(claims.grant("carol", input({ paths: ["docs"], ttl_minutes: 10 }), NOW));
      expect(patterns(value(claims.list({ repo: "ssh://git@github.com/acme/app.git" }, NOW)))).toEqual(["alice:src", "carol:docs"]);
      expect(patterns(value(claims.list({ peer: "bob" }, NOW)))).toEqual(["bob:src"]);
      expect(patterns(value(claims.list({}, NOW + 10 * MIN)))).toEqual(["alice:src", "bob:src"]);
    });
  });

  it("expire deletes what ran out and is idempotent; nextExpiry says when the next one runs out", async () => {
    await withClaims((claims) => {
      expect(claims.nextExpiry()).toBeNull();
      value(claims.grant("alice", input({ paths: ["a"], ttl_minutes: 10 }), NOW));
      value(claims.grant("bob", input({ paths: ["b"], ttl_minutes: 20 }), NOW));
      expect(claims.nextExpiry()).toBe(NOW + 10 * MIN);
      expect(claims.expire(NOW + 10 * MIN)).toBe(1);
      expect(claims.expire(NOW + 10 * MIN)).toBe(0);
      expect(claims.nextExpiry()).toBe(NOW + 20 * MIN);
    });
  });
});

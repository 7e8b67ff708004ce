/**
 * The rules of path claims, as pure functions: which paths a glob covers, when two globs overlap
 * (checked both ways), repository names, the conflict rules (exclusive vs shared, a peer's own
 * claims, repositories, expiry), renewal, and the tool inputs' validation.
 */
import { describe, expect, it } from "vitest";
import {
  blockingClaims,
  type Claim,
  claimCovers,
  ClaimPathsInput,
  claimPatternProblem,
  claimsReachedBy,
  compactClaim,
  conflicts,
  describeClaim,
  findConflicts,
  grantedClaim,
  ListClaimsInput,
  normaliseClaimPattern,
  normaliseRepo,
  patternsOverlap,
  ReleasePathsInput,
  appliesIn,
  reposMeet,
  whatToDo,
} from "../../contract/claims.ts";
import { MAX_CLAIM_PATHS } from "../../contract/limits.ts";

const NOW = Date.parse("2026-12-07T10:00:00Z");
const minutes = (n: number) => new Date(NOW + n * 60_000).toISOString();

function claim(peer: string, pattern: string, extra: Partial<Claim> = {}): Claim {
  return { peer, repo: null, pattern, exclusive: true, claimed_at: minutes(-5), expires_at: minutes(30), ...extra };
}

describe("claimCovers: which paths a pattern covers", () => {
  it.each([
    ["src", "src", true],
    ["src", "src/a.ts", true],
    ["src/", "src/a/b/c.ts", true],
    ["src/**", "src", true],
    ["src/**", "src/a/b.ts", true],
    ["src", "srcx/a.ts", false],
    ["src", "lib/src/a.ts", false],
    ["*.md", "README.md", true],
    ["*.md", "docs/a.md", false],
    ["docs/*.md", "docs/a.md", true],
    ["docs/*.md", "docs/x/a.md", false],
    ["src/*", "src/a", true],
    ["src/*", "src/a/b.ts", false],
    ["src/*/", "src/a/b.ts", true],
    ["src/*/**", "src/a/b.ts", true],
    ["src/*.ts", "src/a.ts/x", false],
    ["**/*.test.ts", "a.test.ts", true],
    ["**/*.test.ts", "tests/unit/a.test.ts", true],
    ["**/*.test.ts", "tests/unit/a.ts", false],
    ["src/**/index.ts", "src/index.ts", true],
    ["src/**/index.ts", "src/a/b/index.ts", true],
    ["src/**/index.ts", "lib/index.ts", false],
    ["file?.ts", "file1.ts", true],
    ["file?.ts", "file10.ts", false],
    ["file?.ts", "file/.ts", false],
    ["[abc].ts", "b.ts", true],
    ["[abc].ts", "d.ts", false],
    ["[a-c]x", "bx", true],
    ["[!a-c]x", "bx", false],
    ["[!a-c]x", "dx", true],
    ["[^a-c]x", "dx", true],
    ["**", "anything/at/all", true],
    [".", "anything", true],
    ["./src", "src/a", true],
    ["Src", "src/a", false],
  ])("%s covers %s: %s", (pattern, path, expected) => {
    expect(claimCovers(pattern, path)).toBe(expected);
  });

  it("reads paths with a leading ./ or doubled slashes as the same path", () => {
    expect(claimCovers("src/a.ts", "./src//a.ts")).toBe(true);
  });
});

describe("patternsOverlap: could one path be covered by both, checked both ways", () => {
  const cases: [string, string, boolean][] = [
    ["src/**", "src/a/*.ts", true],
    ["src", "src/a/b.ts", true],
    ["*.md", "docs/*.md", false],
    ["*.md", "README.md", true],
    ["*.md", "*.ts", false],
    ["*.ts", "a*", true],
    ["src/*.ts", "src/*.js", false],
    ["src/a", "src/ab", false],
    ["src/*/x", "src/**/y", true],
    ["src/*/*.ts", "src/**/*.md", false],
    ["src/*/x", "src/**/x", true],
    ["**/test", "src/**", true],
    ["**/*.md", "docs/*.txt", false],
    // docs/a.txt could be a directory: a plain name covers what is under it.
    ["**/*.md", "docs/a.txt", true],
    ["**/*.md", "docs", true],
    ["lib/**", "src/**", false],
    ["**", "anything", true],
    ["a?c", "abc", true],
    ["a?c", "a/c", false],
    ["[a-c]", "[c-e]", true],
    ["[a-b]", "[c-e]", false],
    ["[!a]", "a", false],
    ["[!a]", "[!b]", true],
    ["[ab]", "[!ab]", false],
    ["x*", "*y", true],
    ["docs/*", "*/guide.md", true],
    ["a/*.ts", "a/b/c.ts", false],
    ["a*", "*/x", false],
    ["**/*.md", "src/*.ts", false],
    ["src/*/", "src/a/b.ts", true],
  ];
  // A plain name covers what is under it, so src/*/x reaches src/a/x/y.
  it.each(cases)("%s vs %s: %s", (a, b, expected) => {
    expect(patternsOverlap(a, b)).toBe(expected);
    expect(patternsOverlap(b, a)).toBe(expected);
  });

  it("treats git's pathspec * as crossing /, so `git checkout -- 'src/*.ts'` reaches src/a/b.ts", () => {
    expect(patternsOverlap("src/a/b.ts", "src/*.ts", { bIsPathspec: true })).toBe(true);
    expect(patternsOverlap("src/a/b.ts", "src/*.ts")).toBe(false);
  });
});

describe("pattern validation and normalisation", () => {
  it.each([
    ["/etc/passwd", "absolute"],
    ["C:/work/app", "absolute"],
    ["~/app", "absolute"],
    ["../other/**", "'..'"],
    ["src/../../x", "'..'"],
    ["src\\a.ts", "backslash"],
    ["src//a", "empty"],
    ["", "empty"],
    ["src/[abc", "never closed"],
    ["a\nb", "control"],
    ["x".repeat(300), "at most"],
    ["*a*b*c*d*e*f*g*h*i*j*k*l*m", "wildcards"],
  ])("refuses %j, saying %s", (text, says) => {
    expect(claimPatternProblem(text)).toContain(says);
  });

  it.each(["src", "src/", "./src/**", "**/*.md", "docs/[a-z]*.md", ".", "a b/c.ts"])("accepts %j", (text) => {
    expect(claimPatternProblem(text)).toBeNull();
  });

  it.each([
    ["src/", "src"],
    ["./src/**", "src"],
    ["src/**/**/x", "src/**/x"],
    [".", "**"],
    ["./", "**"],
    ["**", "**"],
    ["**/**", "**"],
    ["src/*/", "src/*/**"],
    ["src/*/**", "src/*/**"],
    ["src/a/**/", "src/a"],
  ])("normalises %j to %j", (text, expected) => {
    expect(normaliseClaimPattern(text)).toBe(expected);
  });
});

describe("normaliseRepo: one name however origin is spelled", () => {
  it.each([
    ["git@github.com:acme/app.git", "github.com/acme/app"],
    ["https://github.com/acme/app", "github.com/acme/app"],
    ["https://github.com/acme/app.git/", "github.com/acme/app"],
    ["https://x-access-token:secret@github.com/Acme/App.git", "github.com/acme/app"],
    ["ssh://git@github.com/acme/app.git", "github.com/acme/app"],
    ["ssh://git@github.com:22/acme/app.git", "github.com/acme/app"],
    ["ssh://git@github.com:acme/app.git", "github.com/acme/app"],
    ["github.com/acme/app", "github.com/acme/app"],
    ["git@gitlab.example.com:group/sub/app.git", "gitlab.example.com/group/sub/app"],
    ["/srv/git/app.git", "/srv/git/app"],
    ["file:///srv/git/app.git", "/srv/git/app"],
  ])("%s -> %s", (origin, expected) => {
    expect(normaliseRepo(origin)).toBe(expected);
  });

  it("names nothing for empty text", () => {
    expect(normaliseRepo("  ")).toBeNull();
  });

  it("a claim without a repository meets every repository; two named ones only themselves", () => {
    expect(reposMeet(null, "github.com/acme/app")).toBe(true);
    expect(reposMeet("github.com/acme/app", "github.com/acme/app")).toBe(true);
    expect(reposMeet("github.com/acme/app", "github.com/acme/web")).toBe(false);
    expect(appliesIn("github.com/acme/app", null)).toBe(false);
    expect(appliesIn(null, null)).toBe(true);
  });
});

describe("conflicts", () => {
  const request = { peer: "bob", pattern: "src/a/*.ts", repo: "github.com/acme/app", exclusive: true };

  it("exclusive against exclusive on overlapping globs, either way round", () => {
    expect(conflicts(request, claim("alice", "src/**"), NOW)).toBe(true);
    expect(conflicts({ ...request, pattern: "src/**" }, claim("alice", "src/a/*.ts"), NOW)).toBe(true);
  });

  it("shared claims sit together; one exclusive side is enough to conflict", () => {
    const shared = claim("alice", "src/**", { exclusive: false });
    expect(conflicts({ ...request, exclusive: false }, shared, NOW)).toBe(false);
    expect(conflicts({ ...request, exclusive: true }, shared, NOW)).toBe(true);
    expect(conflicts({ ...request, exclusive: false }, claim("alice", "src/**"), NOW)).toBe(true);
  });

  it("a peer's own claims never conflict with it", () => {
    expect(conflicts(request, claim("bob", "src/**"), NOW)).toBe(false);
  });

  it("expired claims are gone", () => {
    expect(conflicts(request, claim("alice", "src/**", { expires_at: minutes(0) }), NOW)).toBe(false);
    expect(conflicts(request, claim("alice", "src/**", { expires_at: minutes(1) }), NOW)).toBe(true);
  });

  it("two repositories: a claim in one does not reach the other; a claim without repo reaches both", () => {
    expect(conflicts(request, claim("alice", "src/**", { repo: "github.com/acme/web" }), NOW)).toBe(false);
    expect(conflicts(request, claim("alice", "src/**", { repo: "github.com/acme/app" }), NOW)).toBe(true);
    expect(conflicts({ ...request, repo: null }, claim("alice", "src/**", { repo: "github.com/acme/web" }), NOW)).toBe(true);
  });

  it("disjoint globs never conflict", () => {
    expect(conflicts(request, claim("alice", "docs/**"), NOW)).toBe(false);
  });

  it("findConflicts lists every claim in the way with what was asked", () => {
    const found = findConflicts(request, [claim("alice", "src/**"), claim("carol", "src/a/x.ts"), claim("dave", "docs")], NOW);
    expect(found.map((c) => [c.requested, c.claim.peer])).toEqual([
      ["src/a/*.ts", "alice"],
      ["src/a/*.ts", "carol"],
    ]);
  });
});

describe("what the guards refuse", () => {
  const claims = [
    claim("alice", "src/**", { repo: "github.com/acme/app" }),
    claim("carol", "docs", { exclusive: false }),
    claim("bob", "lib/**"),
  ];

  it("an edit inside another peer's exclusive claim, in that repository only", () => {
    expect(blockingClaims("src/x.ts", "github.com/acme/app", "bob", claims, NOW).map((c) => c.claim.peer)).toEqual(["alice"]);
    expect(blockingClaims("src/x.ts", "github.com/acme/web", "bob", claims, NOW)).toEqual([]);
  });

  it("in a checkout without an origin, only claims without a repository apply", () => {
    expect(blockingClaims("src/x.ts", null, "bob", claims, NOW)).toEqual([]);
    expect(blockingClaims("lib/x.ts", null, "carol", claims, NOW).map((c) => c.claim.peer)).toEqual(["bob"]);
    expect(claimsReachedBy(null, null, "alice", claims, NOW).map((c) => c.claim.peer)).toEqual(["bob"]);
  });

  it("never a shared claim, never one's own", () => {
    expect(blockingClaims("docs/a.md", "github.com/acme/app", "bob", claims, NOW)).toEqual([]);
    expect(blockingClaims("lib/a.ts", "github.com/acme/app", "bob", claims, NOW)).toEqual([]);
    expect(blockingClaims("src/x.ts", "github.com/acme/app", "alice", claims, NOW)).toEqual([]);
  });

  it("a pathspec reaching into a claim, and the whole tree reaching every exclusive one", () => {
    expect(claimsReachedBy("src/*.ts", "github.com/acme/app", "bob", claims, NOW)).toHaveLength(1);
    expect(claimsReachedBy("test", "github.com/acme/app", "bob", claims, NOW)).toHaveLength(0);
    expect(claimsReachedBy(null, "github.com/acme/app", "bob", claims, NOW).map((c) => c.claim.peer)).toEqual(["alice"]);
    expect(claimsReachedBy(null, "github.com/acme/app", "alice", claims, NOW).map((c) => c.claim.peer)).toEqual(["bob"]);
    expect(claimsReachedBy(null, "github.com/acme/web", "bob", claims, NOW)).toEqual([]);
  });
});

describe("grantedClaim: granting and renewing", () => {
  const request = { peer: "bob", pattern: "src", repo: null, exclusive: true, ttlMinutes: 60, reason: "refactor" };

  it("a new claim runs from now for its ttl", () => {
    expect(grantedClaim(request, undefined, NOW)).toEqual({
      peer: "bob",
      repo: null,
      pattern: "src",
      exclusive: true,
      reason: "refactor",
      claimed_at: minutes(0),
      expires_at: minutes(60),
    });
  });

  it("claiming again renews: expiry from now, claimed_at kept, reason kept unless replaced, exclusive follows", () => {
    const held = claim("bob", "src", { reason: "refactor", claimed_at: minutes(-50), expires_at: minutes(10) });
    const { reason: _, ...noReason } = request;
    const renewed = grantedClaim({ ...noReason, exclusive: false, ttlMinutes: 30 }, held, NOW);
    expect(renewed).toMatchObject({ claimed_at: minutes(-50), expires_at: minutes(30), exclusive: false, reason: "refactor" });
    expect(grantedClaim({ ...request, reason: "tests" }, held, NOW).reason).toBe("tests");
  });

  it("an expired claim taken again is a new claim", () => {
    const held = claim("bob", "src", { reason: "old", claimed_at: minutes(-500), expires_at: minutes(-1) });
    const { reason: _, ...noReason } = request;
    const again = grantedClaim(noReason, held, NOW);
    expect(again.claimed_at).toBe(minutes(0));
    expect(again.reason).toBeUndefined();
  });

  it("a ttl is held to a day", () => {
    expect(grantedClaim({ ...request, ttlMinutes: 10_000 }, undefined, NOW).expires_at).toBe(minutes(24 * 60));
  });
});

describe("words", () => {
  it("a claim for a model carries only what says something", () => {
    expect(compactClaim(claim("alice", "src", { exclusive: false, reason: "r" }))).toEqual({ peer: "alice", pattern: "src", shared: true, reason: "r", expires_at: minutes(30) });
    expect(compactClaim(claim("alice", "src", { repo: "github.com/acme/app" }))).toEqual({ peer: "alice", pattern: "src", repo: "github.com/acme/app", expires_at: minutes(30) });
  });

  it("a claim says who, what, where, until when and why", () => {
    const text = describeClaim(claim("alice", "src/**", { repo: "github.com/acme/app", reason: "API refactor", expires_at: minutes(75) }), NOW);
    expect(text).toBe('alice holds src/** (exclusive, github.com/acme/app) until 11:15 UTC, 1 h 15 min from now: "API refactor"');
    expect(whatToDo([{ requested: "x", claim: claim("alice", "x") }])).toContain("Ask alice with ask_peer");
  });
});

describe("tool inputs", () => {
  it("claim_paths defaults to exclusive for 60 minutes", () => {
    expect(ClaimPathsInput.parse({ paths: ["src/**"] })).toEqual({ paths: ["src/**"], exclusive: true, ttl_minutes: 60 });
  });

  it("refuses a ttl over a day, absolute paths and too many paths, saying what to do", () => {
    const long = ClaimPathsInput.safeParse({ paths: ["src"], ttl_minutes: 1441 });
    expect(long.success ? "" : long.error.issues[0]!.message).toContain("at most 1440");
    const absolute = ClaimPathsInput.safeParse({ paths: ["/home/me/app/src"] });
    expect(absolute.success ? "" : absolute.error.issues[0]!.message).toContain("relative to the repository root");
    const many = ClaimPathsInput.safeParse({ paths: Array.from({ length: MAX_CLAIM_PATHS + 1 }, (_, i) => `f${i}`) });
    expect(many.success ? "" : many.error.issues[0]!.message).toContain("claim a directory");
  });

  it("release_paths without paths means all; list_claims checks its peer name", () => {
    expect(ReleasePathsInput.parse({})).toEqual({});
    expect(ListClaimsInput.safeParse({ peer: "Not A Name" }).success).toBe(false);
    expect(ListClaimsInput.parse({ repo: "git@github.com:acme/app.git" })).toEqual({ repo: "git@github.com:acme/app.git" });
  });
});

describe("patternsOverlap agrees with brute force", () => {
  // Every valid path over a small alphabet, up to a length that holds a witness for these short
  // patterns: overlap must be true exactly when one of them is covered by both.
  const paths: string[] = [];
  const grow = (prefix: string) => {
    if (prefix.length > 0 && !prefix.endsWith("/")) paths.push(prefix);
    if (prefix.length === 7) return;
    for (const c of ["a", "b", "/"]) {
      if (c === "/" && (prefix === "" || prefix.endsWith("/"))) continue;
      grow(prefix + c);
    }
  };
  grow("");
  const patterns = ["a", "b", "*", "a*", "*b", "?", "a/b", "*/b", "a/*", "**/b", "a/**/b", "[a]*", "[!a]", "*/*", "?/a*", "**/a/*"];

  it("on every pair of a set of short patterns", () => {
    const wrong: string[] = [];
    for (const a of patterns) {
      for (const b of patterns) {
        const witness = paths.find((p) => claimCovers(a, p) && claimCovers(b, p));
        if (patternsOverlap(a, b) !== (witness !== undefined)) wrong.push(`${a} vs ${b} (witness ${witness})`);
      }
    }
    expect(wrong).toEqual([]);
  });
});

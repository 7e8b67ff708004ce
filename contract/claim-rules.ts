/**
 * The rules of path claims as pure functions, shared by the relay (which grants claims) and the
 * bridge's guards (which refuse edits, git commands and commits inside someone else's claim):
 * repository names, conflicts, expiry, renewal and the words every side uses. What a pattern
 * covers and when two overlap is claim-globs.ts, re-exported here. No imports beyond the
 * contract's own dependency-free modules: the guards run as fresh processes on every edit and
 * commit, so they load these files and nothing else of the contract.
 */
import { CONTROL, claimCovers, patternsOverlap } from "./claim-globs.ts";
import { MAX_CLAIM_TTL_MINUTES } from "./limits.ts";

export * from "./claim-globs.ts";

// ---------------------------------------------------------------------------------------------
// The record
// ---------------------------------------------------------------------------------------------

/** A claim as the relay keeps it and every reader gets it. */
export interface Claim {
  peer: string;
  /** The normalised origin (`github.com/acme/app`); null covers every repository of the group. */
  repo: string | null;
  /** Normalised (see normaliseClaimPattern). */
  pattern: string;
  exclusive: boolean;
  /** Omitted when none was given. */
  reason?: string;
  claimed_at: string;
  expires_at: string;
}

/** One of another peer's claims that stands in the way of a request, and what it was in the way of. */
export interface ClaimConflict {
  /** The pattern asked for, or the path or pathspec checked. */
  requested: string;
  claim: Claim;
}

// ---------------------------------------------------------------------------------------------
// Repositories
// ---------------------------------------------------------------------------------------------

/**
 * One name for a repository however its origin is spelled: what `git remote get-url origin`
 * prints (`git@github.com:acme/app.git`, `https://github.com/acme/app`,
 * `ssh://git@github.com:22/acme/app.git`) all become `github.com/acme/app`. Credentials, ports,
 * a trailing `.git` or `/` are dropped and everything is lower-cased (hosts that tell case apart
 * in repository names are rare; two clones spelling one name differently are not). A local path
 * stays a path. Null for text that names no repository.
 */
export function normaliseRepo(origin: string): string | null {
  let text = origin.trim();
  if (text === "" || CONTROL.test(text)) return null;
  let host = "";
  let path = "";
  const url = /^([a-z][a-z0-9+.-]*):\/\/(.*)$/i.exec(text);
  if (url) {
    const scheme = url[1]!.toLowerCase();
    const rest = url[2]!;
    if (scheme === "file") {
      path = rest.replace(/^[^/]*/, "");
    } else {
      const slash = rest.indexOf("/");
      const authority = slash < 0 ? rest : rest.slice(0, slash);
      path = slash < 0 ? "" : rest.slice(slash);
      host = authority.replace(/^.*@/, "").replace(/:\d*$/, "");
      // ssh://host:path is not valid URL syntax but git accepts `ssh://git@host:owner/repo`.
      const colon = host.indexOf(":");
      if (colon >= 0) {
        path = `/${host.slice(colon + 1)}${path}`;
        host = host.slice(0, colon);
      }
    }
  } else {
    // scp-like `user@host:path` (no slash before the colon), as ssh clones spell it.
    const scp = /^(?:[^@/]+@)?([^:/]+):(.*)$/.exec(text);
    if (scp && !/^[A-Za-z]$/.test(scp[1]!)) {
      host = scp[1]!;
      path = scp[2]!;
    } else {
      path = text;
    }
  }
  path = path
    .replace(/\\/g, "/")
    .replace(/\/+$/, "")
    .replace(/\.git$/i, "")
    .replace(/\/+$/, "");
  if (host !== "") path = path.replace(/^\/+/, "").replace(/^~[^/]*\//, "");
  if (host === "" && path === "") return null;
  text = host === "" ? path : path === "" ? host : `${host}/${path}`;
  return text.toLowerCase();
}

/** Two claims can meet: null on either side is a claim on every repository. */
export function reposMeet(a: string | null, b: string | null): boolean {
  return a === null || b === null || a === b;
}

/**
 * A claim applies in a checkout whose origin is `repo`: a claim without one applies everywhere; a
 * checkout without an origin (null) is no named repository, so only those apply there.
 */
export function appliesIn(claimRepo: string | null, repo: string | null): boolean {
  return claimRepo === null || claimRepo === repo;
}

// ---------------------------------------------------------------------------------------------
// Conflicts, expiry and renewal
// ---------------------------------------------------------------------------------------------

export function isLive(claim: Claim, now: number): boolean {
  return Date.parse(claim.expires_at) > now;
}

/** A claim being asked for: by whom, on what, where, and how. */
export interface ClaimRequest {
  peer: string;
  pattern: string;
  repo: string | null;
  exclusive: boolean;
}

/**
 * Whether `existing` stands in the way of `request`: another peer's live claim, in a repository
 * the request also covers, on an overlapping pattern, with at least one side exclusive. Shared
 * claims sit together; a peer's own claims never stand in its way.
 */
export function conflicts(request: ClaimRequest, existing: Claim, now: number): boolean {
  return (
    existing.peer !== request.peer &&
    isLive(existing, now) &&
    (request.exclusive || existing.exclusive) &&
    reposMeet(existing.repo, request.repo) &&
    patternsOverlap(existing.pattern, request.pattern)
  );
}

export function findConflicts(request: ClaimRequest, claims: readonly Claim[], now: number): ClaimConflict[] {
  return claims.filter((claim) => conflicts(request, claim, now)).map((claim) => ({ requested: request.pattern, claim }));
}

/**
 * Other peers' live exclusive claims in `repo` that cover the repository-relative `path`: what
 * the guards refuse an edit or a commit over. Shared claims never block.
 */
export function blockingClaims(path: string, repo: string | null, peer: string, claims: readonly Claim[], now: number): ClaimConflict[] {
  return claims
    .filter((c) => c.peer !== peer && c.exclusive && isLive(c, now) && appliesIn(c.repo, repo) && claimCovers(c.pattern, path))
    .map((claim) => ({ requested: path, claim }));
}

/**
 * Other peers' live exclusive claims in `repo` that a git pathspec (repository-relative, with
 * git's `*` that crosses `/`) reaches into; null as the pathspec means the whole tree.
 */
export function claimsReachedBy(pathspec: string | null, repo: string | null, peer: string, claims: readonly Claim[], now: number): ClaimConflict[] {
  return claims
    .filter(
      (c) =>
        c.peer !== peer &&
        c.exclusive &&
        isLive(c, now) &&
        appliesIn(c.repo, repo) &&
        (pathspec === null || patternsOverlap(c.pattern, pathspec, { bIsPathspec: true })),
    )
    .map((claim) => ({ requested: pathspec ?? ".", claim }));
}

/**
 * The claim a grant stores. Claiming what one already holds (same peer, repository and
 * pattern) renews it: the expiry starts again from now, exclusive follows the new request, the
 * reason is replaced when a new one is given, and `claimed_at` stays the first grant's.
 */
export function grantedClaim(
  request: ClaimRequest & { ttlMinutes: number; reason?: string },
  held: Claim | undefined,
  now: number,
): Claim {
  const ttl = Math.min(Math.max(1, Math.floor(request.ttlMinutes)), MAX_CLAIM_TTL_MINUTES);
  const renewing = held !== undefined && isLive(held, now);
  const reason = request.reason ?? (renewing ? held.reason : undefined);
  const claim: Claim = {
    peer: request.peer,
    repo: request.repo,
    pattern: request.pattern,
    exclusive: request.exclusive,
    claimed_at: renewing ? held.claimed_at : new Date(now).toISOString(),
    expires_at: new Date(now + ttl * 60_000).toISOString(),
  };
  if (reason !== undefined && reason !== "") claim.reason = reason;
  return claim;
}

// ---------------------------------------------------------------------------------------------
// Words: one wording for the tools, the guards and the terminal
// ---------------------------------------------------------------------------------------------

/** `14 min`, `2 h 5 min`: how long until `iso` from `now`. */
export function timeLeft(iso: string, now: number): string {
  const minutes = Math.max(0, Math.ceil((Date.parse(iso) - now) / 60_000));
  if (minutes < 60) return `${minutes} min`;
  return `${Math.floor(minutes / 60)} h${minutes % 60 === 0 ? "" : ` ${minutes % 60} min`}`;
}

/** `alice holds src/** (exclusive, github.com/acme/app) until 10:40 UTC, 52 min from now: "refactoring"`. */
export function describeClaim(claim: Claim, now: number): string {
  const where = claim.repo === null ? "every repository" : claim.repo;
  const until = claim.expires_at.slice(11, 16);
  const why = claim.reason === undefined ? "no reason given" : JSON.stringify(claim.reason);
  return `${claim.peer} holds ${claim.pattern} (${claim.exclusive ? "exclusive" : "shared"}, ${where}) until ${until} UTC, ${timeLeft(claim.expires_at, now)} from now: ${why}`;
}

/**
 * A claim as a model reads it in a tool result: only the fields that say something. No `repo`
 * means every repository; `shared: true` marks a claim that is not exclusive.
 */
export function compactClaim(claim: Claim): Record<string, string | boolean> {
  return {
    peer: claim.peer,
    pattern: claim.pattern,
    ...(claim.repo !== null && { repo: claim.repo }),
    ...(!claim.exclusive && { shared: true }),
    ...(claim.reason !== undefined && { reason: claim.reason }),
    expires_at: claim.expires_at,
  };
}

/** What an agent can do about claims in its way, naming their holders. */
export function whatToDo(conflicts: readonly ClaimConflict[]): string {
  const holders = [...new Set(conflicts.map((c) => c.claim.peer))];
  const who = holders.join(" or ");
  return `Ask ${who} with ask_peer to release it or to make the change for you, work on other files meanwhile, or wait until the claim expires.`;
}

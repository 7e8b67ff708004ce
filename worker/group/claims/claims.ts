/**
 * Path claims in the group's SQLite: granting (and renewing), releasing, listing, expiring, and
 * dropping a revoked peer's claims. The rules (globs, overlap, conflicts, renewal) are the pure
 * functions of contract/claim-rules.ts; this module applies them to what is stored and words the
 * outcome for the model that asked. Every method is synchronous, so its reads and writes commit
 * as one transaction (the Durable Object's input/output gates): two peers claiming the same path
 * at once are serialised, and the second sees the first's claim.
 */
import {
  type Claim,
  type ClaimConflict,
  type ClaimPathsRequest,
  describeClaim,
  findConflicts,
  grantedClaim,
  type ListClaimsRequest,
  normaliseClaimPattern,
  normaliseRepo,
  whatToDo,
} from "../../../contract/claims.ts";
import { MAX_CLAIMS_PER_GROUP, MAX_CLAIMS_PER_PEER } from "../../../contract/limits.ts";
import { singleLine } from "../../../contract/names.ts";
import { type Caller, fail, ok, type Outcome } from "../types.ts";

/** The claims table, as a migration for worker/group/schema.ts's list. */
export function claimsMigration(): string[] {
  return [
    // One row per peer, repository and pattern: claiming it again renews the row. repo '' is a
    // claim on every repository (NULL would make the primary key let duplicates in).
    `CREATE TABLE claims (
       peer TEXT NOT NULL,
       repo TEXT NOT NULL DEFAULT '',
       pattern TEXT NOT NULL,
       exclusive INTEGER NOT NULL,
       reason TEXT NOT NULL DEFAULT '',
       claimed_at INTEGER NOT NULL,
       expires_at INTEGER NOT NULL,
       PRIMARY KEY (peer, repo, pattern)
     )`,
    `CREATE INDEX claims_by_expiry ON claims (expires_at)`,
  ];
}

interface ClaimRow extends Record<string, SqlStorageValue> {
  peer: string;
  repo: string;
  pattern: string;
  exclusive: number;
  reason: string;
  claimed_at: number;
  expires_at: number;
}

function toClaim(row: ClaimRow): Claim {
  const claim: Claim = {
    peer: row.peer,
    repo: row.repo === "" ? null : row.repo,
    pattern: row.pattern,
    exclusive: row.exclusive === 1,
    claimed_at: new Date(row.claimed_at).toISOString(),
    expires_at: new Date(row.expires_at).toISOString(),
  };
  if (row.reason !== "") claim.reason = row.reason;
  return claim;
}

/** What claim_paths answers: what was granted (or renewed), and every claim in the way of the rest. */
export interface ClaimGrant {
  granted: Claim[];
  conflicts: ClaimConflict[];
  /** Present when something was refused: what to do about it, naming the holders. */
  advice?: string;
}

export interface ClaimRelease {
  released: Claim[];
  /** Patterns named that the peer held no live claim on. */
  not_held?: string[];
}

export class GroupClaims {
  private readonly sql: SqlStorage;

  constructor(storage: DurableObjectStorage) {
    this.sql = storage.sql;
  }

  private live(now: number, where = "", ...binds: SqlStorageValue[]): Claim[] {
    return this.sql
      .exec<ClaimRow>(`SELECT * FROM claims WHERE expires_at > ?1 ${where} ORDER BY peer, repo, pattern`, now, ...binds)
      .toArray()
      .map(toClaim);
  }

  /**
   * Grants each path that no other peer's live claim stands in the way of, renewing those the
   * peer already holds; the rest come back as conflicts. Nothing is stored when a limit refuses.
   */
  grant(peer: string, input: ClaimPathsRequest, now: number): Outcome<ClaimGrant> {
    const repo = input.repo === undefined ? null : normaliseRepo(input.repo);
    if (input.repo !== undefined && repo === null) {
      return fail("invalid_input", `'${input.repo}' names no repository. Pass the output of \`git remote get-url origin\`, or leave repo out to claim in every repository.`);
    }
    const reason = input.reason === undefined ? undefined : singleLine(input.reason);
    this.expire(now);
    const live = this.live(now);
    const held = new Map(live.filter((c) => c.peer === peer).map((c) => [`${c.repo ?? ""}\n${c.pattern}`, c]));
    const granted: Claim[] = [];
    const conflicts: ClaimConflict[] = [];
    for (const pattern of new Set(input.paths.map(normaliseClaimPattern))) {
      const request = { peer, pattern, repo, exclusive: input.exclusive };
      const inTheWay = findConflicts(request, live, now);
      if (inTheWay.length > 0) {
        conflicts.push(...inTheWay);
        continue;
      }
      const before = held.get(`${repo ?? ""}\n${pattern}`);
      granted.push(grantedClaim({ ...request, ttlMinutes: input.ttl_minutes, ...(reason !== undefined && { reason }) }, before, now));
    }

    const added = granted.filter((c) => !held.has(`${c.repo ?? ""}\n${c.pattern}`)).length;
    if (held.size + added > MAX_CLAIMS_PER_PEER) {
      return fail(
        "quota_exceeded",
        `You hold ${held.size} claims and this would add ${added}; each peer may hold ${MAX_CLAIMS_PER_PEER}. Nothing was claimed. Release what you are done with (release_paths), or claim a directory instead of many files.`,
      );
    }
    if (live.length + added > MAX_CLAIMS_PER_GROUP) {
      return fail(
        "quota_exceeded",
        `The group holds ${live.length} claims, the most it keeps is ${MAX_CLAIMS_PER_GROUP}. Nothing was claimed. Claim a directory instead of many files, or ask the team to release claims they are done with.`,
      );
    }

    for (const claim of granted) {
      this.sql.exec(
        `INSERT INTO claims (peer, repo, pattern, exclusive, reason, claimed_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
         ON CONFLICT (peer, repo, pattern) DO UPDATE SET exclusive = ?4, reason = ?5, claimed_at = ?6, expires_at = ?7`,
        claim.peer,
        claim.repo ?? "",
        claim.pattern,
        claim.exclusive ? 1 : 0,
        claim.reason ?? "",
        Date.parse(claim.claimed_at),
        Date.parse(claim.expires_at),
      );
    }
    const result: ClaimGrant = { granted, conflicts };
    if (conflicts.length > 0) {
      const lines = conflicts.map((c) => `${c.requested}: ${describeClaim(c.claim, now)}.`);
      result.advice = `${granted.length === 0 ? "Nothing was claimed" : "The rest was claimed"}; in the way: ${lines.join(" ")} ${whatToDo(conflicts)}`;
    }
    return ok(result);
  }

  /** Releases the peer's claims on these patterns (exactly as claimed, in any repository), or all of them. */
  release(peer: string, patterns: string[] | undefined, now: number): Outcome<ClaimRelease> {
    const mine = this.live(now, "AND peer = ?2", peer);
    if (patterns === undefined) {
      this.sql.exec(`DELETE FROM claims WHERE peer = ?1`, peer);
      return ok({ released: mine });
    }
    const wanted = new Set(patterns.map(normaliseClaimPattern));
    const released = mine.filter((c) => wanted.has(c.pattern));
    const notHeld = [...wanted].filter((p) => !released.some((c) => c.pattern === p));
    if (released.length === 0) {
      const yours = mine.map((c) => c.pattern);
      return fail(
        "not_found",
        `'${peer}' holds no live claim on ${[...wanted].join(", ")}. ${yours.length > 0 ? `Claims held: ${yours.join(", ")}.` : "No live claims are held."} Name patterns exactly as claimed (list_claims shows them), or leave paths out to release all.`,
      );
    }
    for (const pattern of wanted) this.sql.exec(`DELETE FROM claims WHERE peer = ?1 AND pattern = ?2`, peer, pattern);
    return ok(notHeld.length > 0 ? { released, not_held: notHeld } : { released });
  }

  /**
   * A lead releases another peer's claims (one who has gone quiet); anyone else is told how to
   * get them released instead.
   */
  releaseFor(caller: Caller, peer: string, patterns: string[] | undefined, now: number): Outcome<ClaimRelease> {
    if (peer === caller.peer) return this.release(peer, patterns, now);
    if (caller.role !== "lead") {
      return fail(
        "forbidden",
        `Only a lead may release another peer's claims. Ask ${peer} with ask_peer to release them (release_paths), or wait until they expire (list_claims shows when).`,
      );
    }
    return this.release(peer, patterns, now);
  }

  /** Live claims, optionally only those that apply in one repository or that one peer holds. */
  list(filter: ListClaimsRequest, now: number): Outcome<Claim[]> {
    const where: string[] = [];
    const binds: SqlStorageValue[] = [];
    if (filter.repo !== undefined) {
      const repo = normaliseRepo(filter.repo);
      if (repo === null) return fail("invalid_input", `'${filter.repo}' names no repository. Pass the output of \`git remote get-url origin\`, or leave repo out.`);
      // Claims without a repository apply in every one.
      binds.push(repo);
      where.push(`AND (repo = ?${binds.length + 1} OR repo = '')`);
    }
    if (filter.peer !== undefined) {
      binds.push(filter.peer);
      where.push(`AND peer = ?${binds.length + 1}`);
    }
    return ok(this.live(now, where.join(" "), ...binds));
  }

  /** Deletes claims that have run out; returns how many. Idempotent (the alarm may run it twice). */
  expire(now: number): number {
    return this.sql.exec(`DELETE FROM claims WHERE expires_at <= ?1 RETURNING 1`, now).toArray().length;
  }

  /** Drops every claim of a peer whose token was revoked: nobody is left to release them. */
  releaseAllOf(peer: string): number {
    return this.sql.exec(`DELETE FROM claims WHERE peer = ?1 RETURNING 1`, peer).toArray().length;
  }

  /** When the next claim runs out (epoch ms), for the alarm; null when none is held. */
  nextExpiry(): number | null {
    return this.sql.exec<{ next: number | null }>(`SELECT MIN(expires_at) AS next FROM claims`).one().next;
  }
}

/**
 * The claims feature as the group's RPCs reach it: who may claim (the write rules every send
 * obeys), who may release someone else's claims (a lead, and only a peer that has gone quiet),
 * the guards' view, and keeping the object's one alarm set while claims are held so expired rows
 * are deleted. The rules and the SQL are claims.ts.
 */
import type { Claim, ClaimPathsRequest, ListClaimsRequest } from "../../../contract/claims.ts";
import type { Peers } from "../peers/peers.ts";
import { type Caller, fail, ok, type Outcome, type Problem } from "../types.ts";
import { type ClaimGrant, type ClaimRelease, GroupClaims } from "./claims.ts";

/**
 * A peer is quiet when it has no live socket and has made no call for this long: a lead may then
 * release its claims. Thirty minutes is longer than any pause a working session takes between
 * tool calls, and far shorter than the default claim (an hour), so a crashed session's claims do
 * not hold the team up for long.
 */
export const QUIET_AFTER_MS = 30 * 60_000;

export interface ClaimCallsDeps {
  storage: DurableObjectStorage;
  peers: Peers;
  online: (peer: string, now: number) => boolean;
  writeRefusal: (caller: Caller) => Problem | null;
}

/** The caller's peer name and the group's live claims: what the bridge's guards decide with. */
export interface ClaimsView {
  peer: string;
  claims: Claim[];
}

export class ClaimCalls {
  readonly claims: GroupClaims;
  private readonly deps: ClaimCallsDeps;

  constructor(deps: ClaimCallsDeps) {
    this.deps = deps;
    this.claims = new GroupClaims(deps.storage);
  }

  /** claim_paths: observers and, while the group is paused, everyone but a lead are refused like sends. */
  claim(caller: Caller, input: ClaimPathsRequest): Outcome<ClaimGrant> {
    const refused = this.deps.writeRefusal(caller);
    if (refused) return { ok: false, problem: refused };
    const now = Date.now();
    this.deps.peers.touch(caller, now);
    const outcome = this.claims.grant(caller.peer, input, now);
    // The output gate holds the answer until the alarm is stored; a failure is retried on the next grant.
    if (outcome.ok && outcome.value.granted.length > 0) void this.scheduleExpiry().catch(() => {});
    return outcome;
  }

  /**
   * release_paths: the caller's own claims, or (`peer` named) another peer's, which only a lead
   * may release and only once that peer has gone quiet. Observers hold no claims to release.
   */
  release(caller: Caller, patterns: string[] | undefined, peer: string | undefined): Outcome<ClaimRelease> {
    const now = Date.now();
    this.deps.peers.touch(caller, now);
    const holder = peer ?? caller.peer;
    if (holder !== caller.peer && caller.role === "lead") {
      const busy = this.activeProblem(holder, now);
      if (busy) return { ok: false, problem: busy };
    }
    return this.claims.releaseFor(caller, holder, patterns, now);
  }

  /** Why `peer` is not quiet (still connected or seen lately), or null when a lead may release its claims. */
  private activeProblem(peer: string, now: number): Problem | null {
    const row = this.deps.peers.store.peer(peer);
    const idleMs = row === undefined ? Infinity : now - row.last_seen;
    if (!this.deps.online(peer, now) && idleMs >= QUIET_AFTER_MS) return null;
    const seen = row === undefined ? "" : ` (last seen ${Math.floor(idleMs / 60_000)} min ago)`;
    return {
      code: "forbidden",
      message: `${peer} is still active${seen}: a lead may release only the claims of a peer that has been quiet for ${QUIET_AFTER_MS / 60_000} minutes with no connection. Ask ${peer} with ask_peer to release them (release_paths), or wait until they expire.`,
    };
  }

  list(caller: Caller, filter: ListClaimsRequest): Outcome<Claim[]> {
    return this.claims.list(filter, Date.now());
  }

  /** For GET /groups/:group/claims: the caller as its token names it, and every live claim. */
  view(caller: Caller): Outcome<ClaimsView> {
    const listed = this.claims.list({}, Date.now());
    return listed.ok ? ok({ peer: caller.peer, claims: listed.value }) : fail(listed.problem.code, listed.problem.message);
  }

  /** For the web room: every live claim, and which holders are quiet (a lead may release theirs). */
  roomView(): Outcome<{ claims: Claim[]; quiet: string[] }> {
    const now = Date.now();
    const listed = this.claims.list({}, now);
    if (!listed.ok) return fail(listed.problem.code, listed.problem.message);
    const holders = [...new Set(listed.value.map((c) => c.peer))];
    return ok({ claims: listed.value, quiet: holders.filter((peer) => this.activeProblem(peer, now) === null) });
  }

  /**
   * On the object's alarm: deletes what ran out and keeps an alarm set for the next expiry. Reads
   * already ignore expired claims, so this only keeps the table small; it is idempotent.
   */
  async onAlarm(now: number): Promise<void> {
    this.claims.expire(now);
    await this.scheduleExpiry();
  }

  /** Moves the alarm forward to the next expiry when nothing earlier is set (the alarm is shared with housekeeping). */
  private async scheduleExpiry(): Promise<void> {
    const next = this.claims.nextExpiry();
    if (next === null) return;
    const current = await this.deps.storage.getAlarm();
    if (current === null || current > next) await this.deps.storage.setAlarm(next);
  }
}

/**
 * The peers feature: who may call (revocations), who is there (touch, leave), what they say about
 * themselves (profile), and which names are observers. Revocations, departures and observers are
 * read on every call and change rarely, so they are kept in memory and written through; the
 * constructor rebuilds them from SQLite after every wake-up.
 */
import { singleLine } from "../../../contract/names.ts";
import { ok, type Caller, type Outcome, type Problem } from "../types.ts";
import type { PeerInfo, Profile } from "./schemas.ts";
import type { Listener } from "../audience.ts";
import { toMinute } from "../rows.ts";
import { SlidingWindow } from "../throttle.ts";
import { type PeerRow, PeerStore } from "./store.ts";

/** A profile as it is stored and shown to every peer: each field on one line, empty ones dropped. */
function oneLineProfile(profile: Profile): Profile {
  const clean: Profile = {};
  for (const field of ["summary", "hostname", "cwd", "branch", "client"] as const) {
    const value = profile[field] === undefined ? "" : singleLine(profile[field]);
    if (value !== "") clean[field] = value;
  }
  return clean;
}

export class Peers {
  readonly store: PeerStore;
  private readonly revokedBefore: Map<string, number>;
  private readonly left: Set<string>;
  readonly observers: Set<string>;
  /** The minute each peer's last_seen was last written in: shown to the minute, so a send within it skips the write. */
  private readonly seenIn = new Map<string, number>();
  /** register/set_state calls per peer: a flood of profile and board writes is throttled like sends. */
  private readonly writes: SlidingWindow;
  private readonly online: (peer: string, now: number) => boolean;

  constructor(sql: SqlStorage, writeLimit: { count: number; windowMs: number }, online: (peer: string, now: number) => boolean) {
    this.store = new PeerStore(sql);
    this.revokedBefore = this.store.revocations();
    this.left = new Set(this.store.leftPeerNames());
    this.observers = this.store.observerNames();
    this.writes = new SlidingWindow(writeLimit.count, writeLimit.windowMs);
    this.online = online;
  }

  /** The one identity check every call makes: null when the caller's token is still good. */
  revokedProblem(caller: Caller): Problem | null {
    const before = this.revokedBefore.get(caller.peer);
    if (before === undefined || caller.iat >= before) return null;
    return {
      code: "revoked",
      message: `This token for peer '${caller.peer}' was revoked. Ask your team for a new token (npm run -s token -- --group ${caller.group} --peer ${caller.peer}).`,
    };
  }

  /** Why a socket's token is no longer good, or null. */
  invalidReason(token: { peer: string; iat: number; exp?: number }, now: number): "revoked" | "expired" | null {
    if ((this.revokedBefore.get(token.peer) ?? 0) > token.iat) return "revoked";
    return token.exp !== undefined && token.exp <= now ? "expired" : null;
  }

  listener(peer: string): Listener {
    return { name: peer, left: this.left.has(peer) };
  }

  isObserver(peer: string): boolean {
    return this.observers.has(peer);
  }

  /** Records that the caller is alive (creating it on first sight); `rejoin` undoes leave_group. */
  touch(caller: Caller, now: number, rejoin = false): PeerRow {
    if (rejoin) this.left.delete(caller.peer);
    const row = this.store.touch(caller.peer, now, rejoin);
    this.seenIn.set(caller.peer, toMinute(now));
    this.followRole(caller);
    return row;
  }

  /**
   * touch() for a caller whose row is not needed (a send): skipped when it would change nothing
   * anyone can see, the peer already known this minute, present and in the same role.
   */
  seen(caller: Caller, now: number, rejoin: boolean): void {
    const unchanged =
      this.seenIn.get(caller.peer) === toMinute(now) && !(rejoin && this.left.has(caller.peer)) && (caller.role === "observer") === this.observers.has(caller.peer);
    if (!unchanged) this.touch(caller, now, rejoin);
  }

  /**
   * The observers table follows the token the peer last used: a plain token after an observer one
   * makes the name a plain peer again. Written only when that changes.
   */
  private followRole(caller: Caller): void {
    const observer = caller.role === "observer";
    if (observer === this.observers.has(caller.peer)) return;
    this.store.setObserver(caller.peer, observer);
    if (observer) this.observers.add(caller.peer);
    else this.observers.delete(caller.peer);
  }

  /** Refuses a register/set_state call past the per-peer write limit; nothing is changed then. */
  writeThrottled(peer: string, now: number): Problem | null {
    if (this.writes.allow(peer, now)) return null;
    return {
      code: "rate_limited",
      message: `Slow down: at most ${this.writes.count} register/set_state calls per ${this.writes.windowMs / 1000} s per peer. Nothing was changed; try again in a few seconds.`,
    };
  }

  register(caller: Caller, profile: Profile): Outcome<PeerInfo> {
    const now = Date.now();
    const throttled = this.writeThrottled(caller.peer, now);
    if (throttled) return { ok: false, problem: throttled };
    const stored = JSON.parse(this.touch(caller, now, true).profile) as Profile;
    // The client is said once, by setup; a register that names only it keeps the rest, and one
    // that leaves it out keeps it.
    const onlyClient = profile.client !== undefined && Object.values({ ...profile, client: undefined }).every((v) => v === undefined);
    const merged = onlyClient ? { ...stored, client: profile.client } : { ...profile, client: profile.client ?? stored.client };
    const row = this.store.setProfile(caller.peer, oneLineProfile(merged));
    return ok(PeerStore.peerInfo(row, this.online(caller.peer, now)));
  }

  /** The peers who have not left, observers flagged. */
  list(caller: Caller): PeerInfo[] {
    const now = Date.now();
    this.touch(caller, now);
    return this.store.presentPeers().map((row) => ({
      ...PeerStore.peerInfo(row, this.online(row.name, now)),
      ...(this.observers.has(row.name) && { observer: true as const }),
    }));
  }

  leave(caller: Caller): void {
    this.touch(caller, Date.now());
    this.store.markLeft(caller.peer);
    this.left.add(caller.peer);
  }

  /** Refuses every token for `peer` issued before `before`. */
  revoke(peer: string, before: number): void {
    this.store.revoke(peer, before);
    this.revokedBefore.set(peer, Math.max(before, this.revokedBefore.get(peer) ?? 0));
  }

  /** Whether the name is someone's already: a peer the group has seen, or one with revoked tokens. */

  /**
   * Makes `name` a peer of the group as of `now`, voiding every token issued for it before: a
   * token minted for this name earlier but never used would otherwise speak as the same peer.
   */
  claim(name: string, now: number): void {
    this.store.touch(name, now);
    this.seenIn.set(name, toMinute(now));
    this.revoke(name, now);
  }
}

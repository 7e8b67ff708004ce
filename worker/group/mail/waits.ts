/**
 * Tool calls parked in the group object until mail they want arrives: wait_for_messages waits for
 * any mail the peer hears about, ask_peer for the reply to one question. Plain in-memory state
 * with no platform imports, so it is tested in Node (tests/unit/waits.test.ts) as well as
 * through the object. If the object restarts, every parked call's RPC fails and the tool asks
 * again; storage, not this map, is what says whether mail arrived.
 *
 * Waking is targeted: a message wakes the one reply waiter for its question and, for each peer
 * that hears it, that peer's oldest mail waiter. One message is one read, so waking every parked
 * call of every peer (a thundering herd) would only send all but one straight back to waiting.
 */
import { MAX_WAITS_PER_PEER } from "../../../contract/limits.ts";
import { ok, type Message, type Outcome, type Problem } from "../types.ts";
import { hears, type Listener } from "../audience.ts";

interface Waiter<T> {
  peer: string;
  iat: number;
  settle(value: T | null): void;
}

interface ReplyWaiter extends Waiter<Message> {
  from: string;
}

export class ParkedWaits {
  /** Mail waiters by peer, oldest first. */
  private readonly mail = new Map<string, Waiter<true>[]>();
  /** Reply waiters by question id (ids are unique, and one ask waits for each question). */
  private readonly replies = new Map<string, ReplyWaiter>();
  private readonly perPeer = new Map<string, number>();

  /** Refuses when the peer already has MAX_WAITS_PER_PEER calls parked: each holds a connection open. */
  capacityProblem(peer: string): Problem | null {
    const parked = this.perPeer.get(peer) ?? 0;
    if (parked < MAX_WAITS_PER_PEER) return null;
    return {
      code: "too_many_waits",
      message: `You already have ${parked} ask_peer / wait_for_messages calls waiting; the limit is ${MAX_WAITS_PER_PEER}. Wait for one to finish.`,
    };
  }

  /** Resolves true when mail the peer hears about arrives, null at the timeout or on revocation. */
  forMail(peer: string, iat: number, timeoutMs: number): Outcome<Promise<true | null>> {
    const full = this.capacityProblem(peer);
    if (full) return { ok: false, problem: full };
    return ok(
      this.park<true>(peer, timeoutMs, (settle) => {
        const waiter: Waiter<true> = { peer, iat, settle };
        const queue = this.mail.get(peer) ?? [];
        queue.push(waiter);
        this.mail.set(peer, queue);
        return () => {
          const remaining = (this.mail.get(peer) ?? []).filter((w) => w !== waiter);
          if (remaining.length > 0) this.mail.set(peer, remaining);
          else this.mail.delete(peer);
        };
      }),
    );
  }

  /** Resolves with `from`'s reply to `questionId`, or null at the timeout or on revocation. */
  forReply(peer: string, iat: number, questionId: string, from: string, timeoutMs: number): Outcome<Promise<Message | null>> {
    const full = this.capacityProblem(peer);
    if (full) return { ok: false, problem: full };
    // A retried ask (its first RPC died with an object restart) supersedes the one still parked.
    this.replies.get(questionId)?.settle(null);
    return ok(
      this.park<Message>(peer, timeoutMs, (settle) => {
        const waiter: ReplyWaiter = { peer, iat, from, settle };
        this.replies.set(questionId, waiter);
        return () => {
          if (this.replies.get(questionId) === waiter) this.replies.delete(questionId);
        };
      }),
    );
  }

  /** Wakes the calls `message` concerns. `listener` says whether a parked peer has left the group. */
  deliver(message: Message, listener: (peer: string) => Listener): void {
    const reply = message.reply_to === null ? undefined : this.replies.get(message.reply_to);
    if (reply && reply.from === message.from && (message.to === reply.peer || message.to === null)) reply.settle(message);
    const peers = message.to !== null ? [message.to] : [...this.mail.keys()];
    for (const peer of peers) {
      if (hears(listener(peer), message)) this.mail.get(peer)?.[0]?.settle(true);
    }
  }

  /** Ends the parked calls of tokens for `peer` issued before `before` (revocation). */
  endFor(peer: string, before: number): void {
    const ending: Waiter<unknown>[] = [...(this.mail.get(peer) ?? []), ...[...this.replies.values()].filter((w) => w.peer === peer)];
    for (const waiter of ending) if (waiter.iat < before) waiter.settle(null);
  }

  counts(): { mail: number; reply: number } {
    let mail = 0;
    for (const queue of this.mail.values()) mail += queue.length;
    return { mail, reply: this.replies.size };
  }

  private park<T>(peer: string, timeoutMs: number, register: (settle: (value: T | null) => void) => () => void): Promise<T | null> {
    this.perPeer.set(peer, (this.perPeer.get(peer) ?? 0) + 1);
    return new Promise<T | null>((resolve) => {
      let settled = false;
      const settle = (value: T | null) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        unregister();
        const left = (this.perPeer.get(peer) ?? 1) - 1;
        if (left > 0) this.perPeer.set(peer, left);
        else this.perPeer.delete(peer);
        resolve(value);
      };
      const timer = setTimeout(() => settle(null), timeoutMs);
      const unregister = register(settle);
    });
  }
}

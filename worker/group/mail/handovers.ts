/**
 * Mail handed to a client but not yet known to have reached it. A read does not mark mail read:
 * it hands the mail over and keeps it out of the peer's other reads for a short lease. The Worker
 * confirms the handover once the response carrying the mail has been written to the client
 * (worker/mcp/handover.ts), and only then is the mail marked read. A handover that is released
 * (the client went away) or never confirmed (the client or the relay died) simply lapses, and the
 * mail is unread again: reads are at-least-once, never at-most-once.
 *
 * Kept in memory on purpose: if the object restarts, every lease is gone and all unconfirmed mail
 * is unread again, which is exactly what a lost response needs.
 */
import { HANDOVER_LEASE_MS } from "../../../contract/limits.ts";

export class Handovers {
  /** Per peer: leased seq -> when the lease ends. */
  private readonly leases = new Map<string, Map<number, number>>();

  /** Keeps `seqs` out of `peer`'s other reads for HANDOVER_LEASE_MS. */
  lease(peer: string, seqs: readonly number[], now: number): void {
    if (seqs.length === 0) return;
    const mine = this.leases.get(peer) ?? new Map<number, number>();
    for (const seq of seqs) mine.set(seq, now + HANDOVER_LEASE_MS);
    this.leases.set(peer, mine);
  }

  /** Seqs currently leased to `peer`: another read of the same peer skips them. */
  leased(peer: string, now: number): number[] {
    const mine = this.leases.get(peer);
    if (!mine) return [];
    for (const [seq, until] of mine) if (until <= now) mine.delete(seq);
    if (mine.size === 0) this.leases.delete(peer);
    return [...mine.keys()];
  }

  /** The seqs leased to `peer` at or below `through` (what a client's ack confirms). */
  leasedThrough(peer: string, through: number): number[] {
    return [...(this.leases.get(peer)?.keys() ?? [])].filter((seq) => seq <= through);
  }

  /** Ends the leases on `seqs`, confirmed or released. */
  end(peer: string, seqs: readonly number[]): void {
    const mine = this.leases.get(peer);
    if (!mine) return;
    for (const seq of seqs) mine.delete(seq);
    if (mine.size === 0) this.leases.delete(peer);
  }
}

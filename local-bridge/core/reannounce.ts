/**
 * Announcing unread mail once more. A notice typed into a session can go unheeded: the model was
 * mid-task and moved on, or the session's relay tools were gone (after a relay restart Claude Code
 * shows "MCP server 'relay' has disconnected" until someone reconnects). Mail still unread
 * REANNOUNCE_AFTER_MS after its notice is announced again, once; mail read meanwhile (a `read`
 * frame) never is. Bounded: at most MAX_WATCHED notices are watched, the oldest dropped first.
 */
import type { NoticeFrame, ReadFrame } from "../../contract/frames.ts";

export const REANNOUNCE_AFTER_MS = 10 * 60_000;
/** How often the bridge looks for mail due again. */
export const REANNOUNCE_CHECK_MS = 30_000;
const MAX_WATCHED = 1_000;

export class Reannouncer {
  /** seq -> the notice and when it was announced; only notices announced exactly once. */
  private readonly watched = new Map<number, { frame: NoticeFrame; at: number }>();
  private readonly afterMs: number;

  constructor(afterMs = REANNOUNCE_AFTER_MS) {
    this.afterMs = afterMs;
  }

  /** A batch landed in the session. A repeat (`again`) is not watched: nothing is announced a third time. */
  delivered(batch: readonly NoticeFrame[], now: number, again: boolean): void {
    for (const frame of batch) {
      if (again) this.watched.delete(frame.seq);
      else if (!this.watched.has(frame.seq)) this.watched.set(frame.seq, { frame, at: now });
    }
    while (this.watched.size > MAX_WATCHED) this.watched.delete(this.watched.keys().next().value!);
  }

  read(frame: ReadFrame): void {
    const outOfOrder = new Set(frame.seqs ?? []);
    for (const seq of this.watched.keys()) if (seq <= frame.through_seq || outOfOrder.has(seq)) this.watched.delete(seq);
  }

  /** Notices due again now, oldest first; each is handed out once. */
  due(now: number): NoticeFrame[] {
    const due: NoticeFrame[] = [];
    for (const [seq, { frame, at }] of this.watched) {
      if (now - at < this.afterMs) continue;
      due.push(frame);
      this.watched.delete(seq);
    }
    return due;
  }
}

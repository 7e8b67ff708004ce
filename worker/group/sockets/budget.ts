/**
 * Each socket's frame budget and its count of notices not yet acknowledged, for bridge and page
 * sockets alike. In memory: after a wake-up they start afresh, which only makes them more lenient,
 * and a socket that floods keeps the object awake, so its budget is never forgotten mid-flood.
 */
import { MAX_UNACKED_NOTICES, SOCKET_FRAME_BURST, SOCKET_FRAMES_PER_SECOND } from "../../../contract/limits.ts";

interface Budget {
  tokens: number;
  refilledAt: number;
  unacked: number;
}

export class FrameBudgets {
  private readonly budgets = new WeakMap<WebSocket, Budget>();

  /** Token bucket: SOCKET_FRAME_BURST at once, SOCKET_FRAMES_PER_SECOND after, plus acks owed. */
  spend(ws: WebSocket, now: number): boolean {
    const budget = this.of(ws, now);
    const refill = ((now - budget.refilledAt) / 1000) * SOCKET_FRAMES_PER_SECOND;
    budget.tokens = Math.max(budget.tokens, Math.min(SOCKET_FRAME_BURST, budget.tokens + refill));
    budget.refilledAt = now;
    if (budget.tokens < 1) return false;
    budget.tokens--;
    return true;
  }

  /**
   * A notice sent is an ack owed: each one adds a frame to the socket's budget, so a bridge that
   * acks every notice (as `--stdout` does) is never cut off however busy the group is.
   */
  owe(ws: WebSocket, notices: number, now: number): void {
    const budget = this.of(ws, now);
    budget.unacked += notices;
    budget.tokens = Math.min(budget.tokens + notices, SOCKET_FRAME_BURST + MAX_UNACKED_NOTICES);
  }

  /** Whether the socket has stopped acknowledging: nobody reads it, so nothing more is queued. */
  saturated(ws: WebSocket, now: number): boolean {
    return this.of(ws, now).unacked >= MAX_UNACKED_NOTICES;
  }

  acked(ws: WebSocket, now: number): void {
    this.of(ws, now).unacked = 0;
  }

  private of(ws: WebSocket, now: number): Budget {
    let budget = this.budgets.get(ws);
    if (!budget) {
      budget = { tokens: SOCKET_FRAME_BURST, refilledAt: now, unacked: 0 };
      this.budgets.set(ws, budget);
    }
    return budget;
  }
}

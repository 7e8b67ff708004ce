/**
 * Long waits (wait_for_messages, ask_peer) run inside the group object, which a deploy or an
 * eviction can restart mid-wait. These helpers end a wait on time and ask again after a restart.
 */
import type { Caller, Outcome } from "../types.ts";

/** When a wait must end: at its timeout, or when the caller's token expires, whichever is first. */
export function deadlineFor(caller: Caller, timeoutSeconds: number): number {
  return Math.min(Date.now() + timeoutSeconds * 1000, caller.exp ?? Number.POSITIVE_INFINITY);
}

/**
 * Errors the platform says a retry may fix: marked `retryable` (the object moved, a transient
 * fault) or `durableObjectReset` (the instance was reset: a deploy, an eviction, an abort), and
 * never `overloaded`, which a retry only makes worse. Our waits are safe to repeat: a mail wait
 * takes nothing, and an ask carries its question's id.
 */
function isRetryable(error: unknown): boolean {
  const flags = error as { retryable?: unknown; durableObjectReset?: unknown; overloaded?: unknown } | null;
  return (flags?.retryable === true || flags?.durableObjectReset === true) && flags.overloaded !== true;
}

/** Exponential backoff with jitter: half the step fixed, half random, so retries spread out. */
export function jitteredBackoffMs(failures: number, baseMs: number, capMs: number): number {
  const step = Math.min(capMs, baseMs * 2 ** Math.min(failures, 30));
  return step / 2 + Math.random() * (step / 2);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Runs `attempt` with whatever time is left before `deadline`. If the object restarts mid-wait the
 * call throws an error marked retryable; we ask again, backing off, and the object re-checks
 * storage first, so nothing that arrived in between is missed. Any other error, an overload
 * included, is not retried.
 */
export async function waitSurvivingRestarts<T>(deadline: number, attempt: (remainingMs: number) => Promise<Outcome<T>>): Promise<Outcome<T>> {
  for (let failures = 0; ; failures++) {
    try {
      return await attempt(Math.max(0, deadline - Date.now()));
    } catch (error) {
      if (!isRetryable(error)) throw error;
      if (Date.now() >= deadline) return attempt(0);
      console.warn("group object restarted during a wait; retrying", error instanceof Error ? error.message : error);
      await sleep(Math.min(jitteredBackoffMs(failures, 50, 2_000), Math.max(0, deadline - Date.now())));
    }
  }
}

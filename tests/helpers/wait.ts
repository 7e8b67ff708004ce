/**
 * Polls `check` until it returns something truthy, or fails with what was awaited. No fixed sleeps.
 * The default bound is there to fail a hang, not to judge speed: a busy two-core machine can take
 * seconds for what takes milliseconds on a quiet one.
 */
export async function waitFor<T>(
  check: () => T | Promise<T>,
  { timeoutMs = 30_000, intervalMs = 25, what = "condition" }: { timeoutMs?: number; intervalMs?: number; what?: string } = {},
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value) return value as NonNullable<T>;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${String(last)})` : ""}`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** Resolves after `ms`; only for asserting that something does NOT happen within a window. */
export function hold(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

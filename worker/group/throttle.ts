/**
 * A per-key sliding-window limit kept in memory. It guards against floods, so forgetting it on an
 * eviction costs at most one more window's worth, and it never touches storage: a refused call
 * must stay cheap.
 */
export class SlidingWindow {
  private readonly recent = new Map<string, number[]>();
  readonly count: number;
  readonly windowMs: number;

  constructor(count: number, windowMs: number) {
    this.count = count;
    this.windowMs = windowMs;
  }

  /** Records a use by `key` at `now` and returns true, or returns false when the window is full. */
  allow(key: string, now: number): boolean {
    const since = now - this.windowMs;
    const times = (this.recent.get(key) ?? []).filter((t) => t > since);
    const allowed = times.length < this.count;
    if (allowed) times.push(now);
    if (times.length > 0) this.recent.set(key, times);
    else this.recent.delete(key);
    return allowed;
  }
}

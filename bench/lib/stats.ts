/** Latency summaries: nearest-rank percentiles over the recorded samples, in milliseconds. */

export interface Summary {
  n: number;
  p50: number;
  p90: number;
  p99: number;
  min: number;
  max: number;
  mean: number;
}

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

const round = (value: number, digits = 2) => Math.round(value * 10 ** digits) / 10 ** digits;

export function summarize(samples: readonly number[]): Summary {
  const sorted = [...samples].sort((a, b) => a - b);
  const mean = sorted.reduce((sum, value) => sum + value, 0) / Math.max(1, sorted.length);
  return {
    n: sorted.length,
    p50: round(percentile(sorted, 50)),
    p90: round(percentile(sorted, 90)),
    p99: round(percentile(sorted, 99)),
    min: round(sorted[0] ?? Number.NaN),
    max: round(sorted.at(-1) ?? Number.NaN),
    mean: round(mean),
  };
}

export function ratio(value: number, floor: number): number {
  return round(value / floor);
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Milliseconds on a monotonic clock shared by everything in this process. */
export const now = () => performance.now();

export interface LoopOptions {
  /** Unrecorded rounds first (connection set-up, JIT, first object wake-up). */
  warmup: number;
  /** Recorded rounds wanted. */
  samples: number;
  /** Stop recording early once this many milliseconds have passed (at least `minSamples` kept). */
  budgetMs: number;
  /** Pause between rounds, so one round's trailing work (acks, logging) does not land in the next. */
  gapMs: number;
}

/**
 * Runs `round` sequentially: warm-up rounds, then recorded ones until `samples` or the budget.
 * Returns how many rounds were recorded.
 */
export async function loop(options: LoopOptions, round: (record: boolean, index: number) => Promise<void>): Promise<number> {
  const started = now();
  for (let i = 0; i < options.warmup; i++) {
    await round(false, i);
    await sleep(options.gapMs);
  }
  let recorded = 0;
  while (recorded < options.samples && now() - started < options.budgetMs) {
    await round(true, recorded);
    recorded++;
    await sleep(options.gapMs);
  }
  return recorded;
}

/**
 * Runs one relay trip and one floor trip in a random order, so neither always runs first (on a
 * warm or a cold cache, right after the other's GC): the pair sees the same machine noise.
 */
export async function interleaved(record: boolean, ...trips: [(record: boolean) => Promise<void>, (record: boolean) => Promise<void>]): Promise<void> {
  const [first, second] = Math.random() < 0.5 ? trips : [trips[1], trips[0]];
  await first(record);
  await second(record);
}

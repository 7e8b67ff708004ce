/** What every scenario gets from the runner, and what it hands back. */
import type { FloorServer } from "./servers.ts";
import type { Summary } from "./stats.ts";

/** The relay under test: `npm start` normally, or another wrangler config (--relay-config) for A/B. */
export interface BenchRelay {
  url: string;
  mint(group: string, peer: string): Promise<string>;
  output(): string;
  stop(): Promise<void>;
}

export interface BenchContext {
  relay: BenchRelay;
  floor: FloorServer;
  /** Extra wrangler vars the relay was started with (stated in the output). */
  relayVars: Record<string, string>;
  /** Figures of scenarios that already ran, by scenario name (the floor runs first). */
  done: Record<string, ScenarioOutput>;
  /** Milliseconds this scenario may take; scenarios cut their sample counts to stay inside. */
  budgetMs: number;
  log(message: string): void;
}

/** One line of the printed table. Latency rows carry a summary; others a plain value. */
export interface Row {
  metric: string;
  latency?: Summary;
  value?: string;
  /** e.g. "1.3x floor" */
  note?: string;
}

export interface ScenarioOutput {
  /** Everything measured, as written to results.json. */
  figures: Record<string, unknown>;
  rows: Row[];
  /** How it was measured, where that is not obvious: printed under the table and saved. */
  notes: string[];
  /**
   * Messages this scenario counted lost or duplicated, by what was counted. Any count above zero
   * fails the run (non-zero exit): a bench that loses mail must not pass quietly.
   */
  losses?: Record<string, number>;
}

export interface Scenario {
  name: string;
  title: string;
  /** Upper bound on this scenario's wall time, setup included. */
  budgetMs: number;
  run(ctx: BenchContext): Promise<ScenarioOutput>;
}

/**
 * The real bridge as a child process: `node local-bridge/cli.ts connect --url U --token T --stdout`,
 * which prints one JSON line per notice batch ({group, kind, from, count, seqs, …}). Each line's
 * arrival on our end of the pipe is timestamped on the bench's clock, so "delivery" ends when the
 * bridge has emitted the notice. Its ack record lives in a temporary XDG_STATE_HOME.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Arrivals } from "./clients.ts";
import { REPO_ROOT } from "./servers.ts";
import { now } from "./stats.ts";

let bridgeDir = join(REPO_ROOT, "local-bridge");

/** Runs the bridge from another copy of local-bridge/ (A/B of a bridge change: --bridge-dir). */
export function useBridgeDir(dir: string): void {
  bridgeDir = dir;
}

export function bridgeCli(): string {
  // A copy from before the bridge had folders keeps its CLI at the top.
  const nested = join(bridgeDir, "cli", "cli.ts");
  return existsSync(nested) ? nested : join(bridgeDir, "cli.ts");
}

export function bridgeAvailable(): boolean {
  return existsSync(bridgeCli());
}

/** How to start a bridge: the TypeScript CLI on this Node, or the bundle the bin ships. */
export interface BridgeForm {
  label: string;
  script: string;
}

export function bridgeForms(): BridgeForm[] {
  return [
    { label: "node local-bridge/cli.ts", script: bridgeCli() },
    // The bundle the package's `relay-bridge` bin runs (built on `npm install` by `prepare`).
    { label: "relay-bridge bin (dist bundle)", script: join(bridgeDir, "dist", "relay-bridge.mjs") },
  ];
}

export interface BridgeRecord {
  group: string;
  kind: string;
  from: string[];
  count: number;
  seqs: number[];
}

export class BridgeProcess {
  readonly arrivals = new Arrivals();
  readonly lines: BridgeRecord[] = [];
  private stderr = "";
  private readonly child: ChildProcess;

  private constructor(child: ChildProcess) {
    this.child = child;
  }

  get pid(): number {
    return this.child.pid!;
  }

  static start(relayUrl: string, token: string, script = bridgeCli()): BridgeProcess {
    const state = mkdtempSync(join(tmpdir(), "relay-bench-bridge-"));
    const child = spawn(process.execPath, [script, "connect", "--url", relayUrl, "--token", token, "--stdout", "--quiet"], {
      cwd: REPO_ROOT,
      env: { ...process.env, XDG_STATE_HOME: state },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const bridge = new BridgeProcess(child);
    let buffered = "";
    child.stdout!.setEncoding("utf8");
    child.stdout!.on("data", (chunk: string) => {
      const at = now();
      buffered += chunk;
      let newline: number;
      while ((newline = buffered.indexOf("\n")) >= 0) {
        const line = buffered.slice(0, newline);
        buffered = buffered.slice(newline + 1);
        if (!line.trim()) continue;
        const record = JSON.parse(line) as BridgeRecord;
        bridge.lines.push(record);
        for (const seq of record.seqs) bridge.arrivals.record(seq, at);
      }
    });
    child.stderr!.on("data", (chunk) => (bridge.stderr += chunk));
    return bridge;
  }

  output(): string {
    return this.stderr;
  }

  /**
   * Resolves once the bridge has emitted a notice, sending a probe (`probe` returns its seq) each
   * second until one arrives. One probe is not enough: sent before the bridge's hello, it is only
   * replayed if no other socket of the same peer has acked it meanwhile.
   */
  async ready(probe: () => Promise<number>, timeoutMs: number): Promise<void> {
    const deadline = now() + timeoutMs;
    for (;;) {
      const seq = await probe();
      try {
        await this.arrivals.wait(seq, 1_000, "bridge probe notice");
        return;
      } catch (error) {
        if (now() > deadline || this.exited()) throw new Error(`${(error as Error).message} (probing for ${timeoutMs} ms); bridge said: ${this.output().slice(-500)}`);
      }
    }
  }

  exited(): boolean {
    return this.child.exitCode !== null || this.child.signalCode !== null;
  }

  async stop(): Promise<void> {
    if (this.exited()) return;
    const exited = new Promise<void>((resolve) => this.child.once("exit", () => resolve()));
    this.child.kill("SIGTERM");
    const timer = setTimeout(() => this.child.kill("SIGKILL"), 5_000);
    await exited;
    clearTimeout(timer);
  }
}

/** CPU time (user + system) and resident memory of a process, from /proc. */
export interface ProcSample {
  at: number;
  cpuMs: number;
  rssMb: number;
}

const CLOCK_TICKS_PER_SECOND = 100; // USER_HZ on Linux

export function procSample(pid: number): ProcSample {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // Fields after the command name (which may hold spaces) start after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const rssKb = Number(/VmRSS:\s+(\d+)\s+kB/.exec(status)?.[1] ?? Number.NaN);
  return { at: now(), cpuMs: ((utime + stime) * 1000) / CLOCK_TICKS_PER_SECOND, rssMb: Math.round((rssKb / 1024) * 10) / 10 };
}

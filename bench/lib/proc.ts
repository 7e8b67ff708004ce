/**
 * CPU accounting from /proc: which processes serve a `wrangler dev` port, and how much CPU each
 * spends. Used to count the hops of a trip and what each costs, which a wall-clock figure on a
 * busy two-core machine cannot show.
 */
import { readdirSync, readFileSync } from "node:fs";

const TICK_MS = 10; // USER_HZ = 100 on Linux

export interface Proc {
  pid: number;
  role: string;
}

function stat(pid: number): { ppid: number; cpuMs: number } | null {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
    return { ppid: Number(fields[1]), cpuMs: (Number(fields[11]) + Number(fields[12])) * TICK_MS };
  } catch {
    return null;
  }
}

function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ");
  } catch {
    return "";
  }
}

/** CPU milliseconds (user + system) a process has used so far; NaN if it is gone. */
export function cpuMs(pid: number): number {
  return stat(pid)?.cpuMs ?? Number.NaN;
}

/**
 * The processes behind a `wrangler dev` on `port`: wrangler's Node process and its two workerd
 * processes (the entry one that owns the port and proxies, and the one running the user worker).
 */
export function wranglerProcesses(port: number): Proc[] {
  const pids = readdirSync("/proc").filter((d) => /^\d+$/.test(d)).map(Number);
  const entry = pids.find((pid) => cmdline(pid).includes("workerd") && cmdline(pid).includes(`entry=127.0.0.1:${port} `));
  if (entry === undefined) return [];
  const wrangler = stat(entry)?.ppid;
  if (wrangler === undefined) return [];
  const procs: Proc[] = [{ pid: wrangler, role: "wrangler (node)" }];
  for (const pid of pids) {
    if (stat(pid)?.ppid !== wrangler) continue;
    const cmd = cmdline(pid);
    if (!cmd.includes("workerd")) continue;
    procs.push({ pid, role: pid === entry ? "workerd entry proxy" : "workerd user worker" });
  }
  return procs;
}

/** Snapshot of CPU used by each process; diff two snapshots to get the cost of what ran between. */
export function cpuSnapshot(procs: Proc[]): Map<string, number> {
  const snapshot = new Map<string, number>();
  for (const p of procs) snapshot.set(p.role, (snapshot.get(p.role) ?? 0) + cpuMs(p.pid));
  const self = process.cpuUsage();
  snapshot.set("bench client (node)", (self.user + self.system) / 1000);
  return snapshot;
}

export function cpuDiff(before: Map<string, number>, after: Map<string, number>, trips: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [role, ms] of after) out[role] = Math.round(((ms - (before.get(role) ?? 0)) / trips) * 1000) / 1000;
  return out;
}

/** Jiffies the whole machine spent busy and in total so far (first line of /proc/stat). */
export function machineTicks(): { busy: number; total: number } {
  const fields = readFileSync("/proc/stat", "utf8").split("\n")[0]!.trim().split(/\s+/).slice(1).map(Number);
  const total = fields.reduce((a, b) => a + b, 0);
  const idle = (fields[3] ?? 0) + (fields[4] ?? 0); // idle + iowait
  return { busy: total - idle, total };
}

/** Share of all cores that was busy between two readings, in percent. */
export function busyPercent(before: { busy: number; total: number }, after: { busy: number; total: number }): number {
  return Math.round(((after.busy - before.busy) / Math.max(1, after.total - before.total)) * 1000) / 10;
}

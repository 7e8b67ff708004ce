/**
 * Bridge cost: the real bridge process (`connect --stdout`), connected and caught up, left idle for
 * 30 s (RSS and CPU from /proc every second), then made to handle 100 notices (CPU used from the
 * first send until it has emitted the hundredth). Measured in both forms a person runs it: the
 * TypeScript CLI on Node 22 (`node local-bridge/cli.ts`, type stripping at run time; for information) and the
 * bundle the package's `relay-bridge` bin points at, both on the bench's Node.
 */
import { existsSync } from "node:fs";
import { BridgeProcess, bridgeForms, bridgeAvailable, type ProcSample, procSample } from "../lib/bridge.ts";
import { dmWhenKnown, mcpClient, toolValue } from "../lib/clients.ts";
import type { Row, Scenario } from "../lib/context.ts";
import { now, sleep } from "../lib/stats.ts";

const IDLE_MS = 30_000;
const NOTICES = 100;
const round1 = (value: number) => Math.round(value * 10) / 10;

export const bridge: Scenario = {
  name: "bridge",
  title: "Bridge process (idle 30 s, then 100 notices)",
  budgetMs: 70_000,
  async run(ctx) {
    if (!bridgeAvailable()) {
      return { figures: { skipped: "local-bridge/cli.ts not found" }, rows: [{ metric: "bridge", value: "skipped: no local-bridge/cli.ts" }], notes: [] };
    }
    const notes: string[] = [];
    const forms = bridgeForms().filter((form) => {
      if (existsSync(form.script)) return true;
      notes.push(`${form.label}: ${form.script} not found (run \`npm run build:bridge\`); not measured.`);
      return false;
    });
    const group = "bench-bridge";
    const sender = await mcpClient(ctx.relay.url, await ctx.relay.mint(group, "poker"));
    const running = await Promise.all(
      forms.map(async (form, i) => ({ form, peer: `idler${i}`, process: BridgeProcess.start(ctx.relay.url, await ctx.relay.mint(group, `idler${i}`), form.script) })),
    );
    try {
      // Ready once each has emitted a notice (sent as soon as the relay knows the peer).
      for (const b of running) await b.process.arrivals.wait(await dmWhenKnown(sender, b.peer, "probe"), 20_000, "bridge probe notice");
      await sleep(2_000); // start-up work (module loading, JIT) is not idling

      // All forms idle through the same 30 s, each sampled from /proc every second.
      const samples = running.map((b) => [procSample(b.process.pid)] as ProcSample[]);
      const idleEnd = now() + IDLE_MS;
      while (now() < idleEnd) {
        await sleep(Math.min(1_000, Math.max(0, idleEnd - now())));
        running.forEach((b, i) => samples[i]!.push(procSample(b.process.pid)));
      }

      const figures: Record<string, unknown> = {};
      const rows: Row[] = [];
      for (const [i, b] of running.entries()) {
        const series = samples[i]!;
        const first = series[0]!;
        const last = series.at(-1)!;
        const idleSeconds = (last.at - first.at) / 1000;
        const idleCpuMs = last.cpuMs - first.cpuMs;
        const idleCpuPercent = Math.round((idleCpuMs / (idleSeconds * 1000)) * 100 * 100) / 100;
        const rssMax = Math.max(...series.map((s) => s.rssMb));

        // 100 notices, ten DMs in flight at a time, then wait for the hundredth line.
        const before = procSample(b.process.pid);
        const seqs: number[] = [];
        for (let n = 0; n < NOTICES; n += 10) {
          const batch = await Promise.all(
            Array.from({ length: Math.min(10, NOTICES - n) }, (_, j) =>
              sender.callTool({ name: "send_dm", arguments: { to: b.peer, text: `notice ${n + j}` } }),
            ),
          );
          seqs.push(...batch.map((r) => toolValue<{ seq: number }>(r).seq));
        }
        await Promise.all(seqs.map((seq) => b.process.arrivals.wait(seq, 15_000, "bridge notice")));
        const after = procSample(b.process.pid);
        const busyCpuMs = after.cpuMs - before.cpuMs;
        const busyMs = Math.round(after.at - before.at);
        const wanted = new Set(seqs);
        const lines = b.process.lines.filter((l) => l.seqs.some((s) => wanted.has(s))).length;
        const key = i === 0 ? "" : "bundle_";
        Object.assign(figures, {
          [`${key}form`]: b.form.label,
          [`${key}idle_seconds`]: round1(idleSeconds),
          [`${key}idle_cpu_ms`]: idleCpuMs,
          [`${key}idle_cpu_percent`]: idleCpuPercent,
          [`${key}idle_rss_max_mb`]: rssMax,
          [`${key}idle_rss_end_mb`]: last.rssMb,
          [`${key}busy_notices`]: NOTICES,
          [`${key}busy_notice_lines`]: lines,
          [`${key}busy_wall_ms`]: busyMs,
          [`${key}busy_cpu_ms`]: busyCpuMs,
          [`${key}busy_cpu_ms_per_notice`]: round1(busyCpuMs / NOTICES),
          [`${key}rss_after_notices_mb`]: after.rssMb,
        });
        rows.push({ metric: `${b.form.label}: idle 30 s`, value: `RSS ${rssMax} MB (max)`, note: `CPU ${idleCpuMs} ms = ${idleCpuPercent}% of one core` });
        rows.push({
          metric: `${b.form.label}: ${NOTICES} notices`,
          value: `${busyCpuMs} ms CPU in ${busyMs} ms`,
          note: `${round1(busyCpuMs / NOTICES)} ms per notice; RSS after ${after.rssMb} MB; ${lines} stdout lines`,
        });
      }
      figures.node = process.version;
      notes.push("CPU = utime + stime from /proc/<pid>/stat (10 ms ticks); RSS = VmRSS from /proc/<pid>/status; both forms on the bench's Node.");
      return { figures, rows, notes };
    } finally {
      await Promise.all(running.map((b) => b.process.stop()));
      await sender.close();
    }
  },
};

/**
 * Bundle: what `wrangler deploy --dry-run` would upload, as it reports it
 * ("Total Upload: X KiB / gzip: Y KiB"). Offline: dry-run bundles without contacting Cloudflare.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Scenario, ScenarioOutput } from "../lib/context.ts";
import { REPO_ROOT } from "../lib/servers.ts";

export interface BundleSize {
  total_kib: number;
  gzip_kib: number;
  command: string;
}

export async function bundleSize(timeoutMs = 90_000): Promise<BundleSize> {
  const outdir = mkdtempSync(join(tmpdir(), "relay-bench-bundle-"));
  const args = ["wrangler", "deploy", "--dry-run", "--outdir", outdir];
  try {
    const output = await new Promise<string>((resolve, reject) => {
      const child = spawn("npx", args, {
        cwd: REPO_ROOT,
        env: { ...process.env, WRANGLER_SEND_METRICS: "false", CI: "true", NO_COLOR: "1" },
        stdio: ["ignore", "pipe", "pipe"],
      });
      let text = "";
      child.stdout.on("data", (chunk) => (text += chunk));
      child.stderr.on("data", (chunk) => (text += chunk));
      const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
      child.on("exit", (code) => {
        clearTimeout(timer);
        if (code === 0) resolve(text);
        else reject(new Error(`wrangler deploy --dry-run exited with ${code}:\n${text.slice(-2000)}`));
      });
    });
    const match = /Total Upload:\s*([\d.]+)\s*KiB\s*\/\s*gzip:\s*([\d.]+)\s*KiB/.exec(output);
    if (!match) throw new Error(`no "Total Upload: X KiB / gzip: Y KiB" line in wrangler's output:\n${output.slice(-2000)}`);
    return { total_kib: Number(match[1]), gzip_kib: Number(match[2]), command: `npx ${args.slice(0, 3).join(" ")} --outdir <tmp>` };
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
}

function output(size: BundleSize): ScenarioOutput {
  return {
    figures: { ...size },
    rows: [{ metric: "worker bundle (wrangler deploy --dry-run)", value: `${size.gzip_kib} KiB gzip (${size.total_kib} KiB raw)` }],
    notes: [],
  };
}

export const bundle: Scenario & { fromBuild(result: BundleSize | Error): Promise<ScenarioOutput> } = {
  name: "bundle",
  title: "Bundle",
  budgetMs: 90_000,
  async run() {
    return output(await bundleSize(this.budgetMs));
  },
  async fromBuild(result) {
    if (result instanceof Error) throw result;
    return output(result);
  },
};

/**
 * The two servers the bench drives, both on `wrangler dev` (local workerd) the way a user runs
 * them: the relay through `npm start` (tests/helpers/relay-server.ts), and the floor worker in
 * bench/floor with the same flags. Each gets a free port and its own fresh storage directory.
 */
import { spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, REPO_ROOT, stopGroup } from "../../tests/helpers/relay-server.ts";

export { freePort, REPO_ROOT, startRelay, stopGroup, type RelayServer } from "../../tests/helpers/relay-server.ts";

export interface WranglerServer {
  url: string;
  /** The user worker's V8 inspector (Chrome DevTools Protocol), for profiling. */
  inspectorPort: number;
  output(): string;
  stop(): Promise<void>;
}

/**
 * `npx wrangler dev [-c config] --port P --ip 127.0.0.1 --persist-to <fresh tmp> --inspector-port Q`,
 * in its own process group, resolved once it answers HTTP at all.
 */
export async function startWrangler(
  options: { config?: string; vars?: Record<string, string>; timeoutMs?: number } = {},
): Promise<WranglerServer> {
  const port = await freePort();
  const inspectorPort = await freePort();
  const persistDir = mkdtempSync(join(tmpdir(), "relay-bench-state-"));
  const url = `http://127.0.0.1:${port}`;
  const args = ["wrangler", "dev", ...(options.config ? ["-c", options.config] : [])];
  args.push("--port", String(port), "--ip", "127.0.0.1", "--persist-to", persistDir);
  args.push("--inspector-port", String(inspectorPort), "--show-interactive-dev-session=false");
  for (const [key, value] of Object.entries(options.vars ?? {})) args.push("--var", `${key}:${value}`);
  const child = spawn("npx", args, {
    cwd: REPO_ROOT,
    detached: true,
    env: { ...process.env, WRANGLER_SEND_METRICS: "false", CI: "true", NO_COLOR: "1" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let log = "";
  child.stdout!.on("data", (chunk) => (log += chunk));
  child.stderr!.on("data", (chunk) => (log += chunk));
  const timeoutMs = options.timeoutMs ?? 90_000;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`wrangler dev exited with ${child.exitCode}:\n${log}`);
    try {
      await fetch(`${url}/`);
      break;
    } catch {
      if (Date.now() > deadline) {
        await stopGroup(child);
        throw new Error(`wrangler dev did not start within ${timeoutMs} ms:\n${log}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
  return { url, inspectorPort, output: () => log, stop: () => stopGroup(child) };
}

export type FloorServer = WranglerServer;

export function startFloor(): Promise<FloorServer> {
  return startWrangler({ config: "bench/floor/wrangler.toml" });
}

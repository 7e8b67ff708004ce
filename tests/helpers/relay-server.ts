/**
 * Starts the real relay the way a user does, `npm start` (wrangler dev on local workerd), on a
 * free port with its own storage directory, and mints tokens with the same secret it uses.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { signToken } from "../../contract/token.ts";
import { findSecret } from "../../scripts/secret.ts";

export const REPO_ROOT = fileURLToPath(new URL("../..", import.meta.url));

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => (typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port"))));
    });
  });
}

export interface RelayOptions {
  /** Storage directory; a fresh temporary one by default. Reuse it to restart on the same data. */
  persistDir?: string;
  /** Extra wrangler vars, e.g. { RATE_LIMIT_COUNT: "100000" }. */
  vars?: Record<string, string>;
  port?: number;
}

export interface RelayServer {
  url: string;
  port: number;
  persistDir: string;
  /** Everything the server printed, for failure messages. */
  output(): string;
  mint(group: string, peer: string, options?: { exp?: number; iat?: number }): Promise<string>;
  /** Stops the server (SIGTERM to its whole process group, SIGKILL after 5 s). */
  stop(): Promise<void>;
  /** Stops and starts again (`wrangler dev`, already built) on the same port and storage. */
  restart(): Promise<void>;
  /** SIGKILLs wrangler and workerd at once (no graceful shutdown), then starts them again. */
  crash(): Promise<void>;
}

/**
 * Stops a detached child and everything it started: SIGTERM to its process group (or SIGKILL at
 * once, for a crash), SIGKILL to what is left after 5 s. Waits for the whole group, not only the
 * child: npm exits on SIGTERM at once, and wrangler or workerd still starting up outlive it unless
 * they are waited for too.
 */
export async function stopGroup(child: ChildProcess, signal: "SIGTERM" | "SIGKILL" = "SIGTERM"): Promise<void> {
  const pid = child.pid;
  if (pid === undefined) return;
  const signalGroup = (name: NodeJS.Signals | 0): boolean => {
    try {
      process.kill(-pid, name);
      return true;
    } catch {
      return false;
    }
  };
  // A child killed by a signal has signalCode set and exitCode null: both mean "already gone".
  const exited =
    child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise<void>((resolve) => child.once("exit", () => resolve()));
  if (!signalGroup(signal)) return;
  const killAt = Date.now() + 5_000;
  // Signal 0 only asks whether any of the group is left; the cap is for a zombie nobody reaps.
  while (signalGroup(0) && Date.now() < killAt + 5_000) {
    if (Date.now() >= killAt) signalGroup("SIGKILL");
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  await exited;
}

async function waitForHealth(url: string, child: ChildProcess, log: () => string, timeoutMs = 90_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`the relay exited with ${child.exitCode}:\n${log()}`);
    try {
      const response = await fetch(`${url}/health`);
      if (response.ok) return;
    } catch {
      // Not listening yet.
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`relay did not become healthy within ${timeoutMs} ms:\n${log()}`);
}

/** A token for `peer` in `group`, signed with the secret every local relay uses (.dev.vars). */
export async function mintToken(group: string, peer: string, extra: { exp?: number; iat?: number } = {}): Promise<string> {
  const secret = findSecret();
  if (!secret) throw new Error("no RELAY_SECRET: npm start should have created .dev.vars");
  return signToken(secret, { g: group, p: peer, iat: extra.iat ?? Date.now(), ...(extra.exp ? { exp: extra.exp } : {}) });
}

export async function startRelay(options: RelayOptions = {}): Promise<RelayServer> {
  const port = options.port ?? (await freePort());
  const persistDir = options.persistDir ?? mkdtempSync(join(tmpdir(), "relay-state-"));
  const url = `http://127.0.0.1:${port}`;
  let child: ChildProcess;
  let log = "";

  let launched = false;
  const launch = async () => {
    const args = ["--port", String(port), "--ip", "127.0.0.1", "--persist-to", persistDir];
    args.push("--inspector-port", String(await freePort()), "--show-interactive-dev-session=false");
    for (const [key, value] of Object.entries(options.vars ?? {})) args.push("--var", `${key}:${value}`);
    // The first start is `npm start`, as a person runs it: it makes the secret, builds, then runs
    // `wrangler dev`. A restart runs only that last step, as `npm start` would after its build:
    // nothing to rebuild, and seconds saved on a busy machine. npm puts node_modules/.bin first
    // on PATH (wrangler needs the Node there); so does this.
    const [command, commandArgs] = launched ? ["wrangler", ["dev", ...args]] : ["npm", ["start", "--", ...args]];
    launched = true;
    child = spawn(command, commandArgs, {
      cwd: REPO_ROOT,
      // Own process group, so stop() reaches workerd too, not just npm.
      detached: true,
      env: { ...process.env, PATH: `${join(REPO_ROOT, "node_modules", ".bin")}:${process.env.PATH}`, WRANGLER_SEND_METRICS: "false", CI: "true", NO_COLOR: "1" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    child.stdout!.on("data", (chunk) => (log += chunk));
    child.stderr!.on("data", (chunk) => (log += chunk));
    await waitForHealth(url, child, () => log);
  };

  const stop = () => (child ? stopGroup(child) : Promise.resolve());
  // A test process that ends without its afterAll (a cancelled run) must not leave workerd behind.
  // The whole group, even when npm itself is gone: what it started may not be.
  process.once("exit", () => {
    if (child?.pid === undefined) return;
    try {
      process.kill(-child.pid, "SIGKILL");
    } catch {
      // Gone already.
    }
  });

  await launch();
  return {
    url,
    port,
    persistDir,
    output: () => log,
    mint: mintToken,
    stop,
    restart: async () => {
      await stop();
      await launch();
    },
    crash: async () => {
      await stopGroup(child, "SIGKILL");
      await launch();
    },
  };
}

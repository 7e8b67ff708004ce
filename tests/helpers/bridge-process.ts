/**
 * Runs `relay-bridge` (local-bridge/cli/cli.ts) as a real child process, the way a person or the
 * setup split does, and collects what it prints.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { NoticeRecord } from "../../local-bridge/core/notices.ts";

export const CLI = fileURLToPath(new URL("../../local-bridge/cli/cli.ts", import.meta.url));

export interface BridgeProcess {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Parsed `--stdout` records so far (complete lines only). */
  records(): NoticeRecord[];
  /** Resolves with the exit code (or the signal name) once the process ends. */
  exited: Promise<number | string>;
  stateDir: string;
}

export function startBridge(args: string[], env: Record<string, string | undefined> = {}, stateDir?: string): BridgeProcess {
  const dir = stateDir ?? mkdtempSync(join(tmpdir(), "bridge-state-"));
  const child = spawn(process.execPath, [CLI, ...args], {
    // Its own state and config directories: a test never reads or writes the person's own.
    env: { ...process.env, RELAY_URL: undefined, RELAY_TOKEN: undefined, XDG_STATE_HOME: dir, XDG_CONFIG_HOME: dir, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  child.stdout!.on("data", (chunk) => (out += chunk));
  child.stderr!.on("data", (chunk) => (err += chunk));
  const exited = new Promise<number | string>((resolve) => child.once("exit", (code, signal) => resolve(code ?? signal ?? -1)));
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    records: () =>
      out
        .split("\n")
        .slice(0, -1)
        .filter(Boolean)
        .map((line) => JSON.parse(line) as NoticeRecord),
    exited,
    stateDir: dir,
  };
}

/** Ends a bridge politely (SIGTERM), or for good after 5 s. */
export async function stopBridge(bridge: BridgeProcess): Promise<void> {
  if (bridge.child.exitCode !== null || bridge.child.signalCode !== null) return;
  bridge.child.kill("SIGTERM");
  const timer = setTimeout(() => bridge.child.kill("SIGKILL"), 5_000);
  await bridge.exited;
  clearTimeout(timer);
}

/**
 * One bridge per tmux pane. Two bridges typing into one Claude Code input box interleave their
 * keys, neither line gets its Enter, and the session stalls until a person clears it.
 *
 * The lock is a listening unix socket, `<runtime dir>/pane-<hash of tmux server + pane id>.sock`,
 * in a directory only this user can enter (0700). A listening socket dies with its process, however
 * it dies: the kernel closes it, and a connect to the leftover file is refused, which marks it
 * stale. A pid file would need a liveness check that a reused pid fools; an abstract socket
 * (Linux only) needs no file but any local user could connect to it and ask for a takeover.
 *
 * The holder answers every connection with `{"pid":N}` and, if the newcomer writes `takeover`,
 * calls its `onTakeover` (the bridge shuts down, which closes the socket), so `--takeover`
 * replaces a running bridge cleanly instead of killing it by pid.
 */
import { createHash } from "node:crypto";
import { chmodSync, mkdirSync, rmSync } from "node:fs";
import { connect, createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BridgeError } from "../core/errors.ts";

export function lockDir(env: NodeJS.ProcessEnv = process.env): string {
  const uid = typeof process.getuid === "function" ? process.getuid() : 0;
  return env.XDG_RUNTIME_DIR && env.XDG_RUNTIME_DIR.startsWith("/")
    ? join(env.XDG_RUNTIME_DIR, "claude-relay")
    : join(tmpdir(), `claude-relay-${uid}`);
}

/** `tmuxServer` tells panes of different tmux servers apart: `%3` exists in each of them. */
export function lockPath(tmuxServer: string, pane: string, dir = lockDir()): string {
  const hash = createHash("sha256").update(`${tmuxServer}\n${pane}`).digest("hex").slice(0, 16);
  return join(dir, `pane-${hash}.sock`);
}

type Probe = { held: true; pid: number; socket: Socket } | { held: false };

/** Connects to the lock: who holds it (keeping the connection open, for a takeover), or nobody. */
function probe(path: string, timeoutMs = 2_000): Promise<Probe> {
  return new Promise((resolve) => {
    const socket = connect(path);
    let text = "";
    const timer = setTimeout(() => finish({ held: true, pid: 0, socket }), timeoutMs);
    function finish(result: Probe): void {
      clearTimeout(timer);
      socket.removeAllListeners("data");
      if (!result.held) socket.destroy();
      resolve(result);
    }
    socket.on("error", () => finish({ held: false }));
    socket.setEncoding("utf8");
    socket.on("data", (chunk: string) => {
      text += chunk;
      const line = text.split("\n")[0]!;
      if (text.includes("\n")) {
        const pid = Number((JSON.parse(line) as { pid?: unknown }).pid);
        finish({ held: true, pid: Number.isSafeInteger(pid) ? pid : 0, socket });
      }
    });
  });
}

function listen(path: string): Promise<Server | "in-use"> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", (error: NodeJS.ErrnoException) => (error.code === "EADDRINUSE" ? resolve("in-use") : reject(error)));
    server.listen(path, () => resolve(server));
  });
}

export interface PaneLock {
  readonly path: string;
  release(): void;
}

export interface AcquireOptions {
  /** The pane's tmux server (its socket path) and pane id. */
  tmuxServer: string;
  pane: string;
  /** Ask a running holder to stop, and wait for it. */
  takeover: boolean;
  /** Called when a newer bridge takes this pane over; it must stop this bridge. */
  onTakeover: (newPid: number) => void;
  dir?: string;
  /** How long a takeover waits for the old bridge to exit. */
  takeoverTimeoutMs?: number;
}

export async function acquirePaneLock(options: AcquireOptions): Promise<PaneLock> {
  const dir = options.dir ?? lockDir();
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  const path = lockPath(options.tmuxServer, options.pane, dir);
  const deadline = Date.now() + (options.takeoverTimeoutMs ?? 10_000);
  let askedPid: number | null = null;

  for (;;) {
    const server = await listen(path);
    if (server !== "in-use") return hold(server, path, options.onTakeover);
    const holder = await probe(path);
    if (!holder.held) {
      // Left behind by a bridge that died without closing it: nobody listens, the pane is free.
      rmSync(path, { force: true });
      continue;
    }
    if (!options.takeover) {
      holder.socket.destroy();
      throw new BridgeError(
        `pane ${options.pane} is already served by another relay-bridge (pid ${holder.pid || "unknown"}); ` +
          `two bridges would type into one input box. Stop that one, or pass --takeover to replace it.`,
      );
    }
    if (askedPid !== holder.pid) {
      holder.socket.write(`takeover ${process.pid}\n`);
      askedPid = holder.pid;
    }
    holder.socket.destroy();
    if (Date.now() > deadline) {
      throw new BridgeError(`the bridge serving pane ${options.pane} (pid ${holder.pid}) did not stop when asked; stop it yourself (kill ${holder.pid})`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

function hold(server: Server, path: string, onTakeover: (newPid: number) => void): PaneLock {
  server.on("connection", (socket) => {
    socket.on("error", () => {});
    socket.setEncoding("utf8");
    socket.write(`${JSON.stringify({ pid: process.pid })}\n`);
    let text = "";
    socket.on("data", (chunk: string) => {
      text += chunk;
      const match = /^takeover (\d+)\n/.exec(text);
      if (match) onTakeover(Number(match[1]));
    });
  });
  // The lock must not keep a finished bridge alive.
  server.unref();
  let released = false;
  return {
    path,
    release() {
      if (released) return;
      released = true;
      // Unlink first: once the socket is closed a newcomer may bind a fresh file at this path,
      // which must not be the one removed here.
      rmSync(path, { force: true });
      server.close();
    },
  };
}

/** Who serves the pane, without taking it: a pid, or null when nobody does. */
export async function paneHolder(tmuxServer: string, pane: string, dir = lockDir()): Promise<number | null> {
  const holder = await probe(lockPath(tmuxServer, pane, dir));
  if (!holder.held) return null;
  holder.socket.destroy();
  return holder.pid;
}

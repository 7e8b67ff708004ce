/**
 * Everything the bridge asks of tmux, in one place: find panes, find Claude Code in them, read a
 * pane's screen, type into it. Every call targets a pane id (`%N`), resolved once: a target like
 * a session name means "whichever pane is active", which changes under our feet.
 *
 * The server is found the usual way: plain `tmux` uses $TMUX when set (we run inside tmux), else
 * the default server. Tests pass a private socket name (`tmux -L name`).
 */
import { execFile } from "node:child_process";
import { basename } from "node:path";
import { BridgeError } from "../core/errors.ts";

export interface TmuxOptions {
  /** `tmux -L <name>`: a private server, for tests. */
  socketName?: string;
}

export interface PaneInfo {
  id: string;
  pid: number;
  /** What tmux shows as the pane's command; Claude Code shows its version here, e.g. "2.1.329". */
  command: string;
  cwd: string;
  /** session:window.pane, for people. */
  target: string;
  title: string;
}

export class PaneGoneError extends BridgeError {
  constructor(pane: string) {
    super(`the tmux pane ${pane} is gone (closed, or its tmux server stopped): start the bridge again for the pane Claude Code runs in`);
    this.name = "PaneGoneError";
  }
}

/** tmux's argument handling mangles very long arguments; type long text in pieces. */
const CHUNK_BYTES = 512;

export class Tmux {
  readonly socketName: string | undefined;
  private readonly prefix: string[];

  constructor(options: TmuxOptions = {}) {
    this.socketName = options.socketName;
    this.prefix = options.socketName ? ["-L", options.socketName] : [];
  }

  /** Runs one tmux command; maps its failures to errors a person can act on. */
  run(args: string[], pane?: string): Promise<string> {
    return new Promise((resolve, reject) => {
      execFile("tmux", [...this.prefix, ...args], { maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
        if (!error) return resolve(stdout);
        const code = (error as NodeJS.ErrnoException).code;
        if (code === "ENOENT") {
          return reject(new BridgeError("tmux is not installed or not on PATH: install tmux, or use --stdout instead of --pane"));
        }
        const message = String(stderr || error.message).trim();
        if (pane && /can't find (pane|window|session)|no such pane/i.test(message)) return reject(new PaneGoneError(pane));
        if (/no server running|error connecting to|failed to connect to server/i.test(message)) {
          return reject(new BridgeError(`no tmux server is running (${message}): start tmux and Claude Code in it first`));
        }
        reject(new BridgeError(`tmux ${args[0]} failed: ${message}`));
      });
    });
  }

  /** Resolves any tmux target (`%3`, `work:1.0`, …) to a pane id, once. */
  async resolvePane(target: string): Promise<string> {
    try {
      const id = (await this.run(["display-message", "-p", "-t", target, "#{pane_id}"], target)).trim();
      if (/^%\d+$/.test(id)) return id;
    } catch (error) {
      if (!(error instanceof PaneGoneError)) throw error;
    }
    throw new BridgeError(`no tmux pane ${target}: see the panes with \`tmux list-panes -a\`, or run \`relay-bridge setup\``);
  }

  async listPanes(): Promise<PaneInfo[]> {
    const format = ["#{pane_id}", "#{pane_pid}", "#{pane_current_command}", "#{pane_current_path}", "#{session_name}:#{window_index}.#{pane_index}", "#{pane_title}"].join("\t");
    const out = await this.run(["list-panes", "-a", "-F", format]);
    return out
      .split("\n")
      .filter(Boolean)
      .map((row) => {
        const [id = "", pid = "0", command = "", cwd = "", target = "", title = ""] = row.split("\t");
        return { id, pid: Number(pid), command, cwd, target, title };
      });
  }

  async pane(id: string): Promise<PaneInfo> {
    const pane = (await this.listPanes()).find((p) => p.id === id);
    if (!pane) throw new PaneGoneError(id);
    return pane;
  }

  /** The visible screen, with colour escapes (they tell a placeholder from typed text). */
  capture(pane: string): Promise<string> {
    return this.run(["capture-pane", "-p", "-e", "-t", pane], pane);
  }

  async inMode(pane: string): Promise<boolean> {
    return (await this.run(["display-message", "-p", "-t", pane, "#{pane_in_mode}"], pane)).trim() === "1";
  }

  /** Leaves copy mode: keys typed in copy mode are copy-mode commands, not text. */
  async leaveMode(pane: string): Promise<void> {
    if (await this.inMode(pane)) await this.run(["send-keys", "-t", pane, "-X", "cancel"], pane);
  }

  /** Types `text` literally (`send-keys -l`), in chunks of at most 512 bytes, ~10 ms apart. */
  async typeLiteral(pane: string, text: string): Promise<void> {
    for (const chunk of chunkUtf8(text, CHUNK_BYTES)) {
      await this.run(["send-keys", "-t", pane, "-l", "--", chunk], pane);
      if (chunk.length < text.length) await new Promise((r) => setTimeout(r, 10));
    }
  }

  async pressEnter(pane: string): Promise<void> {
    await this.run(["send-keys", "-t", pane, "Enter"], pane);
  }
}

export function chunkUtf8(text: string, maxBytes: number): string[] {
  const chunks: string[] = [];
  let current = "";
  let bytes = 0;
  for (const ch of text) {
    const size = Buffer.byteLength(ch);
    if (bytes + size > maxBytes && current) {
      chunks.push(current);
      current = "";
      bytes = 0;
    }
    current += ch;
    bytes += size;
  }
  if (current) chunks.push(current);
  return chunks;
}

// ---------------------------------------------------------------------------------------------
// Finding Claude Code by process tree
// ---------------------------------------------------------------------------------------------

export interface ProcessEntry {
  pid: number;
  ppid: number;
  comm: string;
  args: string;
}

export function listProcesses(): Promise<ProcessEntry[]> {
  return new Promise((resolve, reject) => {
    // `comm` and `args` both, because installs differ: the native build runs as `claude` (or a
    // versioned binary), the npm build as `node …/claude`.
    execFile("ps", ["-A", "-o", "pid=,ppid=,comm=,args="], { maxBuffer: 64 * 1024 * 1024 }, (error, stdout) => {
      if (error) return reject(new BridgeError(`cannot list processes with ps: ${error.message}`));
      const rows: ProcessEntry[] = [];
      for (const line of stdout.split("\n")) {
        const m = /^\s*(\d+)\s+(\d+)\s+(\S+)\s*(.*)$/.exec(line);
        if (m) rows.push({ pid: Number(m[1]), ppid: Number(m[2]), comm: m[3]!, args: m[4]! });
      }
      resolve(rows);
    });
  });
}

/** Whether a process is Claude Code: named `claude`, or a runtime running a script named `claude`. */
export function isClaudeProcess(p: ProcessEntry): boolean {
  if (basename(p.comm) === "claude") return true;
  const [argv0 = "", argv1 = ""] = p.args.split(/\s+/);
  if (basename(argv0) === "claude") return true;
  if (/^(node|nodejs|bun|deno)$/.test(basename(argv0)) && basename(argv1) === "claude") return true;
  return /@anthropic-ai\/claude-code\//.test(p.args);
}

/** The processes in each pane's tree (the pane's own process and everything below it). */
export function paneProcesses(pane: PaneInfo, processes: ProcessEntry[]): ProcessEntry[] {
  const children = new Map<number, ProcessEntry[]>();
  for (const p of processes) {
    const list = children.get(p.ppid) ?? [];
    list.push(p);
    children.set(p.ppid, list);
  }
  const root = processes.find((p) => p.pid === pane.pid);
  const out: ProcessEntry[] = [];
  const queue = root ? [root] : [...(children.get(pane.pid) ?? [])];
  const seen = new Set<number>();
  while (queue.length > 0) {
    const p = queue.shift()!;
    if (seen.has(p.pid)) continue;
    seen.add(p.pid);
    out.push(p);
    queue.push(...(children.get(p.pid) ?? []));
  }
  return out;
}

/** The pane already running `relay-bridge connect --pane <id>` on this tmux server, if any. */
export function bridgePaneFor(target: string, panes: PaneInfo[], processes: ProcessEntry[]): PaneInfo | null {
  const pattern = new RegExp(`(^|\\s)connect(\\s.*)?\\s--pane[ =]${target}(\\s|$)`);
  return panes.find((pane) => pane.id !== target && paneProcesses(pane, processes).some((p) => pattern.test(p.args))) ?? null;
}

export interface ClaudePane extends PaneInfo {
  /** The Claude Code process found under the pane, if any. */
  claudePid: number | null;
}

/**
 * Panes whose process tree holds Claude Code. `pane_current_command` alone is not enough: Claude
 * Code shows its version there ("2.1.329"), so we walk the processes under each pane's shell. A
 * version-like command with no recognisable process still counts (a build we did not foresee).
 */
export function claudePanes(panes: PaneInfo[], processes: ProcessEntry[]): ClaudePane[] {
  const found: ClaudePane[] = [];
  for (const pane of panes) {
    const claude = paneProcesses(pane, processes).find(isClaudeProcess);
    if (claude || /^\d+\.\d+\.\d+/.test(pane.command)) found.push({ ...pane, claudePid: claude?.pid ?? null });
  }
  return found;
}

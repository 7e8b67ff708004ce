/**
 * A private tmux server for one test file (`tmux -L <unique name>`, no user config), with helpers
 * to start the Claude Code stand-in in a pane and read what it recorded.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Tmux } from "../../local-bridge/pane/tmux.ts";
import { waitFor } from "./wait.ts";

export const STANDIN = fileURLToPath(new URL("./claude-standin.ts", import.meta.url));

export interface StandinMode {
  busy?: boolean;
  dialog?: boolean;
  placeholder?: boolean;
  busyAfterSubmitMs?: number;
}

export type StandinEvent =
  | { event: "ready"; at: number }
  | { event: "data"; at: number; data: string; busy: boolean; dialog: boolean; input: string }
  | { event: "submit"; at: number; line: string; busy: boolean };

export class Standin {
  readonly lab: TmuxLab;
  readonly pane: string;
  readonly recordFile: string;
  readonly controlFile: string;
  private mode: StandinMode = {};

  constructor(lab: TmuxLab, pane: string, recordFile: string, controlFile: string) {
    this.lab = lab;
    this.pane = pane;
    this.recordFile = recordFile;
    this.controlFile = controlFile;
  }

  /** Changes the stand-in's mode and waits until its screen shows it. */
  async set(mode: StandinMode): Promise<void> {
    this.mode = { ...this.mode, ...mode };
    const tmp = `${this.controlFile}.tmp`;
    writeFileSync(tmp, JSON.stringify(this.mode));
    renameSync(tmp, this.controlFile);
    await waitFor(
      () => {
        const screen = this.screen();
        const busyShown = screen.includes("esc to interrupt");
        const dialogShown = screen.includes("Do you want to proceed?");
        return (this.mode.busy ?? false) === busyShown && (this.mode.dialog ?? false) === dialogShown;
      },
      { what: `stand-in mode ${JSON.stringify(mode)}` },
    );
  }

  events(): StandinEvent[] {
    let text = "";
    try {
      text = readFileSync(this.recordFile, "utf8");
    } catch {
      return [];
    }
    return text
      .split("\n")
      .filter(Boolean)
      .map((line) => JSON.parse(line) as StandinEvent);
  }

  submissions(): string[] {
    return this.events().flatMap((e) => (e.event === "submit" ? [e.line] : []));
  }

  /** Plain text of the pane. */
  screen(): string {
    return this.lab.tmuxSync(["capture-pane", "-p", "-t", this.pane]);
  }

  /** Types as a person would (literal keys, one burst). */
  typeAsPerson(text: string): void {
    this.lab.tmuxSync(["send-keys", "-t", this.pane, "-l", "--", text]);
  }

  /** Ctrl-U: the person clears what they typed. */
  clearInput(): void {
    this.lab.tmuxSync(["send-keys", "-t", this.pane, "C-u"]);
  }
}

export class TmuxLab {
  readonly socketName: string;
  readonly tmux: Tmux;
  readonly dir: string;
  private count = 0;

  private constructor(socketName: string, dir: string) {
    this.socketName = socketName;
    this.tmux = new Tmux({ socketName });
    this.dir = dir;
  }

  static start(): TmuxLab {
    const name = `relay-test-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
    const dir = mkdtempSync(join(tmpdir(), "relay-lab-"));
    const lab = new TmuxLab(name, dir);
    lab.tmuxSync(["-f", "/dev/null", "new-session", "-d", "-s", "lab", "-x", "200", "-y", "50", "sleep", "86400"]);
    // Anything started in this server (a bridge in a split) keeps its state here, not in ~.
    lab.tmuxSync(["set-environment", "-g", "XDG_STATE_HOME", dir]);
    return lab;
  }

  tmuxSync(args: string[]): string {
    return execFileSync("tmux", ["-L", this.socketName, ...args], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  }

  /** The value of $TMUX for a process that should talk to this server "the usual way". */
  tmuxEnv(): string {
    const path = this.tmuxSync(["display-message", "-p", "#{socket_path}"]).trim();
    return `${path},0,0`;
  }

  /** A new window running `argv`, with an environment; returns its pane id. */
  window(argv: string[], env: Record<string, string> = {}, cwd?: string): string {
    const envArgs = Object.entries(env).flatMap(([k, v]) => ["-e", `${k}=${v}`]);
    const cwdArgs = cwd ? ["-c", cwd] : [];
    return this.tmuxSync(["new-window", "-d", "-P", "-F", "#{pane_id}", ...cwdArgs, ...envArgs, "--", ...argv]).trim();
  }

  async standin(mode: StandinMode = {}): Promise<Standin> {
    const n = ++this.count;
    const recordFile = join(this.dir, `standin-${n}.jsonl`);
    const controlFile = join(this.dir, `standin-${n}.json`);
    writeFileSync(controlFile, JSON.stringify(mode));
    // Started in the lab's own directory: `setup` writes into a pane's project (.claude/), and a
    // test must never write into this repository.
    const pane = this.window([process.execPath, STANDIN, "--record", recordFile, "--control", controlFile], {}, this.dir);
    const standin = new Standin(this, pane, recordFile, controlFile);
    await standin.set(mode);
    await waitFor(() => standin.screen().includes("❯"), { what: "the stand-in's prompt" });
    return standin;
  }

  kill(): void {
    try {
      this.tmuxSync(["kill-server"]);
    } catch {
      // Already gone.
    }
  }
}

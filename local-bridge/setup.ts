/**
 * `setup`: from nothing to a connected session in one command. Find the tmux panes running Claude
 * Code, pick one, register the relay's MCP endpoint in that pane's project with `claude mcp add`,
 * and start `connect` for that pane beside it: by default in a sidebar to its right that shows the
 * conversation (`tail`) under the bridge's status line; with `--compact`, in a 3-line split below.
 */
import { execFile } from "node:child_process";
import { select } from "@inquirer/prompts";
import type { RelayTarget } from "./config.ts";
import { BridgeError } from "./errors.ts";
import { bridgePaneFor, claudePanes, listProcesses, type ClaudePane, type PaneInfo, type Tmux } from "./tmux.ts";

export interface SetupOptions {
  target: RelayTarget;
  tmux: Tmux;
  /** Skip the picker. */
  pane?: string;
  /** Print the commands instead of running them. */
  printOnly: boolean;
  /** "sidebar" (default): tail and status beside the pane; "compact": only the 3-line status split below. */
  layout?: "sidebar" | "compact";
  /** How to run this CLI again for `connect` (node binary and script). */
  bridgeCommand: string[];
  /** Ask the person to pick among several panes (defaults to an @inquirer/prompts list when stdin is a terminal). */
  choose?: (panes: ClaudePane[]) => Promise<string>;
  print: (line: string) => void;
}

/** `claude mcp add …` as argv. */
export function mcpAddArgs(target: RelayTarget): string[] {
  return ["claude", "mcp", "add", "--transport", "http", "relay", target.mcpUrl, "--header", `Authorization: Bearer ${target.token}`];
}

/** Quotes one word for a POSIX shell; double quotes where they suffice, since people read this. */
export function shellQuote(word: string): string {
  if (/^[A-Za-z0-9_/.:%=@+,-]+$/.test(word)) return word;
  if (!/["$`\\!]/.test(word)) return `"${word}"`;
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

export function shellLine(argv: string[]): string {
  return argv.map(shellQuote).join(" ");
}

/**
 * The split's command. Runs through /bin/sh explicitly (not the person's login shell, which may
 * not be POSIX), and keeps the split open after a failure so its message can be read.
 */
const SPLIT_SCRIPT =
  `"$@"; status=$?; if [ "$status" -ne 0 ]; then printf '\\nrelay-bridge stopped (exit %s). Press Enter to close.\\n' "$status"; read -r _; fi`;

export function splitArgs(target: RelayTarget, pane: PaneInfo, bridgeCommand: string[], placement = ["-v", "-l", "3", "-t", pane.id]): string[] {
  return [
    "split-window", "-d", ...placement, "-c", pane.cwd,
    // The token reaches the bridge through its environment, not its command line, so the
    // long-running process never shows it in `ps`; only this short-lived tmux call carries it.
    "-e", `RELAY_URL=${target.baseUrl}`, "-e", `RELAY_TOKEN=${target.token}`,
    "--", "/bin/sh", "-c", SPLIT_SCRIPT, "relay-bridge", ...bridgeCommand, "connect", "--pane", pane.id,
  ];
}

/** The sidebar's conversation pane: `tail` in a column to the right of the Claude pane. */
export function sidebarArgs(target: RelayTarget, pane: PaneInfo, bridgeCommand: string[]): string[] {
  return [
    "split-window", "-d", "-h", "-l", "40%", "-t", pane.id, "-c", pane.cwd,
    "-e", `RELAY_URL=${target.baseUrl}`, "-e", `RELAY_TOKEN=${target.token}`,
    "--", "/bin/sh", "-c", SPLIT_SCRIPT, "relay-bridge", ...bridgeCommand, "tail",
  ];
}

/** The bridge's status, 3 lines at the top of the sidebar, above the conversation. */
const ABOVE = (sidebarPane: string) => ["-v", "-b", "-l", "3", "-t", sidebarPane];

export async function setup(options: SetupOptions): Promise<void> {
  const { tmux, target, print } = options;
  const panes = await tmux.listPanes();
  const processes = await listProcesses();
  const found = claudePanes(panes, processes);

  let pane: PaneInfo;
  if (options.pane) {
    const id = await tmux.resolvePane(options.pane);
    pane = panes.find((p) => p.id === id) ?? (await tmux.pane(id));
    if (!found.some((p) => p.id === id)) {
      print(`note: no Claude Code process found in pane ${id}; setting it up anyway, as asked`);
    }
  } else if (found.length === 0) {
    throw new BridgeError(
      "no tmux pane runs Claude Code: start `claude` in a tmux pane, then run setup again (or name a pane with --pane %N)",
    );
  } else if (found.length === 1) {
    pane = found[0]!;
    print(`Claude Code found in pane ${pane.id} (${pane.target}, ${pane.cwd})`);
  } else {
    const choose = options.choose ?? defaultChooser;
    const id = await choose(found);
    pane = found.find((p) => p.id === id)!;
  }

  const mcp = mcpAddArgs(target);
  const sidebar = options.layout !== "compact";
  const split = splitArgs(target, pane, options.bridgeCommand);
  const tmuxPrefix = tmux.socketName ? ["tmux", "-L", tmux.socketName] : ["tmux"];

  if (options.printOnly) {
    print(`# 1. register the relay's tools with Claude Code, in the pane's project:`);
    print(`cd ${shellQuote(pane.cwd)} && ${shellLine(mcp)}`);
    if (sidebar) {
      const side = [...sidebarArgs(target, pane, options.bridgeCommand)];
      side.splice(1, 0, "-P", "-F", "#{pane_id}");
      print(`# 2. a sidebar beside pane ${pane.id}: the conversation, and the bridge's status above it:`);
      print(`side=$(${shellLine([...tmuxPrefix, ...side])}) && ${shellLine([...tmuxPrefix, ...splitArgs(target, pane, options.bridgeCommand, ABOVE("SIDE"))]).replace(" -t SIDE ", ' -t "$side" ')}`);
    } else {
      print(`# 2. start the bridge for pane ${pane.id} in a small split beside it:`);
      print(shellLine([...tmuxPrefix, ...split]));
    }
    return;
  }

  const result = await runIn(pane.cwd, mcp);
  if (result.ok) {
    print(`registered the relay's tools for ${pane.cwd} (claude mcp add … relay ${target.mcpUrl})`);
    print("restart Claude Code in that pane (or run /mcp there) so it loads the relay's tools");
  } else if (/already exists/i.test(result.output)) {
    print(`the relay is already registered for ${pane.cwd}; to change its URL or token, run \`claude mcp remove relay\` there and run setup again`);
  } else {
    throw new BridgeError(
      `\`claude mcp add\` failed in ${pane.cwd}: ${result.output.trim() || "no output"}\n` +
        `run it yourself there:\n  ${shellLine(mcp)}`,
    );
  }

  // Running setup twice must not start a second bridge: two bridges would type every notice twice.
  const running = bridgePaneFor(pane.id, panes, processes);
  if (running) {
    print(`a bridge for ${pane.id} already runs in pane ${running.id}; not starting another (close that pane first to replace it)`);
    return;
  }
  const opened = (args: string[]) => tmux.run([...args.slice(0, 1), "-P", "-F", "#{pane_id}", ...args.slice(1)], pane.id).then((id) => id.trim());
  if (sidebar) {
    const side = await opened(sidebarArgs(target, pane, options.bridgeCommand));
    const status = await opened(splitArgs(target, pane, options.bridgeCommand, ABOVE(side)));
    print(`sidebar opened beside ${pane.id}: the conversation in pane ${side}, the bridge (connected as ${target.peer} in group ${target.group}) in pane ${status} above it`);
    return;
  }
  const newPane = await opened(split);
  print(`bridge started in pane ${newPane} below ${pane.id}, connected as ${target.peer} in group ${target.group}; its status line shows there`);
}

function runIn(cwd: string, argv: string[]): Promise<{ ok: boolean; output: string }> {
  return new Promise((resolve, reject) => {
    execFile(argv[0]!, argv.slice(1), { cwd, timeout: 60_000 }, (error, stdout, stderr) => {
      if (error && (error as NodeJS.ErrnoException).code === "ENOENT") {
        return reject(
          new BridgeError(`the \`claude\` command is not on PATH: install Claude Code, or run this yourself in ${cwd}:\n  ${shellLine(argv)}`),
        );
      }
      resolve({ ok: !error, output: `${stdout}${stderr}` });
    });
  });
}

async function defaultChooser(panes: ClaudePane[]): Promise<string> {
  if (!process.stdin.isTTY) {
    const list = panes.map((p) => `${p.id} (${p.target}, ${p.cwd})`).join(", ");
    throw new BridgeError(`several panes run Claude Code: pick one with --pane: ${list}`);
  }
  return select({
    message: "Which Claude Code session should get relay notices?",
    choices: panes.map((p) => ({ name: `${p.id}  ${p.target}  ${p.cwd}`, value: p.id, description: p.title })),
  });
}

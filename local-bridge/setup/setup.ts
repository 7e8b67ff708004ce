/**
 * `setup`: from nothing to a connected session in one command. Find the tmux panes running Claude
 * Code, pick one, register the relay's MCP endpoint in that pane's project with `claude mcp add`,
 * allow its tools there, offer the hooks, and start `connect` for that pane beside it: by default
 * in a sidebar to its right that shows the conversation (`tail`) under the bridge's status line;
 * with `--compact`, in a 3-line split below. With `--channel`, register the channel server instead.
 * Where no pane runs Claude Code, set up this directory's session with hooks instead (no-pane.ts).
 */
import { execFile } from "node:child_process";
import { confirm, select } from "@inquirer/prompts";
import { allowRule, readSettings, settingsPath, writeSettings } from "../hooks/claude-settings.ts";
import type { RelayTarget } from "../core/config.ts";
import { saveTarget } from "../core/config-file.ts";
import { BridgeError } from "../core/errors.ts";
import { installHooks } from "../hooks/hooks.ts";
import { requireChannelServer } from "../channel/bundle.ts";
import { CHANNEL_SERVER_NAME } from "../channel/server-name.ts";
import { shellLine, shellQuote } from "../core/shell.ts";
import { paneHolder } from "../pane/pane-lock.ts";
import { setupWithoutPane } from "./no-pane.ts";
import type { SetupOptions } from "./options.ts";
import { bridgePaneFor, claudePanes, listProcesses, type ClaudePane, type PaneInfo, type Tmux } from "../pane/tmux.ts";

export type { SetupOptions } from "./options.ts";

/** The permission rule that lets every relay tool run without a prompt. */
export const RELAY_ALLOW_RULE = "mcp__relay";

/** `claude mcp add` of the channel server, which finds the relay through a stored profile. */
export function channelAddArgs(bridgeCommand: string[], profile: string): string[] {
  return ["claude", "mcp", "add", CHANNEL_SERVER_NAME, "--", ...bridgeCommand, "channel", "--profile", profile];
}

export const CHANNEL_LAUNCH = ["claude", "--dangerously-load-development-channels", `server:${CHANNEL_SERVER_NAME}`];

/**
 * How to restart a session and keep what it had: `--continue` resumes the directory's last
 * conversation, but with none yet it stops ("No conversation found to continue"), so both are named.
 */
export const RESTART_CLAUDE = "`claude --continue` (it resumes the conversation), or `claude` if the session had none yet";

const RESTART_ADVICE = `restart Claude Code there so it loads the relay's tools (\`/mcp\` does not load a newly added server): quit it and run ${RESTART_CLAUDE}`;

/** `claude mcp add …` as argv. */
export function mcpAddArgs(target: RelayTarget): string[] {
  return ["claude", "mcp", "add", "--transport", "http", "relay", target.mcpUrl, "--header", `Authorization: Bearer ${target.token}`];
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
  if (options.channel) return setupChannel(options);
  const { tmux, target, print } = options;
  // No tmux server at all is a session outside tmux, not an error, unless a pane was named.
  const panes = options.pane ? await tmux.listPanes() : await tmux.listPanes().catch(() => []);
  const processes = panes.length > 0 ? await listProcesses() : [];
  const found = claudePanes(panes, processes);
  if (!options.pane && found.length === 0) return setupWithoutPane(options, { registerTools, finishProject }, RESTART_ADVICE);

  let pane: PaneInfo;
  if (options.pane) {
    const id = await tmux.resolvePane(options.pane);
    pane = panes.find((p) => p.id === id) ?? (await tmux.pane(id));
    if (!found.some((p) => p.id === id)) {
      print(`note: no Claude Code process found in pane ${id}; setting it up anyway, as asked`);
    }
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
    printProjectSteps(pane.cwd, options, 2);
    if (sidebar) {
      const side = [...sidebarArgs(target, pane, options.bridgeCommand)];
      side.splice(1, 0, "-P", "-F", "#{pane_id}");
      print(`# 4. a sidebar beside pane ${pane.id}: the conversation, and the bridge's status above it:`);
      print(`side=$(${shellLine([...tmuxPrefix, ...side])}) && ${shellLine([...tmuxPrefix, ...splitArgs(target, pane, options.bridgeCommand, ABOVE("SIDE"))]).replace(" -t SIDE ", ' -t "$side" ')}`);
    } else {
      print(`# 4. start the bridge for pane ${pane.id} in a small split beside it:`);
      print(shellLine([...tmuxPrefix, ...split]));
    }
    return;
  }

  await registerTools(pane.cwd, options);
  await finishProject(pane.cwd, options);
  print(RESTART_ADVICE);

  // Running setup twice must not start a second bridge: two bridges would type every notice twice.
  const holder = await paneHolder((await tmux.run(["display-message", "-p", "#{socket_path}"])).trim(), pane.id);
  const running = bridgePaneFor(pane.id, panes, processes);
  if (holder !== null || running) {
    const where = running ? ` in pane ${running.id}` : "";
    print(`a bridge for ${pane.id} already runs${where}${holder ? ` (pid ${holder})` : ""}; not starting another (\`relay-bridge connect --pane ${pane.id} --takeover\` replaces it)`);
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

/** `claude mcp add` for the relay's tools in `cwd`; an existing registration is left alone. */
async function registerTools(cwd: string, options: SetupOptions): Promise<void> {
  const { target, print } = options;
  const mcp = mcpAddArgs(target);
  const result = await runIn(cwd, mcp);
  if (result.ok) {
    print(`registered the relay's tools for ${cwd} (claude mcp add … relay ${target.mcpUrl})`);
  } else if (/already exists/i.test(result.output)) {
    print(`the relay is already registered for ${cwd}; to change its URL or token, run \`claude mcp remove relay\` there and run setup again`);
  } else {
    throw new BridgeError(
      `\`claude mcp add\` failed in ${cwd}: ${result.output.trim() || "no output"}\n` + `run it yourself there:\n  ${shellLine(mcp)}`,
    );
  }
}

/** The permission rule and the hooks, for the project in `cwd`. */
async function finishProject(cwd: string, options: SetupOptions): Promise<void> {
  const { print } = options;
  if (options.permissions) {
    const path = settingsPath({ project: cwd });
    const settings = readSettings(path);
    if (allowRule(settings, RELAY_ALLOW_RULE)) {
      writeSettings(path, settings);
      print(`allowed the relay's tools without a prompt: added "${RELAY_ALLOW_RULE}" to permissions.allow in ${path} (--no-permissions skips this)`);
    } else {
      print(`the relay's tools are already allowed in ${path}`);
    }
  }
  const hooks =
    options.hooks === "ask"
      ? await (options.confirm ?? defaultConfirm)(
          "Also install Claude Code hooks (unread mail at session start, with prompts, and before Claude stops)?",
        )
      : options.hooks === "install";
  if (hooks) {
    const result = installHooks(options.target, { project: cwd }, options.bridgeCommand);
    print(`installed the relay's SessionStart, UserPromptSubmit, Stop and PostToolUse hooks in ${result.path} (profile ${result.profile})`);
    print(`and the claims guard (PreToolUse): edits and git commands that discard work inside another peer's claim are refused`);
  } else if (options.hooks === "ask") {
    print(`hooks not installed; to add them later: ${shellLine([...options.bridgeCommand, "hooks", "install", "--project", cwd])}`);
  }
}

function printProjectSteps(cwd: string, options: SetupOptions, step: number): void {
  const { print } = options;
  if (options.permissions) {
    print(`# ${step}. allow the relay's tools without a prompt: add "${RELAY_ALLOW_RULE}" to permissions.allow in ${settingsPath({ project: cwd })}`);
  }
  if (options.hooks !== "skip") {
    print(`# ${step + 1}. (optional) Claude Code hooks for unread mail:`);
    print(shellLine([...options.bridgeCommand, "hooks", "install", "--project", cwd]));
  }
}

/** `--channel`: no pane, no split; the session in this directory gets notices as channel events. */
async function setupChannel(options: SetupOptions): Promise<void> {
  const { print } = options;
  // Before anything is registered: a channel server that cannot start would only fail later, inside Claude Code.
  requireChannelServer(options.bridgeCommand[1] ?? "");
  const cwd = process.cwd();
  if (options.printOnly) {
    print(`# 1. register the relay's tools with Claude Code, in this project:`);
    print(shellLine(mcpAddArgs(options.target)));
    printProjectSteps(cwd, options, 2);
    print(`# 4. register the channel server (after \`relay-bridge hooks install\` or setup stored the profile):`);
    print(shellLine(channelAddArgs(options.bridgeCommand, `${options.target.peer}@${options.target.group}`)));
    print(`# 5. start Claude Code with the channel:`);
    print(shellLine(CHANNEL_LAUNCH));
    return;
  }
  await registerTools(cwd, options);
  await finishProject(cwd, options);
  const profile = saveTarget(options.target);
  const add = channelAddArgs(options.bridgeCommand, profile);
  const result = await runIn(cwd, add);
  if (result.ok) print(`registered the channel server for ${cwd} (claude mcp add ${CHANNEL_SERVER_NAME} … channel --profile ${profile})`);
  else if (/already exists/i.test(result.output)) print(`the channel server is already registered for ${cwd}`);
  else throw new BridgeError(`\`claude mcp add\` failed in ${cwd}: ${result.output.trim() || "no output"}\nrun it yourself there:\n  ${shellLine(add)}`);
  print(`start Claude Code with the channel (it asks once per launch whether to load a development channel; answer yes):`);
  print(`  ${shellLine(CHANNEL_LAUNCH)}`);
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

async function defaultConfirm(message: string): Promise<boolean> {
  if (!process.stdin.isTTY) return false;
  return confirm({ message, default: true });
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

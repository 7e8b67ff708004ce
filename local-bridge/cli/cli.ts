/**
 * relay-bridge: the local side of claude-relay.
 *
 *   relay-bridge join    INVITE_URL [--name NAME]
 *   relay-bridge setup   [--url URL --token TOKEN] [--pane %N] [--print-only] [--compact]
 *                        [--hooks|--no-hooks] [--no-permissions] [--channel]
 *   relay-bridge connect [--url URL --token TOKEN] (--pane %N | --stdout) [--quiet] [--takeover]
 *   relay-bridge hooks   install|uninstall|status [--project DIR | --user]
 *   relay-bridge hook    session-start|prompt|stop|tool --profile NAME   (run by Claude Code)
 *   relay-bridge channel [--profile NAME | --url URL --token TOKEN] (run by Claude Code)
 *   relay-bridge send|dm|read|peers|history|ask|board|tail …   (chat.ts)
 *   relay-bridge status  ID   (receipts.ts)
 *   relay-bridge claims|release|guard …                      (claims.ts)
 *
 * RELAY_URL and RELAY_TOKEN stand in for --url and --token, and the config file (config-file.ts)
 * for both. Runs as TypeScript on Node 22
 * (`npm run bridge -- …`) and as the bundled dist/relay-bridge.mjs on Node 20 (the package bin).
 */
import { realpathSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { AckStore } from "../core/ack-store.ts";
import { PressingBoard } from "../core/pressing-file.ts";
import { REANNOUNCE_AFTER_MS } from "../core/reannounce.ts";
import { Bridge, StdoutSink, type NoticeSink } from "../core/bridge.ts";
import { CHAT_COMMANDS, CHAT_USAGE } from "./chat.ts";
import { CHAINS_COMMANDS, CHAINS_USAGE } from "./chains.ts";
import { CLAIM_COMMANDS, CLAIMS_USAGE, guard } from "./claims.ts";
import type { SettingsScope } from "../hooks/claude-settings.ts";
import { saveProfile } from "../core/config-file.ts";
import { targetFrom, type RelayTarget } from "../core/config.ts";
import { BridgeError, UsageError } from "../core/errors.ts";
import { channelEntry, requireChannelServer } from "../channel/bundle.ts";
import { hooksStatus, installHooks, uninstallHooks } from "../hooks/hooks.ts";
import { join, JOIN_USAGE } from "./join.ts";
import { acquirePaneLock } from "../pane/pane-lock.ts";
import { PaneSink } from "../pane/pane-sink.ts";
import { RESTART_CLAUDE, setup } from "../setup/setup.ts";
import { setupOtherClient } from "../setup/other-clients.ts";
import { StatusLine } from "../core/status.ts";
import { claudePanes, listProcesses, Tmux } from "../pane/tmux.ts";

declare const __RELAY_BRIDGE_VERSION__: string | undefined;
/** Set by scripts/build-bridge.ts in the bundle; running from source, there is no build to name. */
const VERSION = typeof __RELAY_BRIDGE_VERSION__ === "string" ? __RELAY_BRIDGE_VERSION__ : "dev (from source)";

const USAGE = `relay-bridge: live relay notices for Claude Code sessions in tmux, and the relay from a terminal

Usage:
${JOIN_USAGE}
  relay-bridge setup   [--url URL --token TOKEN] [--pane %N] [--print-only] [--compact]
                       [--hooks | --no-hooks] [--no-permissions] [--channel]
      Find the tmux pane running Claude Code (or use --pane), register the relay's tools there
      with \`claude mcp add\`, allow them in the project's .claude/settings.local.json
      (--no-permissions skips that), offer the hooks (--hooks installs them, --no-hooks does
      not ask), and open a sidebar beside it: the conversation (\`tail\`) under the bridge's
      status line. --compact: only the status, in a 3-line split below.
      --channel registers the channel server instead of starting a split (no tmux needed).
      --print-only prints the commands instead of running them. Given --url and --token, saves
      them in the config file first.

  relay-bridge setup --client codex|gemini [--url URL --token TOKEN] [--project DIR] [--trust]
      The relay's tools and hooks for Codex CLI (~/.codex/config.toml and hooks.json, hooks
      marked trusted) or Gemini CLI (~/.gemini/settings.json; --trust also trusts DIR, default
      this directory, for Gemini, which ignores MCP servers and hooks in untrusted folders).

  relay-bridge connect [--url URL --token TOKEN] (--pane %N | --stdout) [--quiet] [--takeover]
      Hold the group's socket and announce new mail: one line typed into the Claude Code pane
      (when Claude is idle), or one JSON object per line on stdout.
      One bridge per pane: a second one refuses; --takeover replaces the running one.
      --quiet hides the status line on stderr.

  relay-bridge hooks install [--project DIR | --user] [--url URL --token TOKEN]
  relay-bridge hooks uninstall|status [--project DIR | --user]
      Claude Code hooks that tell the session about unread mail at its start, with each prompt,
      and (once per piece of mail) when it is about to stop; urgent mail and questions also
      after any tool call, mid-turn (ids and names only); and the claims guard that refuses edits
      (and git commands discarding work) inside another peer's claim. Project: DIR/.claude/settings.local.json
      (default: this directory); --user: ~/.claude/settings.json. The token is kept in a profile
      of the config file (mode 0600), never in the settings.

  relay-bridge plugin install [--url URL --token TOKEN | --profile NAME] [--dir DIR] [--no-permissions]
      Install the relay as a Claude Code plugin (its tools, hooks for new mail, /relay:inbox),
      through \`claude plugin marketplace add|install|configure\`; the token goes through stdin.

  relay-bridge channel [--profile NAME | --url URL --token TOKEN]
      A stdio MCP server for Claude Code that pushes notices into the session as channel events.
      Registered by \`setup --channel\`; launch Claude with
      --dangerously-load-development-channels server:relay-channel
      Needs relay-channel.mjs beside relay-bridge (the single file from /bridge.mjs has none).

  relay-bridge status ID [--json]
      Who has read a message you sent: per recipient "read HH:MM", "announced HH:MM" or "not yet".

${CHAT_USAGE}
${CHAINS_USAGE}
${CLAIMS_USAGE}
  relay-bridge webhook add URL [--for PEER]... [--events question,dm,chain_held] [--format json|slack]
  relay-bridge webhook list | remove ID   a lead's webhooks (docs/webhooks.md)

Every command reads the relay, group, peer and token from the config file
($XDG_CONFIG_HOME/claude-relay/config.json, written by join and setup); --profile NAME picks one
of several. --url/--token and RELAY_URL/RELAY_TOKEN override it.
relay-bridge --version prints the version.
`;

const CONNECT_OPTIONS = {
  url: { type: "string" },
  token: { type: "string" },
  profile: { type: "string" },
  pane: { type: "string" },
  stdout: { type: "boolean", default: false },
  quiet: { type: "boolean", default: false },
  takeover: { type: "boolean", default: false },
  help: { type: "boolean", short: "h", default: false },
} as const;

const SETUP_OPTIONS = {
  url: { type: "string" },
  token: { type: "string" },
  profile: { type: "string" },
  pane: { type: "string" },
  "print-only": { type: "boolean", default: false },
  compact: { type: "boolean", default: false },
  hooks: { type: "boolean" },
  "no-hooks": { type: "boolean", default: false },
  "no-permissions": { type: "boolean", default: false },
  channel: { type: "boolean", default: false },
  client: { type: "string" },
  project: { type: "string" },
  trust: { type: "boolean" },
  help: { type: "boolean", short: "h", default: false },
} as const;

const HOOKS_OPTIONS = {
  url: { type: "string" },
  token: { type: "string" },
  profile: { type: "string" },
  project: { type: "string" },
  user: { type: "boolean", default: false },
  help: { type: "boolean", short: "h", default: false },
} as const;

type Options = typeof CONNECT_OPTIONS | typeof SETUP_OPTIONS | typeof HOOKS_OPTIONS;

function parse<T extends Options>(options: T, args: string[], allowPositionals = false) {
  try {
    return parseArgs({ options, args, allowPositionals, strict: true });
  } catch (error) {
    throw new UsageError(`${(error as Error).message}\n\n${USAGE}`);
  }
}

/** How to run this CLI again (node binary and script), for split panes, hooks and the channel. */
function selfCommand(): string[] {
  return [process.execPath, realpathSync(fileURLToPath(import.meta.url))];
}

async function connect(args: string[]): Promise<number> {
  const { values } = parse(CONNECT_OPTIONS, args);
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const target = targetFrom(values);
  if (Boolean(values.pane) === values.stdout) {
    throw new UsageError("say where notices go: --pane %N (a tmux pane running Claude Code) or --stdout (JSON lines)");
  }

  // Said once, plainly, before anything else: a token for another group than expected shows here.
  for (const note of target.notes) process.stderr.write(`${note}\n`);
  if (!values.quiet) process.stderr.write(`relay-bridge ${VERSION}: group ${target.group}, peer ${target.peer}${target.observer ? " (observer)" : ""}, relay ${target.baseUrl}\n`);
  const status = values.quiet ? null : new StatusLine(`relay ${target.group}/${target.peer}`, process.stderr);
  const acks = new AckStore({ url: target.baseUrl, group: target.group, peer: target.peer });
  const stop = new AbortController();

  let sink: NoticeSink;
  let tmux: Tmux | null = null;
  let pane = "";
  let release = () => {};
  let shutdown = () => {};
  if (values.pane) {
    tmux = new Tmux();
    pane = await tmux.resolvePane(values.pane);
    // Before anything is typed: a second bridge on one pane garbles the input box.
    const lock = await acquirePaneLock({
      tmuxServer: (await tmux.run(["display-message", "-p", "#{socket_path}"])).trim(),
      pane,
      takeover: values.takeover,
      onTakeover: (pid) => {
        status?.note(`pane ${pane} taken over by another relay-bridge (pid ${pid}); stopping`);
        shutdown();
      },
    });
    release = () => lock.release();
    const info = await tmux.pane(pane);
    // A hint only: without `ps` (minimal containers) the bridge works all the same.
    const processes = await listProcesses().catch(() => null);
    if (processes && claudePanes([info], processes).length === 0) {
      status?.note(`note: no Claude Code process found in pane ${pane} yet; notices wait until its prompt shows`);
    }
    sink = new PaneSink(target.group, tmux, pane, status, stop.signal);
  } else {
    sink = new StdoutSink(target.group);
    // EPIPE and friends also reach the pending write's callback, which ends the bridge with a
    // message; without a listener here they would crash the process first.
    process.stdout.on("error", () => {});
  }

  const pressing = new PressingBoard({ url: target.baseUrl, group: target.group, peer: target.peer });
  const bridge = new Bridge({ socketUrl: target.socketUrl, token: target.token, group: target.group, peer: target.peer, sink, acks, status, pressing, ...(values.pane && { reannounce: { afterMs: REANNOUNCE_AFTER_MS } }) });

  shutdown = () => {
    stop.abort(new Error("stopped"));
    bridge.stop();
  };
  process.once("SIGINT", shutdown);
  process.once("SIGTERM", shutdown);
  process.once("SIGHUP", shutdown);

  // Notice a closed pane even while no mail comes.
  const watchdog =
    tmux &&
    setInterval(() => {
      tmux.pane(pane).catch((error: unknown) => bridge.fail(error));
    }, 5_000);

  try {
    await bridge.run();
    return 0;
  } finally {
    if (watchdog) clearInterval(watchdog);
    release();
    status?.finish();
  }
}

async function setupCommand(args: string[]): Promise<number> {
  const { values } = parse(SETUP_OPTIONS, args);
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (values.hooks && values["no-hooks"]) throw new UsageError("--hooks and --no-hooks contradict each other: pick one");
  const target = targetFrom(values);
  for (const note of target.notes) process.stdout.write(`${note}\n`);
  if (values.url !== undefined && values.token !== undefined && !values["print-only"]) rememberTarget(target, values.profile);
  if (values.client !== undefined && values.client !== "claude") {
    await setupOtherClient({ client: values.client, target, project: values.project, trust: values.trust, bridgeCommand: selfCommand(), print: (line) => process.stdout.write(`${line}\n`) });
    return 0;
  }
  await setup({
    target,
    tmux: new Tmux(),
    pane: values.pane,
    printOnly: values["print-only"],
    layout: values.compact ? "compact" : "sidebar",
    permissions: !values["no-permissions"],
    hooks: values.hooks ? "install" : values["no-hooks"] ? "skip" : "ask",
    channel: values.channel,
    bridgeCommand: selfCommand(),
    print: (line) => process.stdout.write(`${line}\n`),
  });
  return 0;
}

/** Setup given --url and --token saves them, so every later command needs no flags. */
function rememberTarget(target: RelayTarget, profile: string | undefined): void {
  const path = saveProfile(profile ?? target.group, { url: target.baseUrl, group: target.group, peer: target.peer, token: target.token });
  process.stdout.write(`saved relay ${target.baseUrl}, group ${target.group}, peer ${target.peer} to ${path} (profile ${profile ?? target.group})\n`);
}

async function hooksCommand(args: string[]): Promise<number> {
  const { values, positionals } = parse(HOOKS_OPTIONS, args, true);
  const [action, ...extra] = positionals;
  if (values.help || !action) {
    process.stdout.write(USAGE);
    return values.help ? 0 : 2;
  }
  if (extra.length > 0) throw new UsageError(`unexpected ${JSON.stringify(extra.join(" "))}: relay-bridge hooks install|uninstall|status [--project DIR | --user]`);
  if (values.user && values.project) throw new UsageError("--user and --project name different settings files: pick one");
  const scope: SettingsScope = values.user ? { user: true } : { project: values.project ?? process.cwd() };
  const say = (line: string) => process.stdout.write(`${line}\n`);
  switch (action) {
    case "install": {
      const result = installHooks(targetFrom(values), scope, selfCommand());
      say(`${result.replaced > 0 ? "replaced" : "added"} the relay's SessionStart, UserPromptSubmit, Stop and PostToolUse hooks in ${result.path} (profile ${result.profile})`);
      say(`and the claims guard (PreToolUse): edits and git commands that discard work inside another peer's claim are refused`);
      say(`they take effect in Claude Code sessions started from now on; to restart a running one, quit it and run ${RESTART_CLAUDE}`);
      return 0;
    }
    case "uninstall": {
      const result = uninstallHooks(scope);
      say(result.removed > 0 ? `removed ${result.removed} relay hooks from ${result.path}` : `no relay hooks in ${result.path}; nothing changed`);
      return 0;
    }
    case "status": {
      const scopes: SettingsScope[] = values.user ? [{ user: true }] : values.project ? [scope] : [scope, { user: true }];
      for (const line of hooksStatus(scopes)) say(line);
      return 0;
    }
    default:
      throw new UsageError(`unknown hooks action ${JSON.stringify(action)}: install, uninstall or status`);
  }
}

/**
 * The channel server lives in its own bundle (see channel-main.ts and channel/bundle.ts). The
 * specifier is computed, so esbuild leaves it out of this bundle.
 */
async function channelCommand(args: string[]): Promise<number> {
  requireChannelServer(import.meta.url);
  const channel = (await import(channelEntry(import.meta.url).href)) as { channelMain(args: string[]): Promise<number> };
  return channel.channelMain(args);
}

async function version(): Promise<number> {
  process.stdout.write(`relay-bridge ${VERSION}\n`);
  return 0;
}

/**
 * Every command, by name: adding one is one line here (and its usage text above). A command takes
 * the arguments after its name and resolves with the process's exit code.
 */
const COMMANDS: Record<string, (args: string[]) => Promise<number>> = {
  connect,
  setup: setupCommand,
  join,
  hooks: hooksCommand,
  // Loaded on demand: Claude Code waits for this command at every prompt and stop.
  hook: async (args) => (await import("../hooks/hook-command.ts")).runHook(args),
  channel: channelCommand,
  plugin: async (args) => (await import("../plugin/install.ts")).pluginCommand(args, selfCommand(), VERSION),
  "--version": version,
  version,
  ...CHAT_COMMANDS,
  status: async (args) => (await import("./receipts.ts")).statusCommand(args),
  ...CHAINS_COMMANDS,
  ...CLAIM_COMMANDS,
  guard: (args) => guard(selfCommand())(args),
  webhook: async (args) => (await import("./webhook.ts")).webhookCommand(args),
};

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    if (command === undefined || command === "help" || command === "--help" || command === "-h") {
      process.stdout.write(USAGE);
      return command === undefined ? 2 : 0;
    }
    const run = Object.hasOwn(COMMANDS, command) ? COMMANDS[command] : undefined;
    if (!run) throw new UsageError(`unknown command ${JSON.stringify(command)}\n\n${USAGE}`);
    return await run(rest);
  } catch (error) {
    if (error instanceof BridgeError) {
      process.stderr.write(`relay-bridge: ${error.message}\n`);
      return error.exitCode;
    }
    throw error;
  }
}

process.exitCode = await main(process.argv.slice(2));
// Whatever is still open (a socket closing politely, a tmux call) must not keep a finished bridge alive.
setTimeout(() => process.exit(), 3_000).unref();

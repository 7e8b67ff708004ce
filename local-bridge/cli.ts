/**
 * relay-bridge: the local side of claude-relay.
 *
 *   relay-bridge join    INVITE_URL [--name NAME]
 *   relay-bridge setup   [--url URL --token TOKEN] [--pane %N] [--print-only] [--compact]
 *   relay-bridge connect [--url URL --token TOKEN] (--pane %N | --stdout) [--quiet]
 *   relay-bridge send|dm|read|peers|history|ask|board|tail …   (chat.ts)
 *
 * RELAY_URL and RELAY_TOKEN stand in for --url and --token, and the config file (config-file.ts)
 * for both. Runs as TypeScript on Node 22
 * (`npm run bridge -- …`) and as the bundled dist/relay-bridge.mjs on Node 20 (the package bin).
 */
import { realpathSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { AckStore } from "./ack-store.ts";
import { Bridge, PaneSink, StdoutSink, type NoticeSink } from "./bridge.ts";
import { CHAT_COMMANDS, CHAT_USAGE } from "./chat.ts";
import { saveProfile } from "./config-file.ts";
import { targetFrom, type RelayTarget } from "./config.ts";
import { BridgeError, UsageError } from "./errors.ts";
import { join, JOIN_USAGE } from "./join.ts";
import { setup } from "./setup.ts";
import { StatusLine } from "./status.ts";
import { claudePanes, listProcesses, Tmux } from "./tmux.ts";

declare const __RELAY_BRIDGE_VERSION__: string | undefined;
/** Set by scripts/build-bridge.ts in the bundle; running from source, there is no build to name. */
const VERSION = typeof __RELAY_BRIDGE_VERSION__ === "string" ? __RELAY_BRIDGE_VERSION__ : "dev (from source)";

const USAGE = `relay-bridge: live relay notices for Claude Code sessions in tmux, and the relay from a terminal

Usage:
${JOIN_USAGE}
  relay-bridge setup   [--url URL --token TOKEN] [--pane %N] [--print-only] [--compact]
      Find the tmux pane running Claude Code (or use --pane), register the relay's tools there
      with \`claude mcp add\`, and open a sidebar beside it: the conversation (\`tail\`) under
      the bridge's status line. --compact: only the status, in a 3-line split below.
      --print-only prints the commands instead of running them. Given --url and --token, saves
      them in the config file first.

  relay-bridge connect [--url URL --token TOKEN] (--pane %N | --stdout) [--quiet]
      Hold the group's socket and announce new mail: one line typed into the Claude Code pane
      (when Claude is idle), or one JSON object per line on stdout.
      --quiet hides the status line on stderr.

${CHAT_USAGE}
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
  help: { type: "boolean", short: "h", default: false },
} as const;

const SETUP_OPTIONS = {
  url: { type: "string" },
  token: { type: "string" },
  profile: { type: "string" },
  pane: { type: "string" },
  "print-only": { type: "boolean", default: false },
  compact: { type: "boolean", default: false },
  help: { type: "boolean", short: "h", default: false },
} as const;

function parse<T extends typeof CONNECT_OPTIONS | typeof SETUP_OPTIONS>(options: T, args: string[]) {
  try {
    return parseArgs({ options, args, allowPositionals: false, strict: true }).values;
  } catch (error) {
    throw new UsageError(`${(error as Error).message}\n\n${USAGE}`);
  }
}

async function connect(args: string[]): Promise<number> {
  const values = parse(CONNECT_OPTIONS, args);
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
  if (values.pane) {
    tmux = new Tmux();
    pane = await tmux.resolvePane(values.pane);
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

  const bridge = new Bridge({ socketUrl: target.socketUrl, token: target.token, group: target.group, peer: target.peer, sink, acks, status });

  const shutdown = () => {
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
    status?.finish();
  }
}

async function setupCommand(args: string[]): Promise<number> {
  const values = parse(SETUP_OPTIONS, args);
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const target = targetFrom(values);
  for (const note of target.notes) process.stdout.write(`${note}\n`);
  if (values.url !== undefined && values.token !== undefined && !values["print-only"]) rememberTarget(target, values.profile);
  await setup({
    target,
    tmux: new Tmux(),
    pane: values.pane,
    printOnly: values["print-only"],
    layout: values.compact ? "compact" : "sidebar",
    bridgeCommand: [process.execPath, realpathSync(fileURLToPath(import.meta.url))],
    print: (line) => process.stdout.write(`${line}\n`),
  });
  return 0;
}

/** Setup given --url and --token saves them, so every later command needs no flags. */
function rememberTarget(target: RelayTarget, profile: string | undefined): void {
  const path = saveProfile(profile ?? target.group, { url: target.baseUrl, group: target.group, peer: target.peer, token: target.token });
  process.stdout.write(`saved relay ${target.baseUrl}, group ${target.group}, peer ${target.peer} to ${path} (profile ${profile ?? target.group})\n`);
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
  "--version": version,
  version,
  ...CHAT_COMMANDS,
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

/**
 * relay-bridge: the local side of claude-relay.
 *
 *   relay-bridge setup   --url URL --token TOKEN [--pane %N] [--print-only]
 *   relay-bridge connect --url URL --token TOKEN (--pane %N | --stdout) [--quiet]
 *
 * RELAY_URL and RELAY_TOKEN stand in for --url and --token. Runs as TypeScript on Node 22
 * (`npm run bridge -- …`) and as the bundled dist/relay-bridge.mjs on Node 20 (the package bin).
 */
import { realpathSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { AckStore } from "./ack-store.ts";
import { Bridge, PaneSink, StdoutSink, type NoticeSink } from "./bridge.ts";
import { resolveTarget } from "./config.ts";
import { BridgeError, UsageError } from "./errors.ts";
import { setup } from "./setup.ts";
import { StatusLine } from "./status.ts";
import { claudePanes, listProcesses, Tmux } from "./tmux.ts";

const USAGE = `relay-bridge: live relay notices for Claude Code sessions in tmux

Usage:
  relay-bridge setup   --url URL --token TOKEN [--pane %N] [--print-only]
      Find the tmux pane running Claude Code (or use --pane), register the relay's tools there
      with \`claude mcp add\`, and start \`connect\` for it in a small split below.
      --print-only prints the commands instead of running them.

  relay-bridge connect --url URL --token TOKEN (--pane %N | --stdout) [--quiet]
      Hold the group's socket and announce new mail: one line typed into the Claude Code pane
      (when Claude is idle), or one JSON object per line on stdout.
      --quiet hides the status line on stderr.

RELAY_URL and RELAY_TOKEN may stand in for --url and --token.
`;

const CONNECT_OPTIONS = {
  url: { type: "string" },
  token: { type: "string" },
  pane: { type: "string" },
  stdout: { type: "boolean", default: false },
  quiet: { type: "boolean", default: false },
  help: { type: "boolean", short: "h", default: false },
} as const;

const SETUP_OPTIONS = {
  url: { type: "string" },
  token: { type: "string" },
  pane: { type: "string" },
  "print-only": { type: "boolean", default: false },
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
  const target = resolveTarget(values.url ?? process.env.RELAY_URL, values.token ?? process.env.RELAY_TOKEN);
  if (Boolean(values.pane) === values.stdout) {
    throw new UsageError("say where notices go: --pane %N (a tmux pane running Claude Code) or --stdout (JSON lines)");
  }

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
  const target = resolveTarget(values.url ?? process.env.RELAY_URL, values.token ?? process.env.RELAY_TOKEN);
  await setup({
    target,
    tmux: new Tmux(),
    pane: values.pane,
    printOnly: values["print-only"],
    bridgeCommand: [process.execPath, realpathSync(fileURLToPath(import.meta.url))],
    print: (line) => process.stdout.write(`${line}\n`),
  });
  return 0;
}

/**
 * Every command, by name: adding one is one line here (and its usage text above). A command takes
 * the arguments after its name and resolves with the process's exit code.
 */
const COMMANDS: Record<string, (args: string[]) => Promise<number>> = {
  connect,
  setup: setupCommand,
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

/**
 * `relay-bridge channel …`, kept out of the main bundle: the MCP SDK's server (with zod and ajv)
 * is ~600 KB of code that every idle `connect` bridge would otherwise parse and hold (about 7 MB
 * more RSS, measured). The relay-bridge bundle imports this bundle (`dist/relay-channel.mjs`) only
 * when asked for `channel`; run directly, it is the same command.
 */
import { realpathSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { runChannel } from "./channel.ts";
import { targetFrom } from "../core/config.ts";
import { BridgeError, UsageError } from "../core/errors.ts";

const USAGE = `relay-bridge channel (--profile NAME | --url URL --token TOKEN)
  A stdio MCP server for Claude Code that pushes relay notices into the session as channel events.
  Launch Claude Code with: claude --dangerously-load-development-channels server:relay-channel
`;

export async function channelMain(args: string[]): Promise<number> {
  let values: { url?: string; token?: string; profile?: string; help?: boolean };
  try {
    values = parseArgs({
      args,
      options: { url: { type: "string" }, token: { type: "string" }, profile: { type: "string" }, help: { type: "boolean", short: "h" } },
      strict: true,
    }).values;
  } catch (error) {
    throw new UsageError(`${(error as Error).message}\n\n${USAGE}`);
  }
  if (values.help) {
    process.stderr.write(USAGE);
    return 0;
  }
  await runChannel(targetFrom(values));
  return 0;
}

// Run directly as its own bundle: `node relay-channel.mjs channel …`.
if (process.argv[1] && realpathSync(process.argv[1]) === realpathSync(fileURLToPath(import.meta.url))) {
  const [command, ...rest] = process.argv.slice(2);
  try {
    if (command !== "channel") throw new UsageError(USAGE);
    process.exitCode = await channelMain(rest);
  } catch (error) {
    if (!(error instanceof BridgeError)) throw error;
    process.stderr.write(`relay-bridge: ${error.message}\n`);
    process.exitCode = error.exitCode;
  }
  setTimeout(() => process.exit(), 3_000).unref();
}

/**
 * The guard standing alone, reading claims from a cache file a bridge keeps fresh:
 *
 *   node main.ts --claims-file FILE [--max-age SECONDS] <guard command…>   (see command.ts)
 *
 * The installed git hooks and the PreToolUse hook can point at this; `relay-bridge guard …` runs
 * the same commands with the claims of its profile. Any failure of its own lets the action through.
 */
import { runGuardCommand } from "./command.ts";
import { fileClaimsSource } from "./source.ts";

/** A cache older than this means no bridge is keeping it fresh. */
const DEFAULT_MAX_AGE_S = 120;

function takeOption(args: string[], name: string): string | undefined {
  const index = args.indexOf(name);
  if (index < 0) return undefined;
  const [, value] = args.splice(index, 2);
  return value;
}

const args = process.argv.slice(2);
const claimsFile = takeOption(args, "--claims-file");
const maxAge = Number(takeOption(args, "--max-age") ?? DEFAULT_MAX_AGE_S);

async function readStdin(): Promise<string> {
  let text = "";
  process.stdin.setEncoding("utf8");
  for await (const chunk of process.stdin) text += chunk;
  return text;
}

try {
  process.exitCode = await runGuardCommand(args, {
    cwd: process.cwd(),
    env: process.env,
    readStdin,
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
    source: claimsFile
      ? fileClaimsSource(claimsFile, maxAge * 1000)
      : {
          load: () => Promise.reject(new Error("no claims source given (--claims-file)")),
        },
  });
} catch (error) {
  // A guard must never stand between a person and their work over its own problem.
  process.stderr.write(`relay guard: ${(error as Error).message}; letting this through unchecked.\n`);
  process.exitCode = 0;
}

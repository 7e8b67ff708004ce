/**
 * Entry point of the small hook bundle (`dist/relay-hook.mjs`): `relay-hook.mjs hook <name> …`
 * runs exactly what `relay-bridge hook <name> …` runs, without loading the rest of the bridge.
 * Claude Code starts it at every prompt and every stop, so start-up is most of its cost.
 */
import { runHook } from "./hook-command.ts";
import { BridgeError } from "../core/errors.ts";

/** The claims guard (PreToolUse and the git hooks), with the claims of the profile it names. */
async function runGuard(args: string[]): Promise<number> {
  // Loaded on demand: the prompt and stop hooks need none of it.
  const { processGuardIo, runProfileGuard } = await import("../guard/profile-guard.ts");
  return runProfileGuard(args, {
    bridgeCommand: [process.execPath, process.argv[1] ?? ""],
    io: processGuardIo(),
  });
}

const [command, ...rest] = process.argv.slice(2);
try {
  if (command === "guard") process.exitCode = await runGuard(rest);
  else if (command !== "hook") throw new BridgeError(`relay-hook runs hooks only: relay-hook hook session-start|prompt|stop|tool --profile NAME, or relay-hook guard tool|check … --profile NAME`, 2);
  else process.exitCode = await runHook(rest);
} catch (error) {
  process.stderr.write(`relay-bridge hook: ${(error as Error).message}\n`);
  // A hook must never fail a person's session over its own problem.
  process.exitCode = error instanceof BridgeError && error.exitCode === 2 ? 2 : 0;
}

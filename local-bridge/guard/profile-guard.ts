/**
 * `relay-bridge guard …` (and `relay-hook.mjs guard …`): the guard's commands (command.ts) with
 * the claims of a stored profile, asked of the relay with one small GET each time
 * (relay-source.ts). Why no cache: a guarded call is rare (an edit, a discarding git command, a
 * commit), the GET is one indexed read in the group, and a cache would need its own freshness
 * rules to stay honest about a claim granted a moment ago. Calls that cannot touch a claim (most
 * Bash commands) make no request at all.
 *
 *   guard tool --profile NAME                    Claude Code's PreToolUse hook
 *   guard check --pre-commit|--pre-push … --profile NAME   what the git hooks run
 *   guard install [--dir DIR] [--profile NAME]  the git hooks, running `guard check` with the profile
 *   guard uninstall|status [--dir DIR] [--json]
 *
 * Whatever goes wrong on the way (no profile, relay down, slow or refusing), the action goes
 * through and stderr says why: a relay problem never stops a person's work.
 */
import { existsSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { loadProfile, type RelayTarget } from "../core/config.ts";
import { shellLine } from "../core/shell.ts";
import { GUARD_TIMEOUT_MS } from "./check.ts";
import { type GuardIo, runGuardCommand } from "./command.ts";
import { relayClaimsSource } from "./relay-source.ts";
import type { ClaimsSource } from "./source.ts";

/** The small hook-only bundle beside relay-bridge.mjs (hooks/hooks.ts uses the same name). */
const HOOK_BUNDLE = "relay-hook.mjs";

/** Takes `--name VALUE` (or `--name=VALUE`) out of args; the rest go on to the guard command. */
export function takeOption(args: string[], name: string): string | undefined {
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === name) {
      const [, value] = args.splice(i, 2);
      return value;
    }
    if (arg.startsWith(`${name}=`)) {
      args.splice(i, 1);
      return arg.slice(name.length + 1);
    }
  }
  return undefined;
}

/** The relay as the guard's claims source, or a source that says why there is none. */
export function profileSource(resolveTarget: () => RelayTarget, timeoutMs = GUARD_TIMEOUT_MS): ClaimsSource {
  return {
    load() {
      let target: RelayTarget;
      try {
        target = resolveTarget();
      } catch (error) {
        return Promise.reject(error instanceof Error ? error : new Error(String(error)));
      }
      return relayClaimsSource({ baseUrl: target.baseUrl, group: target.group, token: target.token }, timeoutMs).load();
    },
  };
}

/**
 * The command line the git hooks run: the small hook bundle when it sits beside the relay-bridge
 * bundle running now (it starts faster), else this same CLI.
 */
export function guardCheckCommand(bridgeCommand: string[], profile: string): string {
  const [node, script = ""] = bridgeCommand;
  const small = join(dirname(script), HOOK_BUNDLE);
  const runner = basename(script) === "relay-bridge.mjs" && existsSync(small) ? [node!, small] : bridgeCommand;
  return shellLine([...runner, "guard", "check", "--profile", profile]);
}

/** This process's own directory, environment, stdin and output, as the guard's commands use them. */
export function processGuardIo(): Omit<GuardIo, "source"> {
  return {
    cwd: process.cwd(),
    env: process.env,
    readStdin: async () => {
      let text = "";
      process.stdin.setEncoding("utf8");
      for await (const chunk of process.stdin) text += chunk;
      return text;
    },
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
  };
}

export interface ProfileGuardOptions {
  io: Omit<GuardIo, "source">;
  /** How to run this program again, for the git hooks' command line. */
  bridgeCommand: string[];
  /** The target when no --profile is given (flags, environment, the config file's default). */
  defaultTarget?: () => RelayTarget;
  /** Saves a target as a profile and returns its name (install, without --profile). */
  saveProfile?: (target: RelayTarget) => string;
}

/** Runs one guard command with the claims of `--profile` (or the default target); returns the exit code. */
export async function runProfileGuard(argv: string[], options: ProfileGuardOptions): Promise<number> {
  const args = [...argv];
  const profile = takeOption(args, "--profile");
  // The hooks take --timeout-ms too (hook-command.ts); here it bounds the one request to the relay.
  const timeoutText = takeOption(args, "--timeout-ms");
  const timeoutMs = timeoutText !== undefined && Number(timeoutText) > 0 ? Number(timeoutText) : undefined;
  const resolve = () => {
    if (profile !== undefined) return loadProfile(profile);
    if (options.defaultTarget) return options.defaultTarget();
    throw new Error("no --profile given: the hooks name the profile they were installed with");
  };
  if (args[0] === "install" && !args.includes("--command")) {
    let name = profile;
    if (name === undefined) {
      if (!options.saveProfile) throw new Error("say which profile the hooks use: --profile NAME");
      name = options.saveProfile(resolve());
    } else loadProfile(name);
    args.push("--command", guardCheckCommand(options.bridgeCommand, name));
  }
  if (args[0] !== "check" && args[0] !== "tool") return runGuardCommand(args, { ...options.io, source: profileSource(resolve, timeoutMs) });
  try {
    return await runGuardCommand(args, { ...options.io, source: profileSource(resolve, timeoutMs) });
  } catch (error) {
    // A guard must never stand between a person and their work over its own problem.
    options.io.stderr(`relay guard: ${(error as Error).message}; letting this through unchecked.\n`);
    return 0;
  }
}

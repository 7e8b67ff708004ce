/**
 * `guard check|tool|install|uninstall|status`: the guard's command line, whatever program hosts it
 * (`relay-bridge guard …` once wired, or main.ts standing alone). The host says where claims come
 * from; this parses the arguments, runs the check and answers with an exit code.
 *
 *   check --pre-commit              what the installed pre-commit hook runs
 *   check --pre-push REMOTE URL     what the installed pre-push hook runs (ref lines on stdin)
 *   tool                            Claude Code's PreToolUse hook (its JSON on stdin)
 *   install [--dir DIR] --command CMD   CMD: the shell command the hooks run, e.g. `relay-bridge guard check --profile work`
 *   uninstall [--dir DIR]
 *   status [--dir DIR] [--json]
 */
import { parseArgs } from "node:util";
import { checkGitHook, checkToolCall, guardMode } from "./check.ts";
import { GuardSetupError, guardStatus, installGuard, type GuardStatus, uninstallGuard } from "./install.ts";
import type { ClaimsSource } from "./source.ts";

export interface GuardIo {
  cwd: string;
  env: NodeJS.ProcessEnv;
  readStdin: () => Promise<string>;
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  /** The claims, from the options the host parsed (a profile, a cache file). */
  source: ClaimsSource;
}

export const GUARD_USAGE =
  "usage: guard check --pre-commit | check --pre-push REMOTE URL | tool | install [--dir DIR] --command CMD | uninstall [--dir DIR] | status [--dir DIR] [--json]";

function describeStatus(status: GuardStatus): string {
  const lines = status.hooks.map(
    (h) => `  ${h.hook}: ${h.state === "ours" ? "relay guard installed" : h.state === "other" ? "another hook (not the relay guard)" : "none"}${h.chained ? ", chaining to the hook that was there" : ""}`,
  );
  return `git hooks in ${status.hooksDir}:\n${lines.join("\n")}\n`;
}

/** Runs one guard command; returns the exit code. Unknown options are refused with the usage line (exit 2), except by `tool`, which fails open. */
export async function runGuardCommand(argv: string[], io: GuardIo): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        "pre-commit": { type: "boolean" },
        "pre-push": { type: "boolean" },
        dir: { type: "string" },
        command: { type: "string" },
        json: { type: "boolean" },
      },
    });
  } catch (error) {
    // Claude Code reads a PreToolUse hook's exit code 2 as "block this tool": a guard with a
    // bad command line lets the tool through and says so, rather than stopping every edit.
    if (argv[0] === "tool") {
      io.stderr(`relay guard: ${(error as Error).message}; letting this through unchecked.\n`);
      return 0;
    }
    io.stderr(`relay guard: ${(error as Error).message}\n${GUARD_USAGE}\n`);
    return 2;
  }
  const { values, positionals } = parsed;
  const [action, ...rest] = positionals;
  const mode = guardMode(io.env);
  try {
    switch (action) {
      case "check": {
        if (values["pre-commit"] === values["pre-push"]) break;
        const result = await checkGitHook({
          hook: values["pre-commit"] ? "pre-commit" : "pre-push",
          dir: io.cwd,
          ...(rest[0] !== undefined && { remote: rest[0] }),
          ...(values["pre-push"] && { stdin: await io.readStdin() }),
          mode,
          source: io.source,
        });
        if (result.message) io.stderr(result.message);
        return result.exitCode;
      }
      case "tool": {
        const result = await checkToolCall({ stdin: await io.readStdin(), source: io.source, cwd: io.cwd, mode });
        if (result.stdout) io.stdout(`${result.stdout}\n`);
        if (result.stderr) io.stderr(result.stderr);
        return 0;
      }
      case "install": {
        if (!values.command) break;
        const status = installGuard(values.dir ?? io.cwd, values.command);
        io.stdout(values.json ? `${JSON.stringify(status)}\n` : describeStatus(status));
        return 0;
      }
      case "uninstall":
      case "status": {
        const status = action === "uninstall" ? uninstallGuard(values.dir ?? io.cwd) : guardStatus(values.dir ?? io.cwd);
        io.stdout(values.json ? `${JSON.stringify(status)}\n` : describeStatus(status));
        return 0;
      }
    }
  } catch (error) {
    if (!(error instanceof GuardSetupError)) throw error;
    io.stderr(`relay guard: ${error.message}\n`);
    return 1;
  }
  io.stderr(`${GUARD_USAGE}\n`);
  return 2;
}

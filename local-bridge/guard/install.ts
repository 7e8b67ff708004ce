/**
 * The git guard's hooks: `pre-commit` and `pre-push` scripts in the directory git runs hooks from
 * (`core.hooksPath` when set, else `.git/hooks`; shared by linked worktrees). A hook already there
 * is kept beside ours as `<name>.relay-chained` and run after our check with the same arguments
 * and input, so husky, lint-staged or a team's own hook go on working; uninstalling puts it back.
 *
 * Our script runs the check command given at install (for example
 * `relay-bridge guard check --profile work`) with `--pre-commit` or `--pre-push REMOTE URL` and
 * the push's ref lines on stdin; a non-zero exit refuses the commit or push. `git commit
 * --no-verify` and `git push --no-verify` skip every hook, ours included, as git users expect.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { hooksDir } from "./git.ts";

export const GUARD_HOOKS = ["pre-commit", "pre-push"] as const;
export type GuardHook = (typeof GUARD_HOOKS)[number];

/** The line that marks a hook script as ours. */
const MARKER = "# relay-guard: installed by relay-bridge guard install";
const CHAINED_SUFFIX = ".relay-chained";

/** Why the guard cannot be installed or removed here, in words that say what to do. */
export class GuardSetupError extends Error {}

function script(hook: GuardHook, command: string): string {
  // pre-push reads its ref lines from stdin: kept in a variable, so both our check and the
  // chained hook get them. pre-commit has no input; the chained hook inherits stdin unchanged.
  const run =
    hook === "pre-push"
      ? [
          `input=$(cat)`,
          `printf '%s\\n' "$input" | ${command} --pre-push "$@" || exit $?`,
          `if [ -x "$hook_dir/${hook}${CHAINED_SUFFIX}" ]; then`,
          `  printf '%s\\n' "$input" | "$hook_dir/${hook}${CHAINED_SUFFIX}" "$@" || exit $?`,
          `fi`,
        ]
      : [`${command} --pre-commit || exit $?`, `if [ -x "$hook_dir/${hook}${CHAINED_SUFFIX}" ]; then`, `  exec "$hook_dir/${hook}${CHAINED_SUFFIX}" "$@"`, `fi`];
  return [
    "#!/bin/sh",
    MARKER,
    `# Refuses a ${hook === "pre-push" ? "push" : "commit"} that touches a path inside another peer's exclusive claim on the relay.`,
    "# RELAY_GUARD=warn only warns; --no-verify skips it. `relay-bridge guard uninstall` restores the hook that was here.",
    `hook_dir=$(dirname "$0")`,
    ...run,
    "exit 0",
    "",
  ].join("\n");
}

function isOurs(path: string): boolean {
  try {
    return readFileSync(path, "utf8").includes(MARKER);
  } catch {
    return false;
  }
}

function dirOf(dir: string): string {
  const hooks = hooksDir(dir);
  if (!hooks) throw new GuardSetupError(`${dir} is not inside a git worktree. Run this in your repository, or pass --dir with its path.`);
  return hooks;
}

export interface GuardHookStatus {
  hook: GuardHook;
  /** ours: the guard is installed; other: someone else's hook is there; absent: no hook. */
  state: "ours" | "other" | "absent";
  /** Whether a hook that was there before is kept and run after ours. */
  chained: boolean;
}

export interface GuardStatus {
  hooksDir: string;
  hooks: GuardHookStatus[];
}

export function guardStatus(dir: string): GuardStatus {
  const hooks = dirOf(dir);
  return {
    hooksDir: hooks,
    hooks: GUARD_HOOKS.map((hook) => {
      const path = join(hooks, hook);
      return {
        hook,
        state: isOurs(path) ? "ours" : existsSync(path) ? "other" : "absent",
        chained: existsSync(path + CHAINED_SUFFIX),
      };
    }),
  };
}

/**
 * Installs (or, run again, rewrites) both hooks, chaining to any hook already there. `command`
 * is a shell command line, already quoted.
 */
export function installGuard(dir: string, command: string): GuardStatus {
  const hooks = dirOf(dir);
  mkdirSync(hooks, { recursive: true });
  for (const hook of GUARD_HOOKS) {
    const path = join(hooks, hook);
    const chained = path + CHAINED_SUFFIX;
    if (existsSync(path) && !isOurs(path)) {
      if (existsSync(chained)) {
        throw new GuardSetupError(`${chained} already exists and ${path} is not the relay guard: move one of them away, then install again.`);
      }
      renameSync(path, chained);
    }
    writeFileSync(path, script(hook, command), { mode: 0o755 });
    chmodSync(path, 0o755);
  }
  return guardStatus(dir);
}

/**
 * Removes our hooks and puts back the ones they chained to. A hook that is not ours is left alone
 * (someone replaced the guard: their hook stays, and so does what it may call).
 */
export function uninstallGuard(dir: string): GuardStatus {
  const hooks = dirOf(dir);
  for (const hook of GUARD_HOOKS) {
    const path = join(hooks, hook);
    const chained = path + CHAINED_SUFFIX;
    if (!isOurs(path)) continue;
    rmSync(path);
    if (existsSync(chained)) renameSync(chained, path);
  }
  return guardStatus(dir);
}

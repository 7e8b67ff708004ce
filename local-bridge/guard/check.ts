/**
 * What the guard's commands do once the claims are at hand: the git hooks' check (refuse a commit
 * or push touching paths inside another peer's exclusive claim, naming the holder) and the Claude
 * Code PreToolUse hook. Both fail open: when the claims cannot be had in time, the action goes
 * through and the guard says so on stderr.
 */
import { blockingClaims, type ClaimConflict, describeClaim, whatToDo } from "../../contract/claim-rules.ts";
import { resolve } from "node:path";
import { decideToolCall, EDIT_TOOLS, mayTouchClaims, preToolUseOutput, type ToolCall } from "./decide.ts";
import { cachedRepoAt, locate, pushedPaths, type RepoLookup, repoAt, stagedPaths } from "./git.ts";
import { type ClaimsSource, loadWithin } from "./source.ts";

/** How long a guard waits for the claims before letting the action through. */
export const GUARD_TIMEOUT_MS = 1_500;

/** RELAY_GUARD: `warn` reports and lets through, `off` skips the check; anything else refuses. */
export type GuardMode = "block" | "warn" | "off";

export function guardMode(env: NodeJS.ProcessEnv): GuardMode {
  const value = env.RELAY_GUARD?.trim().toLowerCase();
  return value === "warn" || value === "off" ? value : "block";
}

export interface GitCheck {
  hook: "pre-commit" | "pre-push";
  /** Where git runs the hook: the top of the worktree. */
  dir: string;
  /** pre-push: the remote's name (git's first hook argument). */
  remote?: string;
  /** pre-push: the ref lines git gives the hook on stdin. */
  stdin?: string;
  mode: GuardMode;
  source: ClaimsSource;
  timeoutMs?: number;
  now?: () => number;
}

export interface CheckResult {
  exitCode: number;
  /** For stderr; empty when there is nothing to say. */
  message: string;
}

const MAX_PATHS_NAMED = 10;

/** Paths grouped under the claim that blocks them, then what to do. */
function describeBlocked(blocked: ClaimConflict[], now: number): string {
  const byClaim = new Map<string, { text: string; paths: string[] }>();
  for (const { requested, claim } of blocked) {
    const key = `${claim.peer}\n${claim.repo}\n${claim.pattern}`;
    const entry = byClaim.get(key) ?? { text: describeClaim(claim, now), paths: [] };
    if (!entry.paths.includes(requested)) entry.paths.push(requested);
    byClaim.set(key, entry);
  }
  const lines: string[] = [];
  for (const { text, paths } of byClaim.values()) {
    const named = paths.slice(0, MAX_PATHS_NAMED).join(", ");
    lines.push(`  ${named}${paths.length > MAX_PATHS_NAMED ? ` and ${paths.length - MAX_PATHS_NAMED} more` : ""}`, `    ${text}`);
  }
  return `${lines.join("\n")}\n${whatToDo(blocked)}`;
}

export async function checkGitHook(check: GitCheck): Promise<CheckResult> {
  if (check.mode === "off") return { exitCode: 0, message: "" };
  const context = await repoAt(check.dir);
  if (!context) return { exitCode: 0, message: "" };
  const paths = check.hook === "pre-commit" ? stagedPaths(context.root) : pushedPaths(context.root, check.remote ?? "origin", check.stdin ?? "");
  if (paths.length === 0) return { exitCode: 0, message: "" };
  let view;
  try {
    view = await loadWithin(check.source, check.timeoutMs ?? GUARD_TIMEOUT_MS);
  } catch (error) {
    const what = check.hook === "pre-commit" ? "commit" : "push";
    return { exitCode: 0, message: `relay guard: could not check claims (${(error as Error).message}); letting this ${what} through unchecked.\n` };
  }
  const now = (check.now ?? Date.now)();
  const blocked = paths.flatMap((path) => blockingClaims(path, context.repo, view.peer, view.claims, now));
  if (blocked.length === 0) return { exitCode: 0, message: "" };
  const what = check.hook === "pre-commit" ? "This commit" : "This push";
  const body = describeBlocked(blocked, now);
  if (check.mode === "warn") {
    return { exitCode: 0, message: `relay guard (warning only, RELAY_GUARD=warn): ${what.toLowerCase()} touches paths inside another peer's exclusive claim:\n${body}\n` };
  }
  const undo =
    check.hook === "pre-commit"
      ? "To commit the rest, unstage those paths (git restore --staged PATH)."
      : "To push the rest, move those commits to another branch first.";
  return {
    exitCode: 1,
    message: `relay guard: ${what} touches paths inside another peer's exclusive claim, so it was stopped:\n${body}\n${undo} If you have agreed it with them, run again with --no-verify (or RELAY_GUARD=warn).\n`,
  };
}

export interface ToolGuard {
  /** The PreToolUse hook's stdin. */
  stdin: string;
  source: ClaimsSource;
  cwd: string;
  mode: GuardMode;
  timeoutMs?: number;
  now?: () => number;
  repoAt?: RepoLookup;
}

/** The PreToolUse hook: stdout for Claude Code (empty to allow), stderr for the person. */
export async function checkToolCall(guard: ToolGuard): Promise<{ stdout: string; stderr: string }> {
  if (guard.mode === "off") return { stdout: "", stderr: "" };
  let call: ToolCall;
  try {
    call = JSON.parse(guard.stdin) as ToolCall;
  } catch {
    return { stdout: "", stderr: "relay guard: the hook input was not JSON; allowing the tool call.\n" };
  }
  if (!mayTouchClaims(call, guard.cwd)) return { stdout: "", stderr: "" };
  const lookup = cachedRepoAt(guard.repoAt ?? repoAt);
  // git is asked where the edited file sits while the claims are on their way; the decision
  // below finds the answer in the lookup's cache.
  const field = EDIT_TOOLS[call.tool_name ?? ""];
  const target = field === undefined ? undefined : call.tool_input?.[field];
  if (typeof target === "string" && target !== "") void locate(resolve(call.cwd || guard.cwd, target), lookup).catch(() => null);
  let view;
  try {
    view = await loadWithin(guard.source, guard.timeoutMs ?? GUARD_TIMEOUT_MS);
  } catch (error) {
    return { stdout: "", stderr: `relay guard: could not check claims (${(error as Error).message}); allowing the tool call unchecked.\n` };
  }
  const decision = await decideToolCall(call, {
    ...view,
    now: (guard.now ?? Date.now)(),
    cwd: guard.cwd,
    repoAt: lookup,
  });
  if (!decision.allow && guard.mode === "warn") return { stdout: "", stderr: `relay guard (warning only): ${decision.reason}\n` };
  return { stdout: preToolUseOutput(decision), stderr: "" };
}

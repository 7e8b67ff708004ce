/**
 * The decision behind Claude Code's PreToolUse hook: given the tool call Claude is about to make,
 * allow it, or deny it with a reason the model can act on. Denied are edits (Edit, Write,
 * MultiEdit, NotebookEdit) of a file inside another peer's exclusive claim, and Bash commands that
 * would discard uncommitted work there (bash.ts lists them), or in the whole tree while another
 * peer holds an exclusive claim in that repository. Shared claims and the peer's own never block.
 *
 * Claude Code reads the answer from stdout: nothing to allow (the usual permission rules then
 * apply), or `hookSpecificOutput.permissionDecision: "deny"` with `permissionDecisionReason`,
 * which the model receives as the tool's error.
 */
import { posix, resolve } from "node:path";
import { claimsReachedBy, blockingClaims, type ClaimConflict, describeClaim, whatToDo } from "../../contract/claim-rules.ts";
import { discardingGitCommands } from "./bash.ts";
import { locate, type RepoLookup } from "./git.ts";
import type { ClaimsView } from "./source.ts";

/** The part of PreToolUse's stdin JSON the guard reads. */
export interface ToolCall {
  tool_name?: string;
  tool_input?: Record<string, unknown>;
  /** The session's working directory: relative paths and Bash commands start there. */
  cwd?: string;
}

export type Decision = { allow: true } | { allow: false; reason: string };

export interface DecisionContext extends ClaimsView {
  now: number;
  /** The repository holding a directory (git.ts repoAt, cached per call). */
  repoAt: RepoLookup;
  /** Where relative paths start when the call names no cwd. */
  cwd: string;
}

/** The tools that write a file, and the input field naming it. */
export const EDIT_TOOLS: Record<string, string> = { Edit: "file_path", Write: "file_path", MultiEdit: "file_path", NotebookEdit: "notebook_path" };

/** The matcher for the hook's registration in Claude Code's settings. */
export const GUARD_MATCHER = "Edit|Write|MultiEdit|NotebookEdit|Bash";

/** Each blocking claim once, described, then what to do. */
function explain(conflicts: readonly ClaimConflict[], now: number): string {
  const seen = new Set<string>();
  const lines: string[] = [];
  for (const { claim } of conflicts) {
    const key = `${claim.peer}\n${claim.repo}\n${claim.pattern}`;
    if (seen.has(key)) continue;
    seen.add(key);
    lines.push(`${describeClaim(claim, now)}.`);
  }
  return `${lines.join(" ")} ${whatToDo(conflicts)}`;
}

/** Whether a call could be denied at all: most are not, and need no claims fetched. */
export function mayTouchClaims(call: ToolCall, cwd: string): boolean {
  if (EDIT_TOOLS[call.tool_name ?? ""] !== undefined) return true;
  const command = call.tool_input?.command;
  return call.tool_name === "Bash" && typeof command === "string" && discardingGitCommands(command, call.cwd || cwd).length > 0;
}

export async function decideToolCall(call: ToolCall, context: DecisionContext): Promise<Decision> {
  const input = call.tool_input ?? {};
  const cwd = typeof call.cwd === "string" && call.cwd !== "" ? call.cwd : context.cwd;
  const field = EDIT_TOOLS[call.tool_name ?? ""];
  if (field !== undefined) {
    const target = input[field];
    if (typeof target !== "string" || target === "") return { allow: true };
    const place = await locate(resolve(cwd, target), context.repoAt);
    if (!place) return { allow: true };
    const blocking = blockingClaims(place.path, place.context.repo, context.peer, context.claims, context.now);
    if (blocking.length === 0) return { allow: true };
    return {
      allow: false,
      reason: `[relay] ${place.path} is inside another peer's exclusive claim, so this ${call.tool_name} was not made. ${explain(blocking, context.now)}`,
    };
  }
  if (call.tool_name === "Bash" && typeof input.command === "string") {
    for (const command of discardingGitCommands(input.command, cwd)) {
      const place = await locate(command.cwd, context.repoAt);
      if (!place) continue;
      const reached: ClaimConflict[] = [];
      for (const spec of command.pathspecs ?? [null]) {
        const rooted = spec === null ? null : repoPathspec(spec, place.path);
        if (rooted === undefined) continue;
        reached.push(...claimsReachedBy(rooted, place.context.repo, context.peer, context.claims, context.now));
      }
      if (reached.length === 0) continue;
      const what =
        command.pathspecs === null
          ? `would discard or set aside uncommitted work across the whole tree, and another peer holds an exclusive claim in this repository`
          : `would discard or overwrite uncommitted work inside another peer's exclusive claim`;
      const narrower = command.pathspecs === null ? ` If you meant only your own files, name them (for example \`git stash push -- PATH\` or \`git checkout -- PATH\`) outside the claimed paths.` : "";
      return { allow: false, reason: `[relay] \`${command.text}\` ${what}, so it was not run. ${explain(reached, context.now)}${narrower}` };
    }
  }
  return { allow: true };
}

/**
 * A pathspec as written in a directory `prefix` (relative to the root) as a repository-relative
 * pattern: `:/x` and `:(top)x` start at the root; other pathspec magic counts as the whole tree
 * (null); a path outside the repository reaches nothing (undefined).
 */
function repoPathspec(spec: string, prefix: string): string | null | undefined {
  let path: string;
  if (spec.startsWith(":/")) path = spec.slice(2);
  else if (spec.startsWith(":(top)")) path = spec.slice(6);
  else if (spec.startsWith(":")) return null;
  else path = posix.join(prefix, spec);
  const normal = posix.normalize(path === "" ? "." : path);
  if (normal === ".." || normal.startsWith("../")) return undefined;
  return normal === "." ? "**" : normal.replace(/^\.\//, "");
}

/** The hook's stdout for a decision: nothing to allow, the deny JSON otherwise. */
export function preToolUseOutput(decision: Decision): string {
  if (decision.allow) return "";
  return JSON.stringify({ hookSpecificOutput: { hookEventName: "PreToolUse", permissionDecision: "deny", permissionDecisionReason: decision.reason } });
}

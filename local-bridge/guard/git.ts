/**
 * What the guards ask git: which repository a path is in (its root and normalised origin), the
 * staged paths of a commit, the paths of the commits a push sends, and where hooks live. Plain
 * `git` processes: git's own answer to each, including worktrees and `core.hooksPath`.
 */
import { execFile, spawnSync } from "node:child_process";
import { existsSync, realpathSync, statSync } from "node:fs";
import { basename, dirname, isAbsolute, join, relative, resolve } from "node:path";
import { normalisePath, normaliseRepo } from "../../contract/claim-rules.ts";

/** Runs git in `dir`; its stdout, or null when it fails (not a repository, no such remote…). */
export function git(dir: string, args: string[], input?: string): string | null {
  const result = spawnSync("git", args, { cwd: dir, encoding: "utf8", input, stdio: ["pipe", "pipe", "pipe"], maxBuffer: 64 * 1024 * 1024 });
  return result.status === 0 ? result.stdout : null;
}

/** git in `dir` without waiting for it: the guards ask two questions at once. */
function gitLater(dir: string, args: string[]): Promise<string | null> {
  return new Promise((resolve) => execFile("git", args, { cwd: dir, encoding: "utf8" }, (error, stdout) => resolve(error ? null : stdout)));
}

export interface RepoContext {
  /** The worktree's top directory, as git prints it (symlinks resolved). */
  root: string;
  /** The normalised `origin` (`github.com/acme/app`), or null when there is none. */
  repo: string | null;
}

/** The deepest directory of `path` (or `path` itself) that exists, with symlinks resolved, and the rest. */
function existingPart(path: string): { real: string; rest: string } {
  let dir = path;
  const rest: string[] = [];
  while (!existsSync(dir)) {
    const parent = dirname(dir);
    if (parent === dir) break;
    rest.unshift(basename(dir));
    dir = parent;
  }
  return { real: realpathSync(dir), rest: rest.join("/") };
}

export type RepoLookup = (dir: string) => Promise<RepoContext | null>;

/** The repository holding `dir`, or null when it is in none. Its two git questions run at once. */
export async function repoAt(dir: string): Promise<RepoContext | null> {
  const { real } = existingPart(dir);
  const [root, origin] = await Promise.all([gitLater(real, ["rev-parse", "--show-toplevel"]), gitLater(real, ["remote", "get-url", "origin"])]);
  if (!root?.trim()) return null;
  return { root: root.trim(), repo: origin?.trim() ? normaliseRepo(origin.trim()) : null };
}

/** A repository lookup that asks git once per directory: one tool call may name several. */
export function cachedRepoAt(lookup: RepoLookup = repoAt): RepoLookup {
  const cache = new Map<string, Promise<RepoContext | null>>();
  return (dir) => {
    if (!cache.has(dir)) cache.set(dir, lookup(dir));
    return cache.get(dir)!;
  };
}

/**
 * Where an absolute path sits: its repository and its path relative to the root (with `/`), or
 * null when it is in no repository (or is the `.git` directory's own content).
 */
export async function locate(path: string, lookup: RepoLookup): Promise<{ context: RepoContext; path: string } | null> {
  const { real, rest } = existingPart(path);
  // `real` exists: the path itself, or the deepest directory above it that does.
  const context = await lookup(rest === "" && !statSync(real).isDirectory() ? dirname(real) : real);
  if (!context) return null;
  const rel = relative(context.root, rest ? join(real, rest) : real).split("\\").join("/");
  if (rel.startsWith("..") || isAbsolute(rel)) return null;
  const normal = normalisePath(rel);
  if (normal === ".git" || normal.startsWith(".git/")) return null;
  return { context, path: normal };
}

/** NUL-separated git output as a list. */
function entries(output: string | null): string[] {
  return (output ?? "").split("\0").filter((p) => p !== "");
}

/** The paths a commit would record: staged changes, a rename counting as both its paths. */
export function stagedPaths(root: string): string[] {
  return entries(git(root, ["diff", "--cached", "--name-only", "--no-renames", "-z"]));
}

const ZERO = /^0+$/;

/**
 * The paths changed by the commits a push sends, from the lines git gives a pre-push hook on stdin
 * (`<local ref> <local sha> <remote ref> <remote sha>`). A new branch sends what no ref of that
 * remote already has; a deleted one sends nothing.
 */
export function pushedPaths(root: string, remote: string, stdin: string): string[] {
  const paths = new Set<string>();
  for (const line of stdin.split("\n")) {
    const [, localSha, , remoteSha] = line.trim().split(/\s+/);
    if (!localSha || ZERO.test(localSha)) continue;
    const known = remoteSha && !ZERO.test(remoteSha) && git(root, ["cat-file", "-e", `${remoteSha}^{commit}`]) !== null;
    const range = known ? [localSha, `^${remoteSha}`] : [localSha, "--not", `--remotes=${remote}`];
    for (const path of entries(git(root, ["log", "--format=", "--name-only", "--no-renames", "-z", ...range]))) paths.add(path.replace(/^\n+/, ""));
  }
  return [...paths].filter((p) => p !== "");
}

/** The directory git runs hooks from (honours `core.hooksPath` and linked worktrees). */
export function hooksDir(dir: string): string | null {
  // Asked at the top of the worktree: a relative core.hooksPath is relative to it, as when git runs hooks.
  const root = git(dir, ["rev-parse", "--show-toplevel"])?.trim();
  const out = root ? git(root, ["rev-parse", "--git-path", "hooks"])?.trim() : null;
  return root && out ? resolve(root, out) : null;
}

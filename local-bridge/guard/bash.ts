/**
 * Finds, in a Bash command Claude Code is about to run, the git commands that would throw away
 * uncommitted work: `git checkout -- PATH` and `git checkout .`, `git checkout -f`, `git restore`
 * (of the worktree), `git stash` in every form that stashes, `git reset --hard`, `git clean`,
 * `git switch --discard-changes`, `git rm`. For each it says which pathspecs it reaches (relative
 * to the directory it runs in) or that it reaches the whole tree.
 *
 * This reads shell text, it does not run a shell: it follows quotes, `&&`, `||`, `;`, `|`,
 * `cd DIR`, `git -C DIR`, env assignments and `sh -c '…'`, and no further (no variables, no
 * functions, no aliases, no scripts). It errs towards finding a command, never towards missing a
 * plainly written one.
 */
import { existsSync } from "node:fs";
import { resolve } from "node:path";

export interface DiscardingCommand {
  /** The git command as the shell would run it, words joined by spaces, for the reason shown. */
  text: string;
  /** Directory the command runs in (after `cd` and `-C`); pathspecs are relative to it. */
  cwd: string;
  /** Pathspecs it reaches, as written; null for the whole tree. */
  pathspecs: string[] | null;
}

const OPERATORS = ["&&", "||", ";;", ";", "|&", "|", "&", "\n", "(", ")"];

/** Splits shell text into simple commands (arrays of words), honouring quotes and escapes. */
export function shellCommands(text: string): string[][] {
  const commands: string[][] = [];
  let words: string[] = [];
  let word = "";
  let inWord = false;
  /** The next word is a redirection's target (`> out.log`), not an argument. */
  let dropNext = false;
  const endWord = () => {
    if (inWord && !dropNext) words.push(word);
    if (inWord) dropNext = false;
    word = "";
    inWord = false;
  };
  const endCommand = () => {
    endWord();
    dropNext = false;
    if (words.length > 0) commands.push(words);
    words = [];
  };
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === "'") {
      const end = text.indexOf("'", i + 1);
      word += text.slice(i + 1, end < 0 ? text.length : end);
      inWord = true;
      i = end < 0 ? text.length : end;
    } else if (c === '"') {
      inWord = true;
      for (i++; i < text.length && text[i] !== '"'; i++) {
        if (text[i] === "\\" && i + 1 < text.length && '"\\$`\n'.includes(text[i + 1]!)) i++;
        word += text[i];
      }
    } else if (c === "\\") {
      if (text[i + 1] !== "\n") {
        word += text[i + 1] ?? "";
        inWord = true;
      }
      i++;
    } else if (c === "#" && !inWord) {
      // A comment runs to the end of the line.
      while (i + 1 < text.length && text[i + 1] !== "\n") i++;
    } else if (c === " " || c === "\t") {
      endWord();
    } else if (c === ">" || c === "<" || (c === "&" && text[i + 1] === ">")) {
      // A redirection: `2>&1`, `> log`, `&> log`, `<<< text`. Its fd number and target are no arguments.
      if (!/^\d*$/.test(word)) endWord();
      word = "";
      inWord = false;
      while (i + 1 < text.length && "<>&|".includes(text[i + 1]!)) i++;
      if (/\d/.test(text[i + 1] ?? "") && text[i] === "&") {
        while (/\d/.test(text[i + 1] ?? "")) i++;
      } else dropNext = true;
    } else {
      const operator = OPERATORS.find((op) => text.startsWith(op, i));
      if (operator) {
        endCommand();
        i += operator.length - 1;
      } else {
        word += c;
        inWord = true;
      }
    }
  }
  endCommand();
  return commands;
}

/** Words that run the rest of the line as a command. */
const WRAPPERS = new Set(["command", "exec", "time", "nohup", "env", "sudo", "nice", "builtin"]);

interface Parsed {
  flags: Set<string>;
  positionals: string[];
  /** Words after `--`, or null when there was none. */
  afterDashes: string[] | null;
}

/**
 * Options and operands of a git subcommand. `valueShort`/`valueLong` name the options that take
 * a value as the next word (`-b NAME`, `--source TREE`). Short clusters (`-fdx`) count each letter.
 */
function parseOptions(args: string[], valueShort = "", valueLong: string[] = []): Parsed {
  const parsed: Parsed = { flags: new Set(), positionals: [], afterDashes: null };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === "--") {
      parsed.afterDashes = args.slice(i + 1);
      break;
    }
    if (arg.startsWith("--")) {
      const [name] = arg.slice(2).split("=", 1);
      parsed.flags.add(name!);
      if (!arg.includes("=") && valueLong.includes(name!)) i++;
    } else if (arg.startsWith("-") && arg.length > 1) {
      for (const [index, letter] of [...arg.slice(1)].entries()) {
        parsed.flags.add(letter);
        if (valueShort.includes(letter)) {
          // The rest of the cluster, or the next word, is the value.
          if (index === arg.length - 2) i++;
          break;
        }
      }
    } else parsed.positionals.push(arg);
  }
  return parsed;
}

function has(parsed: Parsed, ...names: string[]): boolean {
  return names.some((n) => parsed.flags.has(n));
}

const GLOB = /[*?[]/;

/** What one git subcommand would discard: pathspecs, null for the whole tree, or undefined for nothing. */
function discarded(subcommand: string, args: string[], cwd: string): string[] | null | undefined {
  const fromFile = (p: Parsed) => has(p, "pathspec-from-file");
  switch (subcommand) {
    case "checkout": {
      const p = parseOptions(args, "bB", ["orphan", "conflict", "pathspec-from-file"]);
      if (fromFile(p)) return null;
      if (p.afterDashes !== null) return p.afterDashes.length > 0 ? p.afterDashes : undefined;
      const force = has(p, "f", "force");
      const [first, ...rest] = p.positionals;
      if (has(p, "b", "B", "orphan")) return force ? null : undefined;
      if (first === undefined) return force ? null : undefined;
      // `git checkout X` switches branch unless X is a path; with more words the first is the
      // tree-ish to take the paths from, unless it is a path itself.
      const isPath = (w: string) => w === "." || w.startsWith(":") || GLOB.test(w) || existsSync(resolve(cwd, w));
      if (isPath(first)) return p.positionals;
      if (rest.length > 0) return rest;
      return force ? null : undefined;
    }
    case "restore": {
      const p = parseOptions(args, "s", ["source", "pathspec-from-file"]);
      if (has(p, "S", "staged") && !has(p, "W", "worktree")) return undefined;
      if (fromFile(p)) return null;
      const specs = [...p.positionals, ...(p.afterDashes ?? [])];
      return specs.length > 0 ? specs : undefined;
    }
    case "stash": {
      const [sub] = args;
      const stashing = sub === undefined || sub.startsWith("-") || sub === "push" || sub === "save";
      if (!stashing) return undefined;
      if (sub === "save") return null;
      const p = parseOptions(sub === "push" ? args.slice(1) : args, "m", ["message", "pathspec-from-file"]);
      if (fromFile(p)) return null;
      const specs = [...p.positionals, ...(p.afterDashes ?? [])];
      return specs.length > 0 ? specs : null;
    }
    case "reset": {
      const p = parseOptions(args);
      return has(p, "hard") ? null : undefined;
    }
    case "clean": {
      const p = parseOptions(args, "e", ["exclude"]);
      if (has(p, "n", "dry-run")) return undefined;
      const specs = [...p.positionals, ...(p.afterDashes ?? [])];
      return specs.length > 0 ? specs : null;
    }
    case "switch": {
      const p = parseOptions(args, "cC", ["create", "force-create", "orphan", "conflict"]);
      return has(p, "f", "force", "discard-changes") ? null : undefined;
    }
    case "rm": {
      const p = parseOptions(args, "", ["pathspec-from-file"]);
      if (has(p, "cached")) return undefined;
      if (fromFile(p)) return null;
      const specs = [...p.positionals, ...(p.afterDashes ?? [])];
      return specs.length > 0 ? specs : undefined;
    }
    default:
      return undefined;
  }
}

/** git's own options before the subcommand; those that take the next word as their value. */
const GIT_VALUE_OPTIONS = new Set(["-C", "-c", "--git-dir", "--work-tree", "--namespace", "--exec-path", "--config-env"]);

/** The discarding git commands in `command`, run from `cwd`. */
export function discardingGitCommands(command: string, cwd: string, depth = 0): DiscardingCommand[] {
  const found: DiscardingCommand[] = [];
  let dir = cwd;
  for (const original of shellCommands(command)) {
    let words = original;
    while (words.length > 0 && (/^[A-Za-z_][A-Za-z0-9_]*=/.test(words[0]!) || WRAPPERS.has(words[0]!))) words = words.slice(1);
    const [program, ...args] = words;
    if (program === undefined) continue;
    if (program === "cd") {
      // `cd DIR && git …` runs git in DIR; a bare `cd` or `cd -` is not followed.
      if (args[0] !== undefined && args[0] !== "-") dir = resolve(dir, args[0]);
      continue;
    }
    if ((program === "sh" || program === "bash" || program === "zsh") && depth < 3) {
      const script = args[args.indexOf("-c") + 1];
      if (args.includes("-c") && script !== undefined) found.push(...discardingGitCommands(script, dir, depth + 1));
      continue;
    }
    if (program !== "git" && !program.endsWith("/git")) continue;
    let gitDir = dir;
    let i = 0;
    for (; i < args.length && args[i]!.startsWith("-"); i++) {
      const option = args[i]!;
      if (option === "-C") gitDir = resolve(gitDir, args[i + 1] ?? ".");
      else if (option.startsWith("--work-tree=")) gitDir = resolve(gitDir, option.slice("--work-tree=".length));
      else if (option === "--work-tree") gitDir = resolve(gitDir, args[i + 1] ?? ".");
      if (GIT_VALUE_OPTIONS.has(option)) i++;
    }
    const subcommand = args[i];
    if (subcommand === undefined) continue;
    const pathspecs = discarded(subcommand, args.slice(i + 1), gitDir);
    if (pathspecs === undefined) continue;
    found.push({ text: ["git", ...args].join(" "), cwd: gitDir, pathspecs });
  }
  return found;
}

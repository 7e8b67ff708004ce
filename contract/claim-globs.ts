/**
 * Claim patterns: which paths a glob covers and whether two globs could cover one path. Part of
 * the claim rules (claim-rules.ts), apart because it is most of their code. No imports beyond the
 * contract's limits: the bridge's guards load it in a fresh process on every edit and commit.
 *
 * Patterns. A claim pattern is a glob relative to the repository root, `/`-separated:
 *   `*`   any characters within one path segment (it never crosses `/`)
 *   `?`   one character other than `/`
 *   `[…]` one character of a class: `[abc]`, `[a-z]`, negated `[!a-z]` or `[^a-z]`
 *   `**`  as a whole segment: zero or more segments (`src`, `**`, `test` joined by `/` covers
 *         both `src/test` and `src/a/b/test`)
 * Everything else is literal and case-sensitive, as git is. Directories: a pattern whose last
 * segment is a plain name covers that path and everything under it, so `src`, `src/` and
 * `src/**` are one pattern and a claim on a directory holds whatever is created in it later (how
 * people mean "I am working in src/"). A last segment with a wildcard covers only the paths it
 * matches: `src/*.ts` covers `src/a.ts`, not `src/a.ts/x`, and `*.md` does not reach into
 * directories; write `src/*` followed by `/**` (or a trailing `/`) for everything in
 * each matching directory. `.` or `**` claims the whole repository.
 *
 * Overlap. Two patterns overlap when some valid path (no empty segments) is covered by both; it
 * is decided exactly, by walking both patterns' automata together, so it holds both ways:
 * `src/**` and `src/a/*.ts` overlap, `*.md` and `docs/*.md` do not. (A pair built to make that
 * walk expensive is cut short and counted as overlapping: see MAX_WALK_STATES.)
 */
import { MAX_CLAIM_PATTERN_LENGTH, MAX_CLAIM_WILDCARDS } from "./limits.ts";

// ---------------------------------------------------------------------------------------------
// Pattern validation and normalisation
// ---------------------------------------------------------------------------------------------

/** Control characters: never part of a path or a repository name. */
export const CONTROL = /[\u0000-\u001f\u007f]/;

/**
 * Why `text` is not a valid claim pattern, in a sentence that says what to write instead, or null.
 * Checked before normalising, so the message quotes what the caller wrote.
 */
export function claimPatternProblem(text: string): string | null {
  const example = "relative to the repository root, like src/api/** or docs/*.md";
  if (text.length === 0) return `A path must not be empty: give a glob ${example}.`;
  if (text.length > MAX_CLAIM_PATTERN_LENGTH) return `A path is at most ${MAX_CLAIM_PATTERN_LENGTH} characters; claim a directory above it instead.`;
  if (CONTROL.test(text)) return `The path ${JSON.stringify(text)} contains control characters; give a glob ${example}.`;
  if (text.includes("\\")) return `The path '${text}' contains a backslash: use forward slashes, ${example}.`;
  if (text.startsWith("/") || text.startsWith("~") || /^[A-Za-z]:/.test(text)) {
    return `The path '${text}' is absolute: give it ${example} (run \`git rev-parse --show-toplevel\` to see the root).`;
  }
  const segments = stripDot(text).replace(/\/+$/, "").split("/");
  if (segments.some((s) => s === "..")) return `The path '${text}' contains '..': claims stay inside the repository; give it ${example}.`;
  if (segments.length > 1 && segments.some((s) => s === "" || s === ".")) {
    return `The path '${text}' has an empty or '.' segment: write it ${example}.`;
  }
  let wildcards = 0;
  const chars = [...text];
  for (let i = 0; i < chars.length; i++) {
    const c = chars[i]!;
    if (c === "*") {
      wildcards++;
      while (chars[i + 1] === "*") i++;
    } else if (c === "?") wildcards++;
    else if (c === "[") {
      const end = classEnd(chars, i);
      if (end < 0) return `The path '${text}' opens a character class '[' that is never closed; close it with ']' or leave the '[' out.`;
      wildcards++;
      i = end;
    }
  }
  if (wildcards > MAX_CLAIM_WILDCARDS) return `The path '${text}' has ${wildcards} wildcards; at most ${MAX_CLAIM_WILDCARDS}. Claim a directory instead.`;
  return null;
}

function stripDot(text: string): string {
  let out = text;
  while (out.startsWith("./")) out = out.slice(2).replace(/^\/+/, "");
  return out;
}

/** Whether a segment has a wildcard (then, last in a pattern, it does not cover what is under it). */
function hasWildcard(segment: string): boolean {
  return /[*?[]/.test(segment);
}

/**
 * The one spelling of a valid pattern: no leading `./`; runs of `**` segments as one; a trailing
 * `/` or `/**` dropped after a plain name (which covers what is under it anyway) and spelled `/**`
 * after a wildcard segment; `.` and `**` become `**`.
 */
export function normaliseClaimPattern(text: string): string {
  const stripped = stripDot(text);
  const directory = stripped.endsWith("/");
  const trimmed = stripped.replace(/\/+$/, "");
  if (trimmed === "" || trimmed === ".") return "**";
  const segments: string[] = [];
  for (const segment of trimmed.split("/")) {
    if (segment === "**" && segments.at(-1) === "**") continue;
    segments.push(segment);
  }
  if (directory && segments.at(-1) !== "**") segments.push("**");
  while (segments.length > 1 && segments.at(-1) === "**" && !hasWildcard(segments.at(-2)!)) segments.pop();
  return segments.join("/");
}

/** The index of the `]` closing the class opened at `open`, or -1. `]` right after `[`, `[!` or `[^` is literal. */
function classEnd(chars: string[], open: number): number {
  let i = open + 1;
  if (chars[i] === "!" || chars[i] === "^") i++;
  if (chars[i] === "]") i++;
  for (; i < chars.length; i++) {
    if (chars[i] === "/") return -1;
    if (chars[i] === "]") return i;
  }
  return -1;
}

// ---------------------------------------------------------------------------------------------
// Automata: each pattern becomes a small NFA over characters
// ---------------------------------------------------------------------------------------------

type CharSet =
  | { kind: "slash" }
  | { kind: "lit"; cp: number }
  | { kind: "notslash" }
  | { kind: "any" }
  | { kind: "class"; negated: boolean; ranges: [number, number][] };

interface Nfa {
  /** Per state: labelled edges and epsilon edges. */
  edges: { set: CharSet; to: number }[][];
  epsilon: number[][];
  accept: Set<number>;
}

const SLASH = "/".codePointAt(0)!;

function inSet(set: CharSet, cp: number): boolean {
  switch (set.kind) {
    case "slash":
      return cp === SLASH;
    case "lit":
      return cp === set.cp;
    case "notslash":
      return cp !== SLASH;
    case "any":
      return true;
    case "class":
      return cp !== SLASH && set.ranges.some(([lo, hi]) => cp >= lo && cp <= hi) !== set.negated;
  }
}

/** Whether some character other than `/` is in both sets. Exact: see the candidates below. */
function shareNonSlash(a: CharSet, b: CharSet): boolean {
  if (a.kind === "slash" || b.kind === "slash") return false;
  if (a.kind === "lit") return a.cp !== SLASH && inSet(b, a.cp);
  if (b.kind === "lit") return b.cp !== SLASH && inSet(a, b.cp);
  // Both are unions of ranges or their complements: their intersection, if not empty, contains
  // a range endpoint, a neighbour of one, or a character far from all of them.
  const candidates = [1, 0x10ffff, "a".codePointAt(0)!];
  for (const set of [a, b]) {
    if (set.kind !== "class") continue;
    for (const [lo, hi] of set.ranges) candidates.push(lo, hi, lo - 1, hi + 1);
  }
  return candidates.some((cp) => cp >= 0 && cp <= 0x10ffff && cp !== SLASH && inSet(a, cp) && inSet(b, cp));
}

function parseClass(chars: string[], open: number, end: number): CharSet {
  let i = open + 1;
  let negated = false;
  if (chars[i] === "!" || chars[i] === "^") {
    negated = true;
    i++;
  }
  const ranges: [number, number][] = [];
  for (; i < end; i++) {
    const lo = chars[i]!.codePointAt(0)!;
    if (chars[i + 1] === "-" && i + 2 < end) {
      const hi = chars[i + 2]!.codePointAt(0)!;
      if (lo <= hi) ranges.push([lo, hi]);
      i += 2;
    } else ranges.push([lo, lo]);
  }
  return { kind: "class", negated, ranges };
}

interface CompileOptions {
  /** Git pathspec semantics: `*` crosses `/` (fnmatch without FNM_PATHNAME). */
  starCrossesSlash?: boolean;
}

/**
 * Compiles a normalised pattern. The NFA accepts every path the pattern covers: what the pattern
 * matches and, when it ends in a plain name or `**`, anything under that (the directory rule).
 */
function compile(pattern: string, options: CompileOptions = {}): Nfa {
  const nfa: Nfa = { edges: [[]], epsilon: [[]], accept: new Set() };
  const state = () => {
    nfa.edges.push([]);
    nfa.epsilon.push([]);
    return nfa.edges.length - 1;
  };
  const edge = (from: number, set: CharSet, to: number) => nfa.edges[from]!.push({ set, to });
  let cur = 0;
  const segments = pattern.split("/");
  if (pattern === "**") {
    // Everything: any path at all.
    edge(0, { kind: "any" }, 0);
    nfa.accept.add(0);
    return nfa;
  }
  const last = segments.length - 1;
  // A trailing `**` (after a wildcard segment) is the directory rule itself, added below.
  const body = segments[last] === "**" ? segments.slice(0, last) : segments;
  const coversUnder = segments[last] === "**" || !hasWildcard(segments[last]!);
  body.forEach((segment, index) => {
    if (index > 0 && segments[index - 1] !== "**") {
      const next = state();
      edge(cur, { kind: "slash" }, next);
      cur = next;
    }
    if (segment === "**") {
      // `**/` before the next segment: zero or more whole segments, each ending in `/`.
      const inside = state();
      const next = state();
      nfa.epsilon[cur]!.push(next);
      edge(cur, { kind: "notslash" }, inside);
      edge(inside, { kind: "any" }, inside);
      edge(inside, { kind: "slash" }, next);
      cur = next;
      return;
    }
    const chars = [...segment];
    for (let i = 0; i < chars.length; i++) {
      const c = chars[i]!;
      if (c === "*") {
        while (chars[i + 1] === "*") i++;
        const loop = state();
        nfa.epsilon[cur]!.push(loop);
        edge(loop, { kind: options.starCrossesSlash ? "any" : "notslash" }, loop);
        cur = loop;
      } else if (c === "?") {
        const next = state();
        edge(cur, { kind: "notslash" }, next);
        cur = next;
      } else if (c === "[" && classEnd(chars, i) > 0) {
        const end = classEnd(chars, i);
        const next = state();
        edge(cur, parseClass(chars, i, end), next);
        cur = next;
        i = end;
      } else {
        const next = state();
        edge(cur, { kind: "lit", cp: c.codePointAt(0)! }, next);
        cur = next;
      }
    }
  });
  nfa.accept.add(cur);
  if (coversUnder) {
    // The directory rule: the pattern, or the pattern then `/` and anything under it.
    const under = state();
    edge(cur, { kind: "slash" }, under);
    edge(under, { kind: "any" }, under);
    nfa.accept.add(under);
  }
  return nfa;
}

const compiled = new Map<string, Nfa>();

function nfaFor(pattern: string, options: CompileOptions = {}): Nfa {
  const key = `${options.starCrossesSlash ? "p" : "c"}:${pattern}`;
  let nfa = compiled.get(key);
  if (!nfa) {
    nfa = compile(pattern, options);
    // A long-lived relay sees many patterns: a bounded cache, dropped whole when full.
    if (compiled.size >= 2_000) compiled.clear();
    compiled.set(key, nfa);
  }
  return nfa;
}

function closure(nfa: Nfa, states: Iterable<number>): Set<number> {
  const out = new Set(states);
  const stack = [...out];
  while (stack.length > 0) {
    for (const next of nfa.epsilon[stack.pop()!]!) {
      if (!out.has(next)) {
        out.add(next);
        stack.push(next);
      }
    }
  }
  return out;
}

/** Normalises a repository-relative path: no leading `./` or `/`, no trailing `/`, no empty segments. */
export function normalisePath(path: string): string {
  return path
    .split("/")
    .filter((s) => s !== "" && s !== ".")
    .join("/");
}

/** Whether `pattern` covers the repository-relative `path` (itself, or as a directory above it). */
export function claimCovers(pattern: string, path: string): boolean {
  return accepts(nfaFor(normaliseClaimPattern(pattern)), normalisePath(path));
}

function accepts(nfa: Nfa, text: string): boolean {
  let current = closure(nfa, [0]);
  for (const ch of text) {
    const cp = ch.codePointAt(0)!;
    const next: number[] = [];
    for (const s of current) for (const e of nfa.edges[s]!) if (inSet(e.set, cp)) next.push(e.to);
    if (next.length === 0) return false;
    current = closure(nfa, next);
  }
  return [...current].some((s) => nfa.accept.has(s));
}

/**
 * Whether some valid path is covered by both patterns. Symmetric by construction: the two
 * automata are walked together, one character at a time, over every character both allow, and
 * a third flag keeps the path valid (no leading, trailing or doubled `/`).
 */
export function patternsOverlap(a: string, b: string, options: { bIsPathspec?: boolean } = {}): boolean {
  const left = prepared(a);
  const right = prepared(b);
  // Every path either covers starts with its literal prefix: two prefixes that differ where both
  // have characters rule out any overlap without walking anything (most pairs, in practice).
  const shared = Math.min(left.prefix.length, right.prefix.length);
  if (left.prefix.slice(0, shared) !== right.prefix.slice(0, shared)) return false;
  return walkTogether(nfaFor(left.normal), nfaFor(right.normal, { starCrossesSlash: options.bIsPathspec === true }));
}

const preparedPatterns = new Map<string, { normal: string; prefix: string }>();

/** A pattern's normal spelling and literal prefix, kept: the relay compares the same claims again and again. */
function prepared(pattern: string): { normal: string; prefix: string } {
  let entry = preparedPatterns.get(pattern);
  if (!entry) {
    const normal = normaliseClaimPattern(pattern);
    entry = { normal, prefix: literalPrefix(normal) };
    if (preparedPatterns.size >= 2_000) preparedPatterns.clear();
    preparedPatterns.set(pattern, entry);
  }
  return entry;
}

/** The characters before a pattern's first wildcard. */
function literalPrefix(pattern: string): string {
  const wildcard = pattern.search(/[*?[]/);
  return wildcard < 0 ? pattern : pattern.slice(0, wildcard);
}

/**
 * States of the walk past which two patterns are taken to overlap. Patterns people write stay far
 * below it; a pair built to make the walk expensive is answered "overlap" (a conflict to talk
 * about, never a missed one) at a bounded cost.
 */
const MAX_WALK_STATES = 20_000;

function walkTogether(left: Nfa, right: Nfa): boolean {
  const width = right.edges.length * 2;
  const seen = new Set<number>();
  const queue: number[] = [];
  const visit = (p: number, q: number, afterSlash: boolean) => {
    const key = p * width + q * 2 + (afterSlash ? 1 : 0);
    if (seen.has(key)) return;
    seen.add(key);
    queue.push(key);
  };
  // At the start a `/` is not allowed either: treat it as just after one.
  visit(0, 0, true);
  while (queue.length > 0) {
    if (seen.size > MAX_WALK_STATES) return true;
    const key = queue.pop()!;
    const p = Math.floor(key / width);
    const q = (key % width) >> 1;
    const afterSlash = (key & 1) === 1;
    if (!afterSlash && left.accept.has(p) && right.accept.has(q)) return true;
    for (const next of left.epsilon[p]!) visit(next, q, afterSlash);
    for (const next of right.epsilon[q]!) visit(p, next, afterSlash);
    for (const l of left.edges[p]!) {
      for (const r of right.edges[q]!) {
        if (!afterSlash && inSet(l.set, SLASH) && inSet(r.set, SLASH)) visit(l.to, r.to, true);
        if (shareNonSlash(l.set, r.set)) visit(l.to, r.to, false);
      }
    }
  }
  return false;
}

/**
 * Groups, peers, state keys and tags share one naming rule, stated once so every error can quote it
 * and every side (relay, bridge, CLI) checks it the same way.
 */
export const NAME_RULE =
  "1 to 64 characters: lower-case letters, digits, '.', '_' or '-', starting with a letter or digit";
export const NAME_PATTERN = /^[a-z0-9][a-z0-9._-]{0,63}$/;

export function isValidName(value: string): boolean {
  return NAME_PATTERN.test(value);
}

/** Tags follow the same characters, shorter: they are printed in headers and must not carry text. */
export const TAG_RULE = "1 to 32 characters: lower-case letters, digits, '.', '_' or '-', starting with a letter or digit";
export const TAG_PATTERN = /^[a-z0-9][a-z0-9._-]{0,31}$/;

/**
 * A peer-written field shown on one line (a profile's summary, host, cwd, branch): control
 * characters, line breaks and bidirectional overrides become spaces, runs of spaces one space, and
 * the ends are trimmed, so the field can neither start a new line nor reorder what follows it.
 */
export function singleLine(text: string): string {
  return text
    .replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]/g, " ")
    .replace(/\s+/g, " ")
    .trim();
}

/**
 * Look-alike peer names. Two names with one skeleton read as one name to a person scanning a peer
 * list or a message header, so an invite may not take a name that looks like one the group
 * already knows. The skeleton of a (valid, so lower-case ASCII) name:
 *
 *   1. drops every separator, '.', '_' and '-', wherever it stands: `alice.`, `-alice` and `al-ice`
 *      all read as `alice` at a glance, and a trailing dot vanishes into a sentence;
 *   2. maps the characters that pass for another, each to one representative (CONFUSABLE_CHARS):
 *      0 as o; 1 and i as l; 3 as e; 4 as a; 5 as s; 7 as t;
 *   3. maps the letter pairs that pass for one letter in a proportional font: rn as m, vv as w.
 *
 * Kept deliberately small: every pair here is one people mistake in practice, and each added pair
 * refuses more honest names (with 2 as z, `web2` could not join beside `webz`). Digits that read
 * as no letter (2, 6, 8, 9) stay, so `agent-1` and `agent-2` remain two names.
 */
export const CONFUSABLE_CHARS: Readonly<Record<string, string>> = { "0": "o", "1": "l", i: "l", "3": "e", "4": "a", "5": "s", "7": "t" };
export const CONFUSABLE_PAIRS: Readonly<Record<string, string>> = { rn: "m", vv: "w" };

/** What the refusal quotes, built from the tables above so the message and the rule never drift. */
export const LOOK_ALIKE_RULE = `names that differ only in '.', '_' or '-', or in characters that pass for one another (${[
  ...Object.entries(CONFUSABLE_CHARS).map(([from, to]) => `${from}/${to}`),
  ...Object.entries(CONFUSABLE_PAIRS).map(([from, to]) => `${from}/${to}`),
].join(", ")}), count as one name`;

export function nameSkeleton(name: string): string {
  let skeleton = "";
  for (const char of name.replace(/[._-]/g, "")) skeleton += CONFUSABLE_CHARS[char] ?? char;
  for (const [pair, letter] of Object.entries(CONFUSABLE_PAIRS)) skeleton = skeleton.replaceAll(pair, letter);
  return skeleton;
}

/** The first of `known` that looks like `name` without being it, or null. */
export function lookAlikeOf(name: string, known: Iterable<string>): string | null {
  const skeleton = nameSkeleton(name);
  for (const other of known) {
    if (other !== name && nameSkeleton(other) === skeleton) return other;
  }
  return null;
}

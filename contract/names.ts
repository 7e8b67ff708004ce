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

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

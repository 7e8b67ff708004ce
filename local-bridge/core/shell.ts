/**
 * Command lines people read and paste, and tools run: hook commands, `claude mcp add`, tmux splits.
 */

/** Quotes one word for a POSIX shell; double quotes where they suffice, since people read this. */
export function shellQuote(word: string): string {
  if (/^[A-Za-z0-9_/.:%=@+,-]+$/.test(word)) return word;
  if (!/["$`\\!]/.test(word)) return `"${word}"`;
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

export function shellLine(argv: string[]): string {
  return argv.map(shellQuote).join(" ");
}

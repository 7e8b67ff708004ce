/**
 * The one status line a person glances at, on stderr: connection, pane, last notice. On a terminal
 * it is rewritten in place; otherwise (a log file, a test) each change is one plain line.
 * `--quiet` silences it; final errors are printed by the CLI regardless.
 */
export interface StatusFields {
  /** "connected", "retrying in 4 s (relay unreachable: …)", … */
  connection: string;
  /** "waiting for Claude to be idle (Claude is busy)", or null when nothing is waiting. */
  delivery: string | null;
  /** "last notice 14:03:05 (2 messages)". */
  last: string | null;
}

export interface StatusStream {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

export class StatusLine {
  private readonly fields: StatusFields = { connection: "starting", delivery: null, last: null };
  private readonly prefix: string;
  private readonly stream: StatusStream | null;
  private shown = "";

  constructor(prefix: string, stream: StatusStream | null) {
    this.prefix = prefix;
    this.stream = stream;
  }

  update(change: Partial<StatusFields>): void {
    Object.assign(this.fields, change);
    this.render();
  }

  /** Prints a line that stays (e.g. why the bridge is exiting), leaving the status line below it. */
  note(text: string): void {
    if (!this.stream) return;
    if (this.stream.isTTY) this.stream.write(`\r\x1b[2K${text}\n`);
    else this.stream.write(`${text}\n`);
    this.shown = "";
    this.render();
  }

  /** Ends the in-place line so whatever prints next starts on a fresh line. */
  finish(): void {
    if (this.stream?.isTTY && this.shown) this.stream.write("\n");
    this.shown = "";
  }

  private render(): void {
    if (!this.stream) return;
    const { connection, delivery, last } = this.fields;
    const text = [this.prefix, connection, delivery, last].filter(Boolean).join(" · ");
    if (text === this.shown) return;
    this.shown = text;
    if (this.stream.isTTY) {
      const width = this.stream.columns ?? 80;
      const fitted = text.length >= width ? `${text.slice(0, Math.max(0, width - 2))}…` : text;
      this.stream.write(`\r\x1b[2K${fitted}`);
    } else {
      this.stream.write(`${text}\n`);
    }
  }
}

export function clock(date = new Date()): string {
  return date.toTimeString().slice(0, 8);
}

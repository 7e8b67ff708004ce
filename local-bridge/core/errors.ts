/**
 * An error the bridge cannot fix by waiting: a refused token, a pane that is gone, tmux missing.
 * The CLI prints `message` (which says what to do next) and exits with `exitCode`; no stack trace,
 * no retry loop.
 */
export class BridgeError extends Error {
  readonly exitCode: number;

  constructor(message: string, exitCode = 1) {
    super(message);
    this.name = "BridgeError";
    this.exitCode = exitCode;
  }
}

/** Wrong or missing command-line input. */
export class UsageError extends BridgeError {
  constructor(message: string) {
    super(message, 2);
    this.name = "UsageError";
  }
}

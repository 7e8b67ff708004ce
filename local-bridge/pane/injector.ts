/**
 * Types one notice line into a Claude Code pane, the careful way (../shared/notes/tmux-injection.md):
 * only when two polls ~200 ms apart show the same idle screen with an empty input box; literal
 * typing; Enter as its own call after a pause; success confirmed from the screen, Enter retried;
 * otherwise wait and try again.
 *
 * Two steps, so data only flows down into this module: `whenReady()` waits for Claude, then the
 * caller decides what to say (whatever arrived meanwhile belongs in the line, whatever was read
 * meanwhile does not) and hands the finished line to `type()`. The line comes already sanitised
 * (renderLine); `type()` only checks that, it does not clean it a second time. One caller at a time:
 * the bridge's single pump is this pane's only typist.
 */
import { inputHolds, notReadyReason, readScreen, type Screen } from "./screen.ts";
import type { Tmux } from "./tmux.ts";

export interface InjectorOptions {
  /** Gap between the two polls that must agree, and between checks while waiting. */
  pollMs?: number;
  /**
   * Pause between the typed text showing in the box and Enter (Enter in the same breath becomes a
   * newline in the box; the field reports 100-600 ms from typing, and the text showing comes first).
   */
  enterPauseMs?: number;
  /** How long to watch for the typed text to appear, and for Enter to take it. */
  confirmMs?: number;
  /** Extra Enter presses when the first does not submit. */
  enterRetries?: number;
  /** Called with why the line is not typed yet, and with null once nothing is waiting. */
  onWaiting?: (reason: string | null) => void;
  signal?: AbortSignal;
}

// Anything that would act as a key rather than text: a newline inside `send-keys -l` text is Enter.
const NOT_ONE_LINE = /[\x00-\x1f\x7f-\x9f\u2028\u2029]/;

export class PaneInjector {
  private readonly tmux: Tmux;
  readonly pane: string;
  private readonly opts: Required<Omit<InjectorOptions, "signal">> & { signal?: AbortSignal };
  /** The last reason reported to `onWaiting`, so each change is reported once. */
  private reported: string | null = null;

  constructor(tmux: Tmux, pane: string, options: InjectorOptions = {}) {
    this.tmux = tmux;
    this.pane = pane;
    this.opts = { pollMs: 200, enterPauseMs: 100, confirmMs: 1500, enterRetries: 3, onWaiting: () => {}, ...options };
  }

  /**
   * Resolves once Claude is idle with an empty input box, for as long as it takes. Rejects only
   * when the pane is gone (or tmux fails for good) or the signal aborts.
   */
  async whenReady(): Promise<void> {
    await this.turn(null);
    this.report(null);
  }

  /**
   * Types `line` and submits it; call it right after `whenReady()`. Resolves once Claude Code has
   * taken the line; if it did not show or Enter did not take it, waits for the pane again and
   * retries. Rejects like `whenReady()`, or at once for a line that is not one clean line.
   */
  async type(line: string): Promise<void> {
    if (NOT_ONE_LINE.test(line)) throw new Error(`refusing to type a line with control characters: ${JSON.stringify(line)}`);
    let state: "empty" | "typed" = "empty";
    for (;;) {
      if (state === "empty") {
        await this.tmux.leaveMode(this.pane);
        // From here on a stop request waits: a typed but unsubmitted line would be left in
        // Claude's input box for the person to find.
        await this.tmux.typeLiteral(this.pane, line);
        if (!(await this.watch((s) => inputHolds(s, line), false))) {
          this.report("typed the notice but it did not show in the input box; checking again");
          state = await this.turn(line);
          continue;
        }
      }
      for (let attempt = 0; attempt <= this.opts.enterRetries; attempt++) {
        await this.sleep(this.opts.enterPauseMs * (attempt + 1), false);
        await this.tmux.pressEnter(this.pane);
        if (await this.watch((s) => !inputHolds(s, line), false)) {
          this.report(null);
          return;
        }
      }
      this.report("the notice is typed but Enter did not submit it; retrying");
      state = await this.turn(line);
    }
  }

  /**
   * Polls until the pane can take a line: "empty" when Claude is idle with an empty box, or
   * "typed" when the box holds `ours`, a line typed earlier but not submitted, which only needs Enter.
   */
  private async turn(ours: string | null): Promise<"empty" | "typed"> {
    // Each capture is compared with the one before it, so a screen that was still changing needs
    // one more capture pollMs later to count as settled, not a fresh pair.
    let previous = await this.tmux.capture(this.pane);
    for (;;) {
      this.checkAborted();
      await this.sleep(this.opts.pollMs);
      const current = await this.tmux.capture(this.pane);
      const settled = current === previous;
      previous = current;
      const screen = readScreen(current);
      if (ours !== null && settled && !screen.busy && inputHolds(screen, ours)) return "typed";
      const notReady = notReadyReason(screen);
      const reason = notReady ?? (settled ? null : "the screen is still changing");
      if (!reason) return "empty";
      this.report(reason);
      // Busy, a dialog, someone typing: those last, so look less often than while settling.
      if (notReady) await this.sleep(this.opts.pollMs);
    }
  }

  private report(reason: string | null): void {
    if (reason !== this.reported) this.opts.onWaiting(reason);
    this.reported = reason;
  }

  /** Polls the screen until `test` holds (true) or `confirmMs` passes (false). */
  private async watch(test: (screen: Screen) => boolean, abortable: boolean): Promise<boolean> {
    const deadline = Date.now() + this.opts.confirmMs;
    for (;;) {
      if (test(readScreen(await this.tmux.capture(this.pane)))) return true;
      if (Date.now() >= deadline) return false;
      await this.sleep(50, abortable);
    }
  }

  private checkAborted(): void {
    if (this.opts.signal?.aborted) throw this.opts.signal.reason ?? new Error("aborted");
  }

  private sleep(ms: number, abortable = true): Promise<void> {
    return new Promise((resolve, reject) => {
      const signal = abortable ? this.opts.signal : undefined;
      if (signal?.aborted) return reject(signal.reason);
      const timer = setTimeout(() => {
        signal?.removeEventListener("abort", onAbort);
        resolve();
      }, ms);
      const onAbort = () => {
        clearTimeout(timer);
        reject(signal!.reason);
      };
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }
}

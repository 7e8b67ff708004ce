/**
 * Types one notice line into a Claude Code pane, the careful way (../shared/notes/tmux-injection.md):
 * one injection at a time per pane; only when two polls ~200 ms apart show the same idle screen
 * with an empty input box; control characters stripped; literal typing; Enter as its own call
 * after a pause; success confirmed from the screen, Enter retried; otherwise wait and try again.
 */
import { sanitizeLine } from "./notices.ts";
import { inputHolds, notReadyReason, readScreen, type Screen } from "./screen.ts";
import type { Tmux } from "./tmux.ts";

export interface InjectorOptions {
  /** Gap between the two polls that must agree, and between checks while waiting. */
  pollMs?: number;
  /** Pause between typing and Enter (Enter in the same breath becomes a newline in the box). */
  enterPauseMs?: number;
  /** How long to watch for the typed text to appear, and for Enter to take it. */
  confirmMs?: number;
  /** Extra Enter presses when the first does not submit. */
  enterRetries?: number;
  /** Called with why the line is not typed yet, and with null once it landed. */
  onWaiting?: (reason: string | null) => void;
  signal?: AbortSignal;
}

/** In-process queue per pane: a second notice never types while the first is still in the box. */
const paneQueues = new Map<string, Promise<unknown>>();

export class PaneInjector {
  private readonly tmux: Tmux;
  readonly pane: string;
  private readonly opts: Required<Omit<InjectorOptions, "signal">> & { signal?: AbortSignal };

  constructor(tmux: Tmux, pane: string, options: InjectorOptions = {}) {
    this.tmux = tmux;
    this.pane = pane;
    this.opts = { pollMs: 200, enterPauseMs: 150, confirmMs: 1500, enterRetries: 3, onWaiting: () => {}, ...options };
  }

  /**
   * Waits until the pane is ready, then calls `render()` for the line (so anything that arrived
   * while waiting is in it), types it and submits it. Resolves with the line once Claude Code has
   * taken it; keeps waiting and retrying otherwise. Rejects only when the pane is gone (or tmux
   * fails for good) or the signal aborts. When `render()` returns null there is nothing left to
   * say: nothing is typed and the result is null.
   */
  inject(render: () => string | null): Promise<string | null> {
    const previous = paneQueues.get(this.pane) ?? Promise.resolve();
    const run = previous.catch(() => {}).then(() => this.injectNow(render));
    const tail = run.catch(() => {});
    paneQueues.set(this.pane, tail);
    void tail.then(() => {
      if (paneQueues.get(this.pane) === tail) paneQueues.delete(this.pane);
    });
    return run;
  }

  private async injectNow(render: () => string | null): Promise<string | null> {
    let line: string | null = null;
    let lastReason: string | null = null;
    const waiting = (reason: string) => {
      if (reason !== lastReason) this.opts.onWaiting(reason);
      lastReason = reason;
    };

    for (;;) {
      this.checkAborted();
      const { screen, settled } = await this.settledScreen();

      // Our own line from an earlier round, typed but not yet submitted: just submit it.
      const ours = line !== null && settled && !screen.busy && inputHolds(screen, line);
      if (!ours) {
        const reason = notReadyReason(screen) ?? (settled ? null : "the screen is still changing");
        if (reason) {
          waiting(reason);
          await this.sleep(this.opts.pollMs);
          continue;
        }
        if (line === null) {
          const rendered = render();
          if (rendered === null) {
            this.opts.onWaiting(null);
            return null;
          }
          line = sanitizeLine(rendered).replace(/\s+/g, " ").trim();
        }
        await this.tmux.leaveMode(this.pane);
        // From here on a stop request waits: a typed but unsubmitted line would be left in
        // Claude's input box for the person to find.
        await this.tmux.typeLiteral(this.pane, line);
        const typed = line;
        if (!(await this.watch((s) => inputHolds(s, typed), false))) {
          waiting("typed the notice but it did not show in the input box; checking again");
          continue;
        }
      }

      const typed = line!;
      for (let attempt = 0; attempt <= this.opts.enterRetries; attempt++) {
        await this.sleep(this.opts.enterPauseMs * (attempt + 1), false);
        await this.tmux.pressEnter(this.pane);
        if (await this.watch((s) => !inputHolds(s, typed), false)) {
          this.opts.onWaiting(null);
          return typed;
        }
      }
      waiting("the notice is typed but Enter did not submit it; retrying");
    }
  }

  /** Two captures `pollMs` apart; `settled` when they are identical. */
  private async settledScreen(): Promise<{ screen: Screen; settled: boolean }> {
    const first = await this.tmux.capture(this.pane);
    await this.sleep(this.opts.pollMs);
    const second = await this.tmux.capture(this.pane);
    return { screen: readScreen(second), settled: first === second };
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

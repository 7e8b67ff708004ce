/**
 * Where `connect --pane` sends notices: one line per batch typed into the Claude Code pane, once
 * Claude is idle (the Bridge in core/bridge.ts decides what a batch is and when it is acked).
 */
import type { NoticeFrame } from "../../contract/frames.ts";
import type { NoticeSink } from "../core/bridge.ts";
import { renderLine } from "../core/notices.ts";
import type { StatusLine } from "../core/status.ts";
import { PaneInjector } from "./injector.ts";
import type { Tmux } from "./tmux.ts";

/** Types one line per batch into a tmux pane, once Claude is idle. */
export class PaneSink implements NoticeSink {
  readonly maxBatch = Number.POSITIVE_INFINITY;
  private readonly injector: PaneInjector;
  private readonly group: string;

  constructor(group: string, tmux: Tmux, pane: string, status: StatusLine | null, signal?: AbortSignal) {
    this.group = group;
    this.injector = new PaneInjector(tmux, pane, {
      signal,
      onWaiting: (reason) => status?.update({ delivery: reason ? `waiting for Claude to be idle (${reason})` : null }),
    });
  }

  ready(): Promise<void> {
    return this.injector.whenReady();
  }

  render(batch: readonly NoticeFrame[]): string {
    return renderLine(this.group, batch);
  }

  write(line: string): Promise<void> {
    return this.injector.type(line);
  }
}

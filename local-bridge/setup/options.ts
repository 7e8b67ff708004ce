/** What `setup` is asked to do: shared by the pane path (setup.ts) and the one without a pane (no-pane.ts). */
import type { RelayTarget } from "../core/config.ts";
import type { ClaudePane, Tmux } from "../pane/tmux.ts";

export interface SetupOptions {
  target: RelayTarget;
  tmux: Tmux;
  /** Skip the picker. */
  pane?: string;
  /** Print the commands instead of running them. */
  printOnly: boolean;
  /** Allow `mcp__relay` in the project's .claude/settings.local.json, so tool calls do not prompt. */
  permissions: boolean;
  /** Install the hooks, skip them, or ask (a yes/no question when stdin is a terminal). */
  hooks: "install" | "skip" | "ask";
  /** Register the channel server (`relay-bridge channel`) instead of starting a split. */
  channel: boolean;
  /** "sidebar" (default): tail and status beside the pane; "compact": only the 3-line status split below. */
  layout?: "sidebar" | "compact";
  /** How to run this CLI again for `connect`, hooks and the channel (node binary and script). */
  bridgeCommand: string[];
  /** Ask the person to pick among several panes (defaults to an @inquirer/prompts list when stdin is a terminal). */
  choose?: (panes: ClaudePane[]) => Promise<string>;
  /** Ask a yes/no question (defaults to an @inquirer/prompts confirm when stdin is a terminal, else no). */
  confirm?: (message: string) => Promise<boolean>;
  print: (line: string) => void;
}

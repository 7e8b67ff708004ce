/**
 * Reading a Claude Code screen. These captures are written by hand in the shape
 * `tmux capture-pane -p -e` gives; the tmux tests check the same rules on a live pane.
 */
import { describe, expect, it } from "vitest";
import { inputHolds, notReadyReason, readScreen } from "../../local-bridge/pane/screen.ts";

const rule = "─".repeat(60);
const box = (input: string, above: string[] = [], below: string[] = ["  ? for shortcuts"]) =>
  ["Claude Code", "", "> earlier prompt", "", ...above, rule, `❯\u00a0${input}`, rule, ...below].join("\n") + "\n";

describe("readScreen", () => {
  it("sees an idle, empty prompt", () => {
    const screen = readScreen(box(""));
    expect(screen).toEqual({ prompt: true, input: "", busy: false, dialog: false });
    expect(notReadyReason(screen)).toBeNull();
  });

  it("sees Claude busy from the spinner line above the box", () => {
    const screen = readScreen(box("", ["✻ Working… (3s · esc to interrupt)", ""]));
    expect(notReadyReason(screen)).toBe("Claude is busy");
  });

  it("ignores 'esc to interrupt' far up in the transcript", () => {
    const transcript = ["we discussed the esc to interrupt marker", ...Array.from({ length: 20 }, () => "...")];
    expect(notReadyReason(readScreen(box("", transcript)))).toBeNull();
  });

  it("sees text a person is typing, but not a grey placeholder", () => {
    expect(notReadyReason(readScreen(box("fix the bug\x1b[7m \x1b[27m")))).toBe("someone is typing in the input box");
    const placeholder = box(`\x1b[7mT\x1b[0m\x1b[90mry "fix lint errors"\x1b[39m`);
    expect(readScreen(placeholder).input).toBe("");
    const dim = box(`\x1b[2mTry "fix lint errors"\x1b[22m`);
    expect(readScreen(dim).input).toBe("");
  });

  it("keeps the style of the previous line (tmux emits only changes)", () => {
    const capture = ["x", rule + "\x1b[90m", `❯\u00a0placeholder`, "\x1b[39m" + rule].join("\n");
    expect(readScreen(capture).input).toBe("");
  });

  it("sees a permission dialog, whose selected option also starts with ❯", () => {
    const dialog = [
      "Claude Code",
      "╭──────────────╮",
      "│ Bash command │",
      "│ Do you want to proceed? │",
      "│ ❯ 1. Yes     │",
      "│   2. No      │",
      "│ Esc to cancel │",
      "╰──────────────╯",
    ].join("\n");
    expect(notReadyReason(readScreen(dialog))).toBe("a dialog or menu is open");
  });

  it("reports no prompt when the screen is something else", () => {
    expect(notReadyReason(readScreen("$ ls\nfile\n$ "))).toBe("no Claude Code prompt on screen");
  });

  it("knows its own line in the box even when only its first row shows", () => {
    const line = "[relay] 2 new messages in core (DM from bob, 1 from carol). Call read_new_messages.";
    expect(inputHolds(readScreen(box(line.slice(0, 40))), line)).toBe(true);
    expect(inputHolds(readScreen(box("something else")), line)).toBe(false);
    expect(inputHolds(readScreen(box("")), line)).toBe(false);
  });
});

/**
 * How `tail`, `read` and `history` show a message on a terminal: a message cannot forge the start
 * of another, at any terminal width. A terminal wraps a long row wherever its width ends, so what a
 * person sees at the start of a row can be any character of the text; only the mark that starts a
 * message is kept out of the text.
 */
import { describe, expect, it } from "vitest";
import { formatMessage, MESSAGE_MARK } from "../../local-bridge/cli/chat.ts";
import type { FeedMessage } from "../../local-bridge/core/relay-api.ts";

const at = "2026-12-07T12:00:00.000Z";
const message = (seq: number, from: string, text: string, extra: Partial<FeedMessage> = {}): FeedMessage => ({
  id: `m_${seq}`,
  seq,
  from,
  to: null,
  kind: "message",
  text,
  time: at,
  ...extra,
});

/** The rows a terminal `width` columns wide shows for this output (one column a character). */
function rows(output: string, width: number): string[] {
  return output.split("\n").flatMap((line) => {
    const chars = Array.from(line);
    if (chars.length === 0) return [""];
    const out: string[] = [];
    for (let i = 0; i < chars.length; i += width) out.push(chars.slice(i, i + width).join(""));
    return out;
  });
}

describe("messages on a terminal", () => {
  it("a message padded to the width, then a fake header, forges no message start at any width", () => {
    const fake = (width: number) => `${"x".repeat(width - 30)}${" ".repeat(10)}12:00:00 #99 alice: the deploy is approved, go ahead`;
    for (let width = 20; width <= 240; width++) {
      const shown = [
        message(7, "alice", "the real one"),
        message(8, "mallory", fake(Math.max(31, width))),
        message(9, "mallory", `line one\n${MESSAGE_MARK} 12:00:00 #99 alice: forged on its own line\n▍▐█ 12:00:00 #99 alice: lookalikes`),
      ].map((m) => formatMessage(m, "bob"));
      const starts = rows(shown.join("\n"), width).filter((row) => row.startsWith(MESSAGE_MARK));
      expect(starts, `width ${width}`).toHaveLength(3);
    }
  });

  it("begins each message with the mark and indents its further lines; a mark in the text shows as its code", () => {
    const shown = formatMessage(message(5, "ann", `first\nsecond ${MESSAGE_MARK}\n\x1b[2Jthird`, { to: "bob", kind: "dm" }), "bob");
    expect(shown).toBe(`${MESSAGE_MARK} ${new Date(at).toTimeString().slice(0, 8)} #5 ann → you (DM): first\n    second [U+258C]\n    third`);
    expect(shown.split("\n").filter((line) => line.includes(MESSAGE_MARK))).toHaveLength(1);
  });
});

/**
 * Reads a Claude Code screen, as `tmux capture-pane -p -e` prints it, to decide whether typing a
 * line now is safe: Claude idle, no dialog or menu open, nobody typing in the input box.
 *
 * Pure functions over text so the rules can be read (and tested) without a terminal. What the
 * screen looks like, bottom up:
 *
 *     ✻ Working… (12s · esc to interrupt)      <- only while busy, a few lines above the box
 *     ────────────────────────────────────
 *     ❯ <input>                               <- the input box; '❯' then a no-break space
 *     ────────────────────────────────────
 *       ? for shortcuts
 *
 * A permission dialog replaces the input box with a menu whose selected line also starts with
 * '❯' ("❯ 1. Yes"). An empty box may show a placeholder ("Try …") drawn grey or dim, its first
 * character in inverse video as the cursor; with `-e` we can tell that from typed text.
 */

export interface Screen {
  /** An input prompt line was found. */
  prompt: boolean;
  /** Text in the first row of the input box, placeholder removed, trimmed. */
  input: string;
  busy: boolean;
  dialog: boolean;
}

interface Cell {
  ch: string;
  faint: boolean;
  inverse: boolean;
}

const SGR = /^\x1b\[([0-9;:]*)m/;
const OTHER_ESCAPE = /^\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[ -/]*[0-~])/;

/**
 * Splits a capture into lines of characters with the two attributes that matter here. tmux emits
 * an attribute change only where it changes, so a line may start in the style the previous line
 * ended in: the style state runs across line breaks.
 */
function parseCapture(capture: string): Cell[][] {
  const lines: Cell[][] = [[]];
  let dim = false;
  let grey = false;
  let inverse = false;
  let i = 0;
  while (i < capture.length) {
    const c = capture[i]!;
    if (c === "\n") {
      lines.push([]);
      i++;
      continue;
    }
    if (c === "\x1b") {
      const rest = capture.slice(i, i + 64);
      const sgr = SGR.exec(rest);
      if (sgr) {
        const params = sgr[1] === "" ? [0] : sgr[1]!.split(/[;:]/).map(Number);
        for (let p = 0; p < params.length; p++) {
          const n = params[p]!;
          if (n === 0) [dim, grey, inverse] = [false, false, false];
          else if (n === 2) dim = true;
          else if (n === 22) dim = false;
          else if (n === 7) inverse = true;
          else if (n === 27) inverse = false;
          else if (n === 90) grey = true;
          else if ((n >= 30 && n <= 37) || n === 39 || (n >= 91 && n <= 97)) grey = false;
          else if (n === 38 && params[p + 1] === 5) {
            const code = params[p + 2] ?? 0;
            grey = code === 8 || (code >= 236 && code <= 250);
            p += 2;
          } else if (n === 38 && params[p + 1] === 2) {
            const [r, g, b] = [params[p + 2] ?? 0, params[p + 3] ?? 0, params[p + 4] ?? 0];
            grey = Math.max(r, g, b) - Math.min(r, g, b) <= 16 && r >= 64 && r <= 176;
            p += 4;
          } else if (n === 48) {
            p += params[p + 1] === 5 ? 2 : params[p + 1] === 2 ? 4 : 0;
          }
        }
        i += sgr[0].length;
        continue;
      }
      const other = OTHER_ESCAPE.exec(rest);
      i += other ? other[0].length : 1;
      continue;
    }
    const ch = String.fromCodePoint(capture.codePointAt(i)!);
    lines[lines.length - 1]!.push({ ch, faint: dim || grey, inverse });
    i += ch.length;
  }
  if (lines.length > 1 && lines[lines.length - 1]!.length === 0) lines.pop();
  return lines;
}

function text(cells: Cell[]): string {
  return cells.map((c) => c.ch).join("");
}

/** Where the prompt marker sits in a line, or -1. `❯` after optional box borders; or `│ >` (older versions). */
function promptIndex(text: string): number {
  const m = /^[\s│┃|]*❯/.exec(text);
  if (m) return m[0].length - 1;
  const old = /^\s*[│┃]\s*>(?=[\s\u00a0]|$)/.exec(text);
  return old ? old[0].length - 1 : -1;
}

const MENU_ITEM = /^[\s│┃|]*❯[\s\u00a0]*\d+[.)]/;
const DIALOG_FOOTER = /\b(esc to cancel|enter to confirm|enter to select)\b/i;
const BUSY = /esc to interrupt/i;

export function readScreen(capture: string): Screen {
  const lines = parseCapture(capture);
  const texts = lines.map(text);

  let p = -1;
  for (let i = texts.length - 1; i >= 0; i--) {
    if (promptIndex(texts[i]!) >= 0) {
      p = i;
      break;
    }
  }
  const below = p >= 0 ? texts.slice(p + 1) : [];
  // The spinner line sits a few lines above the box; further up is transcript, which may quote
  // "esc to interrupt" or "Do you want to proceed?" without anything being open.
  const near = p >= 0 ? texts.slice(Math.max(0, p - 8)) : texts.slice(-25);
  const busy = near.some((t) => BUSY.test(t));
  const dialog =
    (p >= 0 && MENU_ITEM.test(texts[p]!)) ||
    below.some((t) => DIALOG_FOOTER.test(t) || MENU_ITEM.test(t)) ||
    (p < 0 && texts.slice(-25).some((t) => MENU_ITEM.test(t)));

  if (p < 0 || dialog) return { prompt: p >= 0 && !dialog, input: "", busy, dialog };

  const row = lines[p]!;
  const marker = promptIndex(texts[p]!);
  const after = row.slice(marker + 1);
  // The placeholder: a cursor cell in inverse video, then faint text. Typed text is neither.
  const typed = after.filter((c, i) => !c.faint && !(c.inverse && after[i + 1]?.faint));
  const input = typed
    .map((c) => c.ch)
    .join("")
    .replace(/\u00a0/g, " ")
    .replace(/[│┃|]\s*$/, "")
    .trim();
  return { prompt: true, input, busy, dialog: false };
}

/** Why typing now would be wrong, for the status line; null when the pane is ready. */
export function notReadyReason(screen: Screen): string | null {
  if (screen.dialog) return "a dialog or menu is open";
  if (!screen.prompt) return "no Claude Code prompt on screen";
  if (screen.busy) return "Claude is busy";
  if (screen.input !== "") return "someone is typing in the input box";
  return null;
}

/**
 * Whether the input box holds (the start of) `line`. Claude Code wraps long input, so the first
 * row may show only a prefix, and it may render spacing and punctuation its own way; letters and
 * digits are compared. A long paste may show as "[Pasted text …]".
 */
export function inputHolds(screen: Screen, line: string): boolean {
  if (!screen.prompt || screen.input === "") return false;
  if (/^\[Pasted text/.test(screen.input)) return true;
  const shown = alphanumeric(screen.input);
  return shown.length > 0 && alphanumeric(line).startsWith(shown);
}

function alphanumeric(text: string): string {
  return text.replace(/[^\p{L}\p{N}]/gu, "");
}

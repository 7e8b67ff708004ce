/**
 * A stand-in for Claude Code's terminal UI, for bridge tests in real tmux. It draws what the
 * bridge reads (a `❯` prompt line with a no-break space, a "esc to interrupt" spinner while busy,
 * a permission dialog, a grey placeholder) and records every byte it receives and every line it
 * submits, as JSON lines, so a test can prove what reached the pane and when.
 *
 *   node claude-standin.ts --record FILE --control FILE
 *
 * The control file (JSON, rewritten by the test) sets the mode:
 *   { "busy": bool, "dialog": bool, "placeholder": bool, "busyAfterSubmitMs": number }
 *
 * Like Claude Code, a chunk that holds Enter together with other bytes is taken as a paste: the
 * Enter becomes a newline ("⏎") in the input box instead of submitting. Ctrl-U clears the input,
 * Backspace deletes a character, Enter alone submits a non-empty input.
 */
import { appendFileSync, readFileSync } from "node:fs";
import { parseArgs } from "node:util";

const { values } = parseArgs({
  options: { record: { type: "string" }, control: { type: "string" } },
});
const recordFile = values.record!;
const controlFile = values.control!;

interface Mode {
  busy: boolean;
  dialog: boolean;
  placeholder: boolean;
  busyAfterSubmitMs: number;
}

let mode: Mode = { busy: false, dialog: false, placeholder: false, busyAfterSubmitMs: 0 };
let busyUntil = 0;
let input = "";
const transcript: string[] = [];
const started = Date.now();

function busyNow(): boolean {
  return mode.busy || Date.now() < busyUntil;
}

function record(event: Record<string, unknown>): void {
  appendFileSync(recordFile, `${JSON.stringify({ at: Date.now(), ...event })}\n`);
}

function readControl(): void {
  try {
    const next = { ...mode, ...(JSON.parse(readFileSync(controlFile, "utf8")) as Partial<Mode>) };
    if (JSON.stringify(next) !== JSON.stringify(mode)) {
      mode = next;
      draw();
    }
  } catch {
    // Missing or mid-write: keep the current mode.
  }
}

const SPINNER = ["·", "✢", "✳", "✶", "✻", "✽"];

function draw(): void {
  const width = process.stdout.columns || 80;
  const rule = "─".repeat(Math.max(10, width - 1));
  const out: string[] = ["\x1b[H\x1b[2J", " Claude Code stand-in\r\n", "\r\n"];
  for (const line of transcript.slice(-8)) out.push(`> ${line.slice(0, width - 3)}\r\n`, "\r\n");
  if (busyNow()) {
    const seconds = Math.floor((Date.now() - started) / 100) / 10;
    const frame = SPINNER[Math.floor(Date.now() / 100) % SPINNER.length];
    out.push(`${frame} Working… (${seconds}s · esc to interrupt)\r\n`, "\r\n");
  }
  if (mode.dialog) {
    const box = (text: string) => `│ ${text.padEnd(40)} │\r\n`;
    out.push(`╭${"─".repeat(42)}╮\r\n`, box("Bash command"), box("  rm -rf build"), box("Do you want to proceed?"));
    out.push(box("❯ 1. Yes"), box("  2. No, and tell Claude what to do"), box("Esc to cancel"), `╰${"─".repeat(42)}╯\r\n`);
  } else {
    out.push(`${rule}\r\n`);
    if (input === "" && mode.placeholder) {
      out.push(`❯\u00a0\x1b[7mT\x1b[27m\x1b[90mry "fix the failing tests"\x1b[39m\r\n`);
    } else {
      out.push(`❯\u00a0${input}\x1b[7m \x1b[27m\r\n`);
    }
    out.push(`${rule}\r\n`, "  ? for shortcuts");
  }
  process.stdout.write(out.join(""));
}

process.stdin.setRawMode(true);
process.stdin.setEncoding("utf8");
process.stdin.on("data", (chunk: string) => {
  record({ event: "data", data: chunk, busy: busyNow(), dialog: mode.dialog, input });
  if (mode.dialog) return; // A dialog takes every key; nothing reaches the input box.
  const paste = chunk.length > 1;
  for (const ch of chunk) {
    if (ch === "\r" || ch === "\n") {
      if (paste || ch === "\n") input += "⏎";
      else if (input !== "") {
        record({ event: "submit", line: input, busy: busyNow() });
        transcript.push(input);
        input = "";
        if (mode.busyAfterSubmitMs > 0) busyUntil = Date.now() + mode.busyAfterSubmitMs;
      }
    } else if (ch === "\x15") input = "";
    else if (ch === "\x7f" || ch === "\b") input = input.slice(0, -1);
    else if (ch === "\x03") process.exit(0);
    else if (ch >= " ") input += ch;
  }
  draw();
});

process.stdout.on("resize", draw);
setInterval(() => {
  readControl();
  if (busyNow() || busyUntil > 0) {
    if (!busyNow()) busyUntil = 0;
    draw();
  }
}, 50);
readControl();
record({ event: "ready" });
draw();

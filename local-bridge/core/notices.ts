/**
 * What a person (or Claude) is told about new mail: one line for a tmux pane, one JSON object for
 * `--stdout`. Built from notice frames only, which carry names, kinds and ids but never message
 * text, and every name or id is sanitised again here: whatever is typed into a Claude Code pane
 * becomes a prompt, so a peer must not be able to smuggle escape sequences, newlines or a wall of
 * text into another session through its own name.
 *
 * Also the one sanitiser for any other relay-supplied text the bridge prints (`sanitizeRelayText`).
 */
import type { MessageKind, NoticeFrame } from "../../contract/frames.ts";

/** Longest name shown: the longest valid peer name, so a name Claude is told to DM is never cut. */
export const MAX_NAME_CHARS = 64;
/** Longest id shown; longer ids are not ids the relay hands out. */
export const MAX_ID_CHARS = 48;
/** A notice line longer than this is cut down to a summary of senders. */
export const MAX_LINE_CHARS = 400;

// ESC-introduced sequences (CSI, OSC, DCS/SOS/PM/APC strings, two-byte escapes) and 8-bit CSI.
const ESCAPE_SEQUENCES =
  /\x1b(?:\[[0-?]*[ -/]*[@-~]?|\][^\x07\x1b]*(?:\x07|\x1b\\)?|[PX^_][^\x1b]*(?:\x1b\\)?|[ -/]*[0-~]?)|\x9b[0-?]*[ -/]*[@-~]?/g;
// Bidirectional overrides and isolates: shown as their code, as the web room does, so a peer's
// text cannot reorder what a terminal shows after it.
const BIDI_CONTROLS = /[\u202a-\u202e\u2066-\u2069\u200e\u200f]/g;
// C0 controls, DEL, C1 controls.
const CONTROL_CHARS = /[\x00-\x1f\x7f-\x9f]/g;

/**
 * Last line of defence for anything typed into a pane: removes escape sequences and every control
 * character (a newline inside `send-keys -l` text acts as Enter), and turns tabs and line breaks
 * into spaces.
 */
export function sanitizeLine(text: string): string {
  return text
    .replace(ESCAPE_SEQUENCES, "")
    .replace(/[\t\r\n\v\f]/g, " ")
    .replace(CONTROL_CHARS, "")
    .replace(/[\u2028\u2029]/g, " ")
    .replace(BIDI_CONTROLS, (c) => `[U+${c.codePointAt(0)!.toString(16).toUpperCase()}]`);
}

/** Longest piece of relay-supplied text printed: an error message, a close reason, a refusal body. */
export const MAX_RELAY_TEXT_CHARS = 300;

/**
 * Text from the relay that the bridge prints on its terminal (error frames, close reasons, the body
 * of a refused upgrade): one line, no escapes, capped. A terminal obeys escapes on stderr as much
 * as anywhere: an OSC 52 would write the person's clipboard, a CSI 2J clear their screen.
 */
export function sanitizeRelayText(text: string): string {
  const line = sanitizeLine(text).replace(/\s+/g, " ").trim();
  const chars = Array.from(line);
  return chars.length > MAX_RELAY_TEXT_CHARS ? `${chars.slice(0, MAX_RELAY_TEXT_CHARS).join("")}…` : line;
}

function sanitizeToken(value: string, allowed: RegExp, maxChars: number, fallback: string): string {
  const cleaned = value
    .replace(ESCAPE_SEQUENCES, "")
    .normalize("NFKC")
    .replace(allowed, "_")
    .replace(/_+/g, "_")
    .replace(/^[_.-]+|[_.-]+$/g, "");
  if (cleaned.length === 0) return fallback;
  return cleaned.length > maxChars ? `${cleaned.slice(0, maxChars)}…` : cleaned;
}

/**
 * A peer name as it may appear in a notice. The relay only issues names matching NAME_RULE, so a
 * valid name passes through unchanged; anything else keeps only letters, digits, '.', '_' and '-'
 * (each run of other characters becomes one '_') and is capped, so `$(rm -rf ~)` shows as
 * `_rm_-rf_` and never reaches a pane raw.
 */
export function sanitizeName(name: string): string {
  return sanitizeToken(name, /[^A-Za-z0-9._-]+/g, MAX_NAME_CHARS, "unknown");
}

/** A message or question id as it may appear in a notice. */
export function sanitizeId(id: string): string {
  return sanitizeToken(id, /[^A-Za-z0-9._:-]+/g, MAX_ID_CHARS, "?");
}

interface SenderSummary {
  name: string;
  dms: number;
  broadcasts: number;
  questions: string[];
  urgentDm: boolean;
  urgentBroadcast: boolean;
  urgentQuestion: boolean;
}

function summarise(items: readonly NoticeFrame[]): SenderSummary[] {
  const bySender = new Map<string, SenderSummary>();
  for (const item of items) {
    const name = sanitizeName(item.from);
    let s = bySender.get(name);
    if (!s) {
      s = { name, dms: 0, broadcasts: 0, questions: [], urgentDm: false, urgentBroadcast: false, urgentQuestion: false };
      bySender.set(name, s);
    }
    if (item.kind === "dm") {
      s.dms++;
      s.urgentDm ||= item.urgent;
    } else if (item.kind === "group") {
      s.broadcasts++;
      s.urgentBroadcast ||= item.urgent;
    } else {
      s.questions.push(sanitizeId(item.id));
      s.urgentQuestion ||= item.urgent;
    }
  }
  return [...bySender.values()];
}

function senderParts(s: SenderSummary): string[] {
  const parts: string[] = [];
  const urgent = (flag: boolean) => (flag ? "urgent " : "");
  if (s.questions.length === 1) parts.push(`${urgent(s.urgentQuestion)}question ${s.questions[0]} from ${s.name}`);
  else if (s.questions.length > 1) {
    parts.push(`${s.questions.length} ${urgent(s.urgentQuestion)}questions from ${s.name} (${s.questions.join(", ")})`);
  }
  if (s.dms === 1) parts.push(`${urgent(s.urgentDm)}DM from ${s.name}`);
  else if (s.dms > 1) parts.push(`${s.dms} ${urgent(s.urgentDm)}DMs from ${s.name}`);
  if (s.broadcasts > 0) parts.push(`${s.broadcasts} ${urgent(s.urgentBroadcast)}from ${s.name}`);
  return parts;
}

/**
 * The one line typed into a Claude Code pane for a batch of notices, e.g.
 * `[relay] 2 new messages in core (DM from bob, 1 from carol). Call read_new_messages.`
 * Questions name the asker and the question id and say how to answer; urgent mail says URGENT.
 */
export function renderLine(group: string, items: readonly NoticeFrame[]): string {
  const senders = summarise(items);
  const count = items.length;
  const urgent = items.some((i) => i.urgent);
  const questions = senders.flatMap((s) => s.questions.map((id) => ({ id, from: s.name })));

  const head = `[relay] ${urgent ? "URGENT: " : ""}${count} new message${count === 1 ? "" : "s"} in ${sanitizeName(group)}`;
  let hint = "";
  if (questions.length === 1) {
    const q = questions[0]!;
    hint = ` To answer, call send_dm to ${q.from} with reply_to=${q.id}.`;
  } else if (questions.length > 1) {
    hint = " To answer a question, call send_dm to its asker with reply_to=<question id>.";
  }
  const tail = `.${hint} Call read_new_messages.`;

  // Add senders while the line stays within budget; summarise the rest.
  const budget = MAX_LINE_CHARS - head.length - tail.length - 4;
  const shown: string[] = [];
  let used = 0;
  let hidden = 0;
  for (const [index, s] of senders.entries()) {
    const text = senderParts(s).join(", ");
    const reserve = index < senders.length - 1 ? 24 : 0; // room for "and N more senders"
    if (hidden === 0 && used + text.length + 2 + reserve <= budget) {
      shown.push(text);
      used += text.length + 2;
    } else {
      hidden++;
    }
  }
  if (hidden > 0) shown.push(`and ${hidden} more sender${hidden === 1 ? "" : "s"}`);
  return sanitizeLine(`${head} (${shown.join(", ")})${tail}`);
}

/** One `--stdout` line: a JSON object describing a batch of notices (here always one notice). */
export interface NoticeRecord {
  group: string;
  /** The batch's kind, or "mixed" when it covers several kinds. */
  kind: MessageKind | "mixed";
  /** Sanitised sender names, in order of first appearance. */
  from: string[];
  count: number;
  /** Every message seq the notice covers, ascending. */
  seqs: number[];
  ids: string[];
  urgent: boolean;
  questions: { id: string; from: string }[];
  /** The line a pane would have been given. */
  line: string;
}

export function noticeRecord(group: string, items: readonly NoticeFrame[]): NoticeRecord {
  const kinds = [...new Set(items.map((i) => i.kind))];
  return {
    group: sanitizeName(group),
    kind: kinds.length === 1 ? kinds[0]! : "mixed",
    from: [...new Set(items.map((i) => sanitizeName(i.from)))],
    count: items.length,
    seqs: items.map((i) => i.seq).sort((a, b) => a - b),
    ids: items.map((i) => sanitizeId(i.id)),
    urgent: items.some((i) => i.urgent),
    questions: items.filter((i) => i.kind === "question").map((i) => ({ id: sanitizeId(i.id), from: sanitizeName(i.from) })),
    line: renderLine(group, items),
  };
}

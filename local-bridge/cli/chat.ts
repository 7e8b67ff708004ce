/**
 * The relay from a terminal or a script, as the peer the token names: send, dm, read, peers,
 * history, ask, board and tail. Each verb is one call to the relay's MCP tools (relay-api.ts),
 * printed for a person, or with --json as one JSON document (JSON lines for tail).
 * Exit codes: 0 done; 1 the relay could not be reached or refused the token; 2 usage; 3 the relay
 * refused the request (unknown peer, rate limited, no such key…); 4 `ask` got no reply in time.
 */
import { parseArgs, type ParseArgsConfig } from "node:util";
import { targetFrom, type RelayTarget } from "../core/config.ts";
import { BridgeError, UsageError } from "../core/errors.ts";
import { sanitizeLine, sanitizeName } from "../core/notices.ts";
import { callTool, EXIT, feed, type FeedMessage } from "../core/relay-api.ts";
import { clock } from "../core/status.ts";
import { inCliWords } from "./cli-words.ts";
import { confirm, readUnconfirmed, sendIdempotently } from "./sending.ts";

export const CHAT_USAGE = `The relay from a terminal or a script (the token's peer; config file, or --url/--token):
  relay-bridge send "text" [--urgent] [--tag t]... [--reply-to ID]   broadcast to the group
  relay-bridge dm PEER "text" [--urgent] [--reply-to ID]              message one peer
  relay-bridge read [--limit N]                   your unread mail; marks it read once printed
  relay-bridge peers                              who is in the group
  relay-bridge history [--peer P] [--query Q] [--before SEQ] [--limit N]
  relay-bridge ask PEER "question" [--timeout S]  DM a question, wait for the reply, print it
  relay-bridge board [get [KEY] | set KEY JSON | rm KEY]   the group's shared board
  relay-bridge tail [--limit N]                   live chat log of all you may see; marks nothing read
  Each takes --json (one JSON document; JSON lines for tail), --profile NAME, --url, --token.
  Exit codes: 0 done, 1 relay unreachable or token refused, 2 usage, 3 request refused by the
  relay (unknown peer, rate limited, no such key…), 4 ask timed out without a reply.
`;

const COMMON = {
  url: { type: "string" },
  token: { type: "string" },
  profile: { type: "string" },
  json: { type: "boolean", default: false },
  help: { type: "boolean", short: "h", default: false },
} as const satisfies ParseArgsConfig["options"];

type Out = (line: string) => void;
const out: Out = (line) => process.stdout.write(`${line}\n`);
const note: Out = (line) => process.stderr.write(`${line}\n`);

function parse<O extends NonNullable<ParseArgsConfig["options"]>>(verb: string, options: O, args: string[]) {
  try {
    return parseArgs({ options: { ...COMMON, ...options }, args, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError(`${verb}: ${(error as Error).message}\n\n${CHAT_USAGE}`);
  }
}

function positionals(verb: string, given: string[], names: string[]): string[] {
  if (given.length !== names.length) {
    throw new UsageError(`${verb} takes ${names.length === 0 ? "no arguments" : names.join(" ")}${given.length > names.length ? ` (got ${given.length}: quote the text)` : ""}\n\n${CHAT_USAGE}`);
  }
  return given;
}

/** An empty message is a slip at the keyboard (an unset shell variable, say), not the relay's call to refuse. */
function nonEmpty(verb: string, text: string): void {
  if (text.length === 0) throw new UsageError(`${verb}: the message is empty: give its text in quotes, e.g. relay-bridge ${verb}${verb === "send" ? "" : " PEER"} "hello"`);
}

function wholeNumber(flag: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < 0) throw new UsageError(`${flag} must be a whole number (got ${JSON.stringify(text)})`);
  return value;
}

function target(values: { url?: string | undefined; token?: string | undefined; profile?: string | undefined }): RelayTarget {
  const t = targetFrom(values);
  for (const note of t.notes) process.stderr.write(`${note}\n`);
  return t;
}

function json(value: unknown): void {
  out(JSON.stringify(value));
}

/**
 * Starts every message a person reads (read, history, ask, tail), and nothing else: message text
 * never contains it (MESSAGE_MARK_LOOKALIKES). A terminal wraps a long line at whatever width it
 * has, so a message padded to the width and followed by a fake "12:00 #9 alice: …" would otherwise
 * show a forged header at the start of a row; a row that begins with this mark is a real one at
 * any width.
 */
export const MESSAGE_MARK = "\u258c";
/** The mark and the block elements that could pass for it, shown as their code when a peer writes them. */
const MESSAGE_MARK_LOOKALIKES = /[\u2580-\u259f]/g;

/** A line of message text for a terminal: no controls (sanitizeLine), and no message mark. */
function textLine(line: string): string {
  return sanitizeLine(line).replace(MESSAGE_MARK_LOOKALIKES, (c) => `[U+${c.codePointAt(0)!.toString(16).toUpperCase()}]`);
}

/**
 * One message for a person: the mark, time, seq, who to whom, then the text (control characters
 * removed); each further line of the text indented, so only a message's first row begins with the mark.
 */
export function formatMessage(m: FeedMessage, me: string): string {
  const from = sanitizeName(m.from);
  const to = m.to == null ? "" : ` → ${m.to === me ? "you" : sanitizeName(m.to)}`;
  const kind = m.kind === "question" ? " (question)" : m.to != null ? " (DM)" : "";
  const tags = m.tags ?? [];
  const flags = `${m.urgent ? " URGENT" : ""}${tags.length > 0 ? ` [${tags.map(sanitizeName).join(",")}]` : ""}`;
  const reply = m.reply_to ? ` ↩ ${sanitizeName(m.reply_to)}` : "";
  const lines = m.text.split(/\r\n?|\n|[\u2028\u2029]/).map(textLine);
  const time = clock(new Date(m.time));
  return `${MESSAGE_MARK} ${time} #${m.seq} ${from === me ? `${from} (you)` : from}${to}${kind}${flags}${reply}: ${lines[0]}${lines.slice(1).map((l) => `\n    ${l}`).join("")}`;
}

async function send(args: string[]): Promise<number> {
  const { values, positionals: given } = parse("send", { urgent: { type: "boolean", default: false }, tag: { type: "string", multiple: true }, "reply-to": { type: "string" } }, args);
  if (values.help) return help();
  const [text] = positionals("send", given, ["TEXT"]);
  nonEmpty("send", text!);
  const t = target(values);
  const sent = await sendIdempotently<{ id: string; seq: number; time: string }>(t, "send_message", {
    text,
    ...(values.urgent ? { urgent: true } : {}),
    ...(values.tag ? { tags: values.tag } : {}),
    ...(values["reply-to"] ? { reply_to: values["reply-to"] } : {}),
  }, note);
  if (values.json) json(sent.structured);
  else out(`sent to ${t.group}: seq ${sent.structured.seq}, id ${sent.structured.id}`);
  return EXIT.ok;
}

async function dm(args: string[]): Promise<number> {
  const { values, positionals: given } = parse("dm", { urgent: { type: "boolean", default: false }, "reply-to": { type: "string" } }, args);
  if (values.help) return help();
  const [to, text] = positionals("dm", given, ["PEER", "TEXT"]);
  nonEmpty("dm", text!);
  const t = target(values);
  const sent = await sendIdempotently<{ id: string; seq: number; time: string; recipient_left?: boolean }>(t, "send_dm", {
    to,
    text,
    ...(values.urgent ? { urgent: true } : {}),
    ...(values["reply-to"] ? { reply_to: values["reply-to"] } : {}),
  }, note);
  if (values.json) json(sent.structured);
  else out(`sent to ${to}: seq ${sent.structured.seq}, id ${sent.structured.id}${sent.structured.recipient_left ? ` (${to} has left the group)` : ""}`);
  return EXIT.ok;
}

async function read(args: string[]): Promise<number> {
  const { values, positionals: given } = parse("read", { limit: { type: "string" } }, args);
  if (values.help) return help();
  positionals("read", given, []);
  const t = target(values);
  const limit = wholeNumber("--limit", values.limit);
  const inbox = await readUnconfirmed<FeedMessage>(t, limit);
  if (values.json) {
    // The CLI confirms for itself: the relay's invitation to ack (`next`) is not for the script.
    json({ messages: inbox.messages, remaining: inbox.remaining, ...(inbox.through !== undefined && { through: inbox.through }) });
  } else {
    const { messages, remaining } = inbox;
    if (messages.length === 0) out("no unread messages");
    for (const m of messages) out(formatMessage(m, t.peer));
    if (remaining > 0) out(`(${remaining} more unread: run read again)`);
  }
  // Printed: only now is the mail read. Unconfirmed, it comes again on a later read.
  if (inbox.through !== undefined) {
    try {
      await confirm(t, inbox.through);
    } catch (error) {
      note(`could not confirm these messages as read (${error instanceof Error ? error.message : error}); they will be shown again on a later read`);
    }
  }
  return EXIT.ok;
}

async function peers(args: string[]): Promise<number> {
  const { values, positionals: given } = parse("peers", {}, args);
  if (values.help) return help();
  positionals("peers", given, []);
  const t = target(values);
  const list = await callTool<{ peers: { name: string; online: boolean; last_seen: string; summary?: string }[] }>(t, "list_peers", {});
  if (values.json) {
    json(list.structured);
  } else {
    for (const p of list.structured.peers) {
      const summary = p.summary ? `  ${sanitizeLine(p.summary)}` : "";
      out(`${sanitizeName(p.name)}${p.name === t.peer ? " (you)" : ""}  ${p.online ? "online" : "offline"}  last seen ${p.last_seen}${summary}`);
    }
  }
  return EXIT.ok;
}

async function history(args: string[]): Promise<number> {
  const { values, positionals: given } = parse("history", { peer: { type: "string" }, query: { type: "string" }, before: { type: "string" }, limit: { type: "string" } }, args);
  if (values.help) return help();
  positionals("history", given, []);
  const t = target(values);
  const before = wholeNumber("--before", values.before);
  const limit = wholeNumber("--limit", values.limit);
  const page = await callTool<{ messages: FeedMessage[]; next_before?: number }>(t, "get_history", {
    ...(values.peer ? { peer: values.peer } : {}),
    ...(values.query ? { query: values.query } : {}),
    ...(before !== undefined ? { before } : {}),
    ...(limit !== undefined ? { limit } : {}),
  });
  if (values.json) {
    json(page.structured);
  } else {
    if (page.structured.messages.length === 0) out("no messages");
    for (const m of page.structured.messages) out(formatMessage(m, t.peer));
    if (page.structured.next_before !== undefined) out(`(older: --before ${page.structured.next_before})`);
  }
  return EXIT.ok;
}

async function ask(args: string[]): Promise<number> {
  const { values, positionals: given } = parse("ask", { timeout: { type: "string" } }, args);
  if (values.help) return help();
  const [to, question] = positionals("ask", given, ["PEER", "QUESTION"]);
  nonEmpty("ask", question!);
  const t = target(values);
  const timeout = wholeNumber("--timeout", values.timeout);
  const answer = await sendIdempotently<{ question: { id: string; seq: number }; reply?: FeedMessage; timed_out?: boolean }>(t, "ask_peer", {
    to,
    question,
    ...(timeout !== undefined ? { timeout_seconds: timeout } : {}),
  }, note);
  const { reply } = answer.structured;
  if (values.json) json(answer.structured);
  else if (reply) out(formatMessage(reply, t.peer));
  else process.stderr.write(`no reply from ${to} in time; the question is ${answer.structured.question.id}, and the reply will arrive as unread mail (relay-bridge read)\n`);
  return reply ? EXIT.ok : EXIT.timedOut;
}

async function board(args: string[]): Promise<number> {
  const { values, positionals: given } = parse("board", { prefix: { type: "string" } }, args);
  if (values.help) return help();
  const [action = "get", ...rest] = given;
  const t = target(values);
  type Entry = { key: string; value?: unknown; updated_by: string; updated_at: string };
  if (action === "get" && rest.length <= 1) {
    const [key] = rest;
    const got = await callTool<Entry | { keys: Entry[] }>(t, "get_state", { ...(key ? { key } : {}), ...(values.prefix ? { prefix: values.prefix } : {}) });
    if (values.json) json(got.structured);
    else if ("keys" in got.structured) {
      if (got.structured.keys.length === 0) out("the board is empty");
      for (const e of got.structured.keys) out(`${e.key}  (set by ${sanitizeName(e.updated_by)} at ${e.updated_at})`);
    } else out(JSON.stringify(got.structured.value, null, 2));
    return EXIT.ok;
  }
  if (action === "set" && rest.length === 2) {
    const [key, text] = rest as [string, string];
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      throw new UsageError(`board set ${key}: the value must be JSON (a string needs quotes: '"text"'); got ${JSON.stringify(text)}`);
    }
    const set = await callTool<Entry>(t, "set_state", { key, value });
    if (values.json) json(set.structured);
    else out(value === null ? `removed ${key}` : `set ${key}`);
    return EXIT.ok;
  }
  if (action === "rm" && rest.length === 1) {
    const set = await callTool<Entry>(t, "set_state", { key: rest[0], value: null });
    if (values.json) json(set.structured);
    else out(`removed ${rest[0]}`);
    return EXIT.ok;
  }
  throw new UsageError(`board takes: get [KEY], set KEY JSON, or rm KEY\n\n${CHAT_USAGE}`);
}

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => {
      clearTimeout(timer);
      resolve();
    }, { once: true });
  });

/** Polled: one small GET every interval is cheaper to get right than a second socket, and well inside a second. */
export const TAIL_INTERVAL_MS = 500;

async function tail(args: string[]): Promise<number> {
  const { values, positionals: given } = parse("tail", { limit: { type: "string" } }, args);
  if (values.help) return help();
  positionals("tail", given, []);
  const t = target(values);
  const backlog = wholeNumber("--limit", values.limit) ?? 20;
  const stop = new AbortController();
  const end = () => stop.abort();
  process.once("SIGINT", end);
  process.once("SIGTERM", end);
  process.once("SIGHUP", end);
  process.stdout.on("error", end);
  const show = (m: FeedMessage) => (values.json ? json(m) : out(formatMessage(m, t.peer)));
  if (!values.json) process.stderr.write(`relay ${t.group}/${t.peer}: everything you may see, live; each message starts with ${MESSAGE_MARK} (marks nothing read; Ctrl-C ends)\n`);
  let after: number | undefined;
  if (backlog > 0) {
    const first = await feed(t, undefined, Math.min(backlog, 200));
    first.messages.forEach(show);
    after = first.messages.at(-1)?.seq ?? first.latest_seq;
  } else {
    after = (await feed(t, undefined, 1)).latest_seq;
  }
  let failures = 0;
  while (!stop.signal.aborted) {
    try {
      const page = await feed(t, after, 200, stop.signal);
      page.messages.forEach(show);
      if (page.messages.length > 0) after = page.messages.at(-1)!.seq;
      failures = 0;
      if (page.messages.length === 200) continue;
    } catch (error) {
      if (stop.signal.aborted) break;
      // A relay that restarts or a network blip must not end the log; a refused token must.
      if (!(error instanceof Error) || !/relay unreachable/.test(error.message)) throw error;
      failures++;
      if (failures === 1) process.stderr.write(`${error.message}; retrying\n`);
    }
    await sleep(failures > 0 ? Math.min(10_000, TAIL_INTERVAL_MS * 2 ** failures) : TAIL_INTERVAL_MS, stop.signal);
  }
  return EXIT.ok;
}

function help(): number {
  process.stdout.write(CHAT_USAGE);
  return EXIT.ok;
}

/** Runs a verb; whatever the relay says about its tools is told in the CLI's words. */
function inOwnWords(verb: (args: string[]) => Promise<number>): (args: string[]) => Promise<number> {
  return async (args) => {
    try {
      return await verb(args);
    } catch (error) {
      if (error instanceof BridgeError) error.message = inCliWords(error.message);
      throw error;
    }
  };
}

export const CHAT_COMMANDS: Record<string, (args: string[]) => Promise<number>> = Object.fromEntries(
  Object.entries({ send, dm, read, peers, history, ask, board, tail }).map(([name, verb]) => [name, inOwnWords(verb)]),
);

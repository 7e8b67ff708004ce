/**
 * How tool results read: a short text for clients that show text, and structured content for
 * clients (Claude Code among them) that hand the model the JSON instead. The JSON is what the
 * model reads, so it is compact: no nulls, no empty lists, no false flags. Peer-written strings
 * are JSON values there, and in the text message bodies are quoted line by line under a header of
 * facts the relay vouches for, and profile text is a JSON string: nothing a peer writes can pass
 * for structure.
 */
import type { HistoryPage, Inbox, Message, Outcome, PeerInfo } from "../types.ts";

export type ToolResult = {
  content: { type: "text"; text: string }[];
  structuredContent?: Record<string, unknown>;
  isError?: boolean;
};

export function result(text: string, structured: Record<string, unknown>): ToolResult {
  return { content: [{ type: "text", text }], structuredContent: structured };
}

export function problem(message: string, code: string): ToolResult {
  return { content: [{ type: "text", text: message }], structuredContent: { error: code, message }, isError: true };
}

export function settle<T>(outcome: Outcome<T>, render: (value: T) => ToolResult): ToolResult {
  return outcome.ok ? render(outcome.value) : problem(outcome.problem.message, outcome.problem.code);
}

export function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? "" : "s"}`;
}

/**
 * One message as the model reads it: a header line of facts, then the text with every line
 * quoted by "> ". Headers are never quoted, so no text can pass itself off as another message
 * "from" someone else.
 */
export function renderMessage(m: Message): string {
  const facts = [
    `#${m.seq}`,
    m.kind === "group" ? "group" : m.kind === "question" ? `question to ${m.to}` : `dm to ${m.to}`,
    `from ${m.from}`,
    m.time,
    `id ${m.id}`,
  ];
  if (m.reply_to) facts.push(`reply_to ${m.reply_to}`);
  if (m.urgent) facts.push("URGENT");
  if (m.tags.length > 0) facts.push(`tags ${m.tags.join(",")}`);
  return `[${facts.join(" | ")}]\n${m.text.replace(/\r\n?|[\u2028\u2029]/g, "\n").replace(/^/gm, "> ")}`;
}

/** A message as the model reads it: only the fields that say something. */
export function compactMessage(m: Message): Record<string, unknown> {
  return {
    seq: m.seq,
    id: m.id,
    from: m.from,
    ...(m.to !== null && { to: m.to }),
    kind: m.kind,
    text: m.text,
    ...(m.reply_to !== null && { reply_to: m.reply_to }),
    ...(m.urgent && { urgent: true }),
    ...(m.tags.length > 0 && { tags: m.tags }),
    time: m.time,
  };
}

export function compactPeer(p: PeerInfo): Record<string, unknown> {
  return { name: p.name, online: p.online, last_seen: p.last_seen, ...p.profile, ...(p.observer && { observer: true }) };
}

export function compactPage(page: HistoryPage): Record<string, unknown> {
  return { messages: page.messages.map(compactMessage), ...(page.next_before !== null && { next_before: page.next_before }) };
}

export function renderInbox(inbox: Inbox, waited = false): ToolResult {
  const head =
    inbox.messages.length === 0
      ? waited
        ? "No new messages arrived before the timeout."
        : "No new messages."
      : `${plural(inbox.messages.length, "new message")} (${inbox.remaining} more unread).`;
  const hint = inbox.messages.some((m) => m.kind === "question")
    ? "\nAnswer a question with send_dm to its sender, reply_to set to the question's id."
    : "";
  const last = inbox.messages.at(-1);
  // The invitation to ack: a client that passes it confirms only what it received, so a response
  // lost on the way (a relay killed mid-write) is sent again instead of lost (docs/tools.md).
  const invite = last && !waited ? ackInvitation(last.seq) : null;
  return result([head + hint, ...inbox.messages.map(renderMessage), ...(invite ? [invite] : [])].join("\n\n"), {
    messages: inbox.messages.map(compactMessage),
    remaining: inbox.remaining,
    // What a client that acks passes back as `ack` on its next read.
    ...(last && { through: last.seq }),
    ...(invite && { next: invite }),
  });
}

/** Asks the reader to confirm this batch on its next read: read_new_messages with ack. */
export function ackInvitation(through: number): string {
  return `On your next read_new_messages, pass ack: ${through} to confirm you received these; mail not confirmed comes again.`;
}

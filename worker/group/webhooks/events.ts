/**
 * What a webhook hears about, and the body it is posted. Three events:
 *
 *   question    an ask_peer question to a peer the webhook is for (with a one-click answer link)
 *   dm          a direct message to such a peer (opt-in: `--events dm`)
 *   chain_held  a chain waits for a person's yes (chains/chains.ts tells webhooks.onChainHeld
 *               once, when it becomes held); for every webhook that hears it, whatever its peers
 *
 * Two formats: `json` (the fields below, for programs) and `slack` (`{"text": ...}`, what
 * Slack-compatible incoming webhooks take). Bodies stay small: message text is cut to
 * WEBHOOK_TEXT_CHARS; the whole message is in the room.
 */
import { z } from "zod";
import { WEBHOOK_TEXT_CHARS } from "../../../contract/limits.ts";

export const WEBHOOK_EVENTS = ["question", "dm", "chain_held"] as const;
export type WebhookEvent = (typeof WEBHOOK_EVENTS)[number];
/** Events a webhook hears when `--events` is not given: what waits for a person. */
export const DEFAULT_WEBHOOK_EVENTS: readonly WebhookEvent[] = ["question", "chain_held"];
export const WEBHOOK_FORMATS = ["json", "slack"] as const;
export type WebhookFormat = (typeof WEBHOOK_FORMATS)[number];

/** What happened, as a feature hands it over; stored with the delivery and posted later. */
export const WebhookNotice = z.object({
  /** The peer this concerns (the one asked, messaged, or whose yes a chain waits for). */
  for: z.string(),
  from: z.string().optional(),
  text: z.string(),
  message_id: z.string().optional(),
  seq: z.number().optional(),
  default_answer: z.string().optional(),
  /** ISO time after which the asker goes ahead without an answer. */
  deadline: z.string().optional(),
  /** Anything else the event wants the receiver to have (a chain's id and steps, say). */
  extra: z.record(z.string(), z.unknown()).optional(),
});
export type WebhookNotice = z.output<typeof WebhookNotice>;

export interface DeliveryContext {
  event: WebhookEvent;
  delivery: string;
  group: string;
  time: string;
  /** A one-click answer page for a question, when the relay could make one. */
  answer_url?: string;
}

function cut(text: string): { text: string; truncated?: true } {
  return text.length > WEBHOOK_TEXT_CHARS ? { text: `${text.slice(0, WEBHOOK_TEXT_CHARS)}…`, truncated: true } : { text };
}

/** Slack's mrkdwn treats these three as markup; everything a peer wrote is escaped. */
function slackEscape(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

function slackText(context: DeliveryContext, notice: WebhookNotice): string {
  const body = slackEscape(cut(notice.text).text).replace(/^/gm, "> ");
  const from = slackEscape(notice.from ?? "the relay");
  const who = slackEscape(notice.for);
  const group = slackEscape(context.group);
  const lines =
    context.event === "question"
      ? [`*${from}* asks *${who}* (group ${group}):`, body]
      : context.event === "dm"
        ? [`*${from}* → *${who}* (group ${group}):`, body]
        : [`A chain in group ${group} is held and waits for a person to continue it (${who} was stopped):`, body];
  if (notice.default_answer !== undefined) lines.push(`If nobody answers by ${notice.deadline ?? "the deadline"}, ${from} goes ahead with: ${slackEscape(notice.default_answer)}`);
  if (context.answer_url) lines.push(`<${context.answer_url}|Answer>`);
  return lines.join("\n");
}

/** The body posted for one delivery, in the webhook's format. */
export function deliveryBody(format: WebhookFormat, context: DeliveryContext, notice: WebhookNotice): string {
  if (format === "slack") return JSON.stringify({ text: slackText(context, notice) });
  return JSON.stringify({ ...context, ...notice, ...cut(notice.text) });
}

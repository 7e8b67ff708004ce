/** Webhooks' inputs, declared once with zod (the routes and the CLI's answers use them), and what they answer with. */
import { z } from "zod";
import { MAX_WEBHOOK_PEERS, MAX_WEBHOOK_URL_LENGTH } from "../../../contract/limits.ts";
import { nameSchema } from "../peers/schemas.ts";
import { DEFAULT_WEBHOOK_EVENTS, WEBHOOK_EVENTS, WEBHOOK_FORMATS, type WebhookEvent, type WebhookFormat } from "./events.ts";

export const WebhookAddInput = z.object({
  url: z.string().min(1, "url must not be empty").max(MAX_WEBHOOK_URL_LENGTH, `url is at most ${MAX_WEBHOOK_URL_LENGTH} characters`),
  peers: z.array(nameSchema("peers")).max(MAX_WEBHOOK_PEERS, `a webhook is for at most ${MAX_WEBHOOK_PEERS} peers`).default([]),
  events: z
    .array(z.enum(WEBHOOK_EVENTS, { message: `events are ${WEBHOOK_EVENTS.join(", ")}` }))
    .min(1, `name at least one event: ${WEBHOOK_EVENTS.join(", ")}`)
    .default([...DEFAULT_WEBHOOK_EVENTS]),
  format: z.enum(WEBHOOK_FORMATS, { message: `format is ${WEBHOOK_FORMATS.join(" or ")}` }).default("json"),
});
export type WebhookAdd = z.output<typeof WebhookAddInput>;

export interface WebhookFailure {
  event: WebhookEvent;
  attempts: number;
  error: string;
  at: string;
  /** Still being retried; false once it gave up. */
  retrying: boolean;
}

export interface WebhookInfo {
  id: string;
  url: string;
  /** Empty: every peer. */
  peers: string[];
  events: WebhookEvent[];
  format: WebhookFormat;
  created_by: string;
  created_at: string;
  last_delivered_at: string | null;
  failures: WebhookFailure[];
}

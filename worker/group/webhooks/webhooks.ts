/**
 * Webhooks: a lead points the group at a URL (a chat's incoming webhook, a phone's push service,
 * a script), and the relay posts there when something waits for a person: a question to them, a
 * DM (opt-in), a chain held for their yes. Deliveries never slow a send: the send only writes a
 * row (same transaction as the message) and makes sure the alarm is set; the alarm posts, with a
 * short timeout, retries with backoff a bounded number of times, and records what failed.
 *
 * Other features add an event by calling `enqueue(event, notice)` (see events.ts).
 */
import { MAX_WEBHOOKS_PER_GROUP, WEBHOOK_ATTEMPTS, WEBHOOK_BACKOFF_MS, WEBHOOK_TEXT_CHARS, WEBHOOK_TIMEOUT_MS } from "../../../contract/limits.ts";
import { type Caller, fail, type Message, ok, type Outcome } from "../types.ts";
import { answerClaims, signAnswerLink } from "./answer-link.ts";
import { type DeliveryContext, deliveryBody, type WebhookEvent, WebhookNotice } from "./events.ts";
import type { WebhookAdd, WebhookInfo } from "./schemas.ts";
import { DELIVERY_HEADER, EVENT_HEADER, newWebhookSecret, SIGNATURE_HEADER, signDelivery, TIMESTAMP_HEADER } from "./signature.ts";
import { type DeliveryRow, type HookRow, WebhookStore } from "./store.ts";
import { isLocalRelayHost, webhookTargetProblem } from "./target-rule.ts";

/** Deliveries one alarm run attempts; the rest wait for the next run, set at once. */
const DELIVERIES_PER_RUN = 20;
/** How long a delivery in flight is held from other runs: longer than its timeout. */
const IN_FLIGHT_HOLD_MS = WEBHOOK_TIMEOUT_MS * 4;

function randomId(prefix: string): string {
  const bytes = crypto.getRandomValues(new Uint8Array(6));
  return `${prefix}_${Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("")}`;
}

export interface WebhookDeps {
  sql: SqlStorage;
  storage: DurableObjectStorage;
  /** RELAY_SECRET, which signs the answer links; without it, questions carry no link. */
  relaySecret: string | undefined;
}

export class Webhooks {
  readonly store: WebhookStore;
  private readonly deps: WebhookDeps;

  constructor(deps: WebhookDeps) {
    this.deps = deps;
    this.store = new WebhookStore(deps.sql);
    // Read now, with the rest of the object's start-up, so no send pays for it.
    this.store.hooks();
  }

  // Managed by a lead ---------------------------------------------------------------------------

  private leadOnly(caller: Caller, what: string): Outcome<null> {
    if (caller.role === "lead") return ok(null);
    return fail("forbidden", `Only a lead may ${what} webhooks of group '${caller.group}'. Ask whoever holds the team secret for a token minted with --lead.`);
  }

  /** Adds a webhook; the answer carries its signing secret, which is never shown again. */
  add(caller: Caller, input: WebhookAdd, origin: string): Outcome<WebhookInfo & { secret: string }> {
    const allowed = this.leadOnly(caller, "add");
    if (!allowed.ok) return allowed;
    const problem = webhookTargetProblem(input.url, isLocalRelayHost(new URL(origin).hostname));
    if (problem) return fail("invalid_input", problem);
    // A webhook carries the questions and DMs of the people it names, never everyone's: one for
    // every peer would hand DMs between any two of them to whoever holds its URL.
    const personal = input.events.filter((event) => event === "question" || event === "dm");
    if (personal.length > 0 && input.peers.length === 0) {
      return fail(
        "invalid_input",
        `Name the people whose ${personal.join(" and ")} events this webhook carries (--for PEER, or "peers" over HTTP): a webhook for every peer would send DMs and questions between any two of them to its URL. Only chain_held may go without --for.`,
      );
    }
    if (this.store.hooks().length >= MAX_WEBHOOKS_PER_GROUP) {
      return fail("quota_exceeded", `Group '${caller.group}' already has ${MAX_WEBHOOKS_PER_GROUP} webhooks. Remove one (relay-bridge webhook remove ID) first.`);
    }
    const hook: HookRow = {
      id: randomId("wh"),
      url: input.url,
      peers: [...new Set(input.peers)],
      events: [...new Set(input.events)],
      format: input.format,
      secret: newWebhookSecret(),
      group: caller.group,
      origin,
      created_by: caller.peer,
      created_at: Date.now(),
      delivered_at: null,
    };
    this.store.insertHook(hook);
    return ok({ ...this.info(hook), secret: hook.secret });
  }

  list(caller: Caller): Outcome<WebhookInfo[]> {
    const allowed = this.leadOnly(caller, "list");
    if (!allowed.ok) return allowed;
    return ok(this.store.hooks().map((hook) => this.info(hook)));
  }

  remove(caller: Caller, id: string): Outcome<{ removed: string }> {
    const allowed = this.leadOnly(caller, "remove");
    if (!allowed.ok) return allowed;
    if (!this.store.hook(id)) return fail("not_found", `No webhook ${id} in group '${caller.group}'. relay-bridge webhook list shows their ids.`);
    this.store.deleteHook(id);
    return ok({ removed: id });
  }

  private info(hook: HookRow): WebhookInfo {
    return {
      id: hook.id,
      url: hook.url,
      peers: hook.peers,
      events: hook.events,
      format: hook.format,
      created_by: hook.created_by,
      created_at: new Date(hook.created_at).toISOString(),
      last_delivered_at: hook.delivered_at === null ? null : new Date(hook.delivered_at).toISOString(),
      failures: this.store.failures(hook.id).map((d) => ({
        event: d.event,
        attempts: d.attempts,
        error: d.last_error ?? "",
        at: new Date(d.updated_at).toISOString(),
        retrying: d.next_at !== null,
      })),
    };
  }

  // Events ------------------------------------------------------------------------------------------

  /** The send path's one call: a question or a DM to a peer some webhook is for. */
  onMessage(message: Message, ask?: { default_answer?: string; deadline?: number }): void {
    if (message.to === null || (message.kind !== "question" && message.kind !== "dm")) return;
    const notice: WebhookNotice = { for: message.to, from: message.from, text: message.text, message_id: message.id, seq: message.seq };
    if (ask?.default_answer !== undefined) notice.default_answer = ask.default_answer;
    if (ask?.deadline !== undefined) notice.deadline = new Date(ask.deadline).toISOString();
    this.enqueue(message.kind, notice);
  }

  /**
   * A chain just became held: it waits for a person's yes (worker/group/chains/). Any person may
   * continue a chain, so `--for` does not narrow this event: every webhook that hears it is told.
   */
  onChainHeld(held: { chain: number; by: string; agent_messages: number; budget: number }): void {
    this.enqueue("chain_held", {
      for: held.by,
      from: held.by,
      text: `Chain ${held.chain} is held after ${held.agent_messages} agent messages with no person (its budget is ${held.budget}). A person must continue it: in the web room, or with \`relay-bridge continue ${held.chain}\`; or end it.`,
      extra: { chain: held.chain, agent_messages: held.agent_messages, budget: held.budget },
    });
  }

  /**
   * Queues `event` for every webhook that hears it about `notice.for`. Synchronous SQL only, so a
   * caller inside a send keeps its writes in one transaction; the posting happens on the alarm.
   */
  enqueue(event: WebhookEvent, notice: WebhookNotice): void {
    const forAnyone = event === "chain_held";
    const hooks = this.store.hooks().filter((h) => h.events.includes(event) && (forAnyone || h.peers.includes(notice.for)));
    if (hooks.length === 0) return;
    const now = Date.now();
    // Kept only as long as a delivery can show (one character more, so it is still cut and marked
    // truncated): a DM's whole text would be a second copy outside the group's quota and retention.
    const stored = JSON.stringify(WebhookNotice.parse({ ...notice, text: notice.text.slice(0, WEBHOOK_TEXT_CHARS + 1) }));
    for (const hook of hooks) this.store.insertDelivery(randomId("dl"), hook.id, event, stored, now);
    // Not awaited: the output gate holds the send's answer until the alarm is stored.
    void this.scheduleNext();
  }

  // Delivering (from the alarm) ---------------------------------------------------------------------

  /** Makes sure the alarm fires by the next due delivery. Run after anything else sets the alarm. */
  async scheduleNext(): Promise<void> {
    const next = this.store.nextDue();
    if (next === null) return;
    const current = await this.deps.storage.getAlarm();
    if (current === null || current > next) await this.deps.storage.setAlarm(next);
  }

  /** Posts every due delivery at once, each bounded by WEBHOOK_TIMEOUT_MS. */
  async deliverDue(): Promise<void> {
    const now = Date.now();
    const due = this.store.due(now, DELIVERIES_PER_RUN);
    for (const delivery of due) this.store.hold(delivery.id, now + IN_FLIGHT_HOLD_MS);
    await Promise.allSettled(due.map((delivery) => this.attempt(delivery)));
  }

  private async attempt(delivery: DeliveryRow): Promise<void> {
    const hook = this.store.hook(delivery.hook);
    if (!hook) return;
    let error: string | null;
    try {
      error = await this.post(hook, delivery);
    } catch (thrown) {
      error = thrown instanceof Error ? `${thrown.name}: ${thrown.message}` : String(thrown);
    }
    const now = Date.now();
    if (error === null) return this.store.delivered(delivery, now);
    const attempts = delivery.attempts + 1;
    const retryAt = attempts < WEBHOOK_ATTEMPTS ? now + WEBHOOK_BACKOFF_MS[Math.min(attempts - 1, WEBHOOK_BACKOFF_MS.length - 1)]! : null;
    this.store.attemptFailed(delivery, error, retryAt, now);
  }

  /** One POST; null when the receiver took it (2xx), else why not. */
  private async post(hook: HookRow, delivery: DeliveryRow): Promise<string | null> {
    // Checked again at every delivery: the rule may be stricter than when the hook was added.
    const refused = webhookTargetProblem(hook.url, isLocalRelayHost(new URL(hook.origin).hostname));
    if (refused) return refused;
    const notice = WebhookNotice.parse(JSON.parse(delivery.notice));
    const context: DeliveryContext = { event: delivery.event, delivery: delivery.id, group: hook.group, time: new Date(delivery.created_at).toISOString() };
    if (delivery.event === "question" && notice.message_id && notice.from && this.deps.relaySecret) {
      const code = await signAnswerLink(this.deps.relaySecret, answerClaims(hook.group, notice.message_id, notice.for, notice.from, delivery.created_at));
      context.answer_url = `${hook.origin}/answer/${code}`;
    }
    const body = deliveryBody(hook.format, context, notice);
    const timestamp = Math.floor(Date.now() / 1000);
    const response = await fetch(hook.url, {
      method: "POST",
      headers: {
        "Content-Type": "application/json",
        "User-Agent": "claude-relay-webhook",
        [SIGNATURE_HEADER]: await signDelivery(hook.secret, timestamp, body),
        [TIMESTAMP_HEADER]: String(timestamp),
        [EVENT_HEADER]: delivery.event,
        [DELIVERY_HEADER]: delivery.id,
      },
      body,
      // A redirect could lead anywhere, a private address included: it counts as a failure.
      redirect: "manual",
      signal: AbortSignal.timeout(WEBHOOK_TIMEOUT_MS),
    });
    await response.body?.cancel();
    return response.status >= 200 && response.status < 300 ? null : `HTTP ${response.status}`;
  }
}

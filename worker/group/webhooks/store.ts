/** The SQL behind webhooks: the hooks a lead added, and the deliveries waiting, done or failed. */
import { WEBHOOK_FAILURES_KEPT } from "../../../contract/limits.ts";
import type { WebhookEvent, WebhookFormat } from "./events.ts";

export const WEBHOOKS_SCHEMA: readonly string[] = [
  // `peers` and `events` are JSON arrays; no peers means every peer. `origin` is the relay's own
  // origin as the lead reached it, for the answer links; `secret` signs every delivery.
  `CREATE TABLE webhooks (
     id TEXT PRIMARY KEY,
     url TEXT NOT NULL,
     peers TEXT NOT NULL,
     events TEXT NOT NULL,
     format TEXT NOT NULL,
     secret TEXT NOT NULL,
     grp TEXT NOT NULL,
     origin TEXT NOT NULL,
     created_by TEXT NOT NULL,
     created_at INTEGER NOT NULL,
     delivered_at INTEGER
   )`,
  // A delivery is due while `next_at` is set; delivered ones are deleted, failed ones kept (with
  // `next_at` NULL) so `webhook list` can show them.
  `CREATE TABLE webhook_deliveries (
     id TEXT PRIMARY KEY,
     hook TEXT NOT NULL,
     event TEXT NOT NULL,
     notice TEXT NOT NULL,
     attempts INTEGER NOT NULL DEFAULT 0,
     next_at INTEGER,
     last_error TEXT,
     created_at INTEGER NOT NULL,
     updated_at INTEGER NOT NULL
   )`,
  `CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_at) WHERE next_at IS NOT NULL`,
  `CREATE INDEX webhook_deliveries_by_hook ON webhook_deliveries (hook, updated_at)`,
];

export interface HookRow {
  id: string;
  url: string;
  peers: string[];
  events: WebhookEvent[];
  format: WebhookFormat;
  secret: string;
  group: string;
  origin: string;
  created_by: string;
  created_at: number;
  delivered_at: number | null;
}

export type DeliveryRow = {
  id: string;
  hook: string;
  event: WebhookEvent;
  notice: string;
  attempts: number;
  next_at: number | null;
  last_error: string | null;
  created_at: number;
  updated_at: number;
};

type RawHook = { [K in keyof Omit<HookRow, "peers" | "events" | "group">]: HookRow[K] } & { peers: string; events: string; grp: string };

function hookFrom(raw: RawHook): HookRow {
  const { grp, ...rest } = raw;
  return { ...rest, group: grp, peers: JSON.parse(raw.peers) as string[], events: JSON.parse(raw.events) as WebhookEvent[] };
}

export class WebhookStore {
  private readonly sql: SqlStorage;
  /** Hooks are read on every send: kept in memory, reloaded after each change. */
  private cached: HookRow[] | null = null;

  constructor(sql: SqlStorage) {
    this.sql = sql;
  }

  hooks(): HookRow[] {
    this.cached ??= this.sql.exec<RawHook>(`SELECT * FROM webhooks ORDER BY created_at, id`).toArray().map(hookFrom);
    return this.cached;
  }

  hook(id: string): HookRow | undefined {
    return this.hooks().find((h) => h.id === id);
  }

  insertHook(hook: HookRow): void {
    this.sql.exec(
      `INSERT INTO webhooks (id, url, peers, events, format, secret, grp, origin, created_by, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      hook.id, hook.url, JSON.stringify(hook.peers), JSON.stringify(hook.events), hook.format, hook.secret, hook.group, hook.origin, hook.created_by, hook.created_at,
    );
    this.cached = null;
  }

  deleteHook(id: string): void {
    this.sql.exec(`DELETE FROM webhook_deliveries WHERE hook = ?`, id);
    this.sql.exec(`DELETE FROM webhooks WHERE id = ?`, id);
    this.cached = null;
  }

  insertDelivery(id: string, hook: string, event: WebhookEvent, notice: string, now: number): void {
    this.sql.exec(
      `INSERT INTO webhook_deliveries (id, hook, event, notice, next_at, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
      id, hook, event, notice, now, now, now,
    );
  }

  due(now: number, limit: number): DeliveryRow[] {
    return this.sql.exec<DeliveryRow>(`SELECT * FROM webhook_deliveries WHERE next_at IS NOT NULL AND next_at <= ? ORDER BY next_at LIMIT ?`, now, limit).toArray();
  }

  nextDue(): number | null {
    return this.sql.exec<{ t: number | null }>(`SELECT MIN(next_at) AS t FROM webhook_deliveries WHERE next_at IS NOT NULL`).one().t;
  }

  /** Holds a delivery while its attempt is in flight, so no other alarm run sends it too. */
  hold(id: string, until: number): void {
    this.sql.exec(`UPDATE webhook_deliveries SET next_at = ? WHERE id = ?`, until, id);
  }

  delivered(delivery: DeliveryRow, now: number): void {
    this.sql.exec(`DELETE FROM webhook_deliveries WHERE id = ?`, delivery.id);
    this.sql.exec(`UPDATE webhooks SET delivered_at = ? WHERE id = ?`, now, delivery.hook);
    this.cached = null;
  }

  /** A failed attempt: tried again at `retryAt`, or (null) recorded as failed for good. */
  attemptFailed(delivery: DeliveryRow, error: string, retryAt: number | null, now: number): void {
    this.sql.exec(
      `UPDATE webhook_deliveries SET attempts = attempts + 1, next_at = ?, last_error = ?, updated_at = ? WHERE id = ?`,
      retryAt, error.slice(0, 300), now, delivery.id,
    );
    if (retryAt === null) {
      this.sql.exec(
        `DELETE FROM webhook_deliveries WHERE hook = ? AND next_at IS NULL AND id NOT IN
           (SELECT id FROM webhook_deliveries WHERE hook = ? AND next_at IS NULL ORDER BY updated_at DESC LIMIT ?)`,
        delivery.hook, delivery.hook, WEBHOOK_FAILURES_KEPT,
      );
    }
  }

  /** Deliveries that gave up, and those still retrying after a failure, newest first. */
  failures(hook: string): DeliveryRow[] {
    return this.sql
      .exec<DeliveryRow>(`SELECT * FROM webhook_deliveries WHERE hook = ? AND last_error IS NOT NULL ORDER BY updated_at DESC LIMIT ?`, hook, WEBHOOK_FAILURES_KEPT)
      .toArray();
  }
}

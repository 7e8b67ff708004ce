/**
 * Retention and stale sockets, on the object's single alarm. Alarms are delivered at least once,
 * so everything here is idempotent.
 */
import type { Settings } from "./settings.ts";
import { IdempotencyKeys } from "./mail/idempotency.ts";
import type { MailStore } from "./mail/store.ts";
import { DAY_MS } from "./rows.ts";
import type { SocketHub } from "./sockets/hub.ts";

const SWEEP_INTERVAL_MS = 5 * 60_000;
const RETENTION_INTERVAL_MS = 60 * 60_000;

export class Housekeeping {
  private readonly storage: DurableObjectStorage;
  private readonly settings: Settings;
  private readonly mail: MailStore;
  private readonly sockets: SocketHub;
  /** Whether an alarm is known to be scheduled, so a hot send path skips asking storage. */
  private scheduled = false;

  constructor(storage: DurableObjectStorage, settings: Settings, mail: MailStore, sockets: SocketHub) {
    this.storage = storage;
    this.settings = settings;
    this.mail = mail;
    this.sockets = sockets;
  }

  ensureAlarm(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    // Fire-and-forget is safe: the output gate holds our response until the alarm is stored.
    void this.storage
      .getAlarm()
      .then((current) => {
        if (current === null) return this.storage.setAlarm(Date.now() + SWEEP_INTERVAL_MS);
      })
      .catch(() => {
        // Try again on the next write rather than never.
        this.scheduled = false;
      });
  }

  async run(): Promise<void> {
    const now = Date.now();
    this.mail.deleteBefore(now - this.settings.retentionDays * DAY_MS, Math.floor(now / DAY_MS));
    IdempotencyKeys.prune(this.storage.sql, now);
    const anySockets = this.sockets.sweep(now);
    if (anySockets) await this.storage.setAlarm(now + SWEEP_INTERVAL_MS);
    else if (this.mail.hasMessages()) await this.storage.setAlarm(now + RETENTION_INTERVAL_MS);
    else this.scheduled = false;
  }
}

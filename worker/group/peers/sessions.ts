/**
 * Page sessions that were signed out. A session cookie is signed by the Worker and checks out on its
 * own until it expires (12 h at most), so ending one early needs a record here: its id, kept until
 * the moment the cookie would have expired anyway, after which the row is useless and pruned.
 *
 * Looked up by primary key, and only for calls that came through a page session, so a bridge's
 * or an agent's call costs nothing more. The table lives in SQLite rather than memory: every
 * sign-out adds a row, and rows stay for up to 12 h.
 */
import type { Caller, Problem } from "../types.ts";

export class EndedSessions {
  private readonly sql: SqlStorage;

  constructor(sql: SqlStorage) {
    this.sql = sql;
  }

  /** Records `id` as ended; the cookie carrying it would expire at `until` (epoch ms) anyway. */
  end(id: string, until: number, now: number): void {
    this.sql.exec(`DELETE FROM ended_sessions WHERE until <= ?`, now);
    this.sql.exec(`INSERT INTO ended_sessions (id, until) VALUES (?1, ?2) ON CONFLICT (id) DO NOTHING`, id, until);
  }

  isEnded(id: string): boolean {
    return this.sql.exec(`SELECT 1 FROM ended_sessions WHERE id = ?`, id).toArray().length > 0;
  }

  /** Why the caller's page session is refused (it was signed out), or null. */
  problem(caller: Caller): Problem | null {
    if (caller.session === undefined || !this.isEnded(caller.session)) return null;
    return { code: "revoked", message: "This session was signed out. Sign in again with your link." };
  }
}

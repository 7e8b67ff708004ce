/**
 * Roles inside a group object: who is an observer, whether the group is paused, and what either
 * forbids. Plain functions over the object's SQLite, called from GroupObject.
 */
import type { Role } from "../../contract/token.ts";
import type { PauseInfo } from "./frames.ts";

interface Who {
  group: string;
  peer: string;
  role?: Role;
}

/** Why a write (a message or a board change) by `who` is refused now, or null if it is not. */
export function writeRefusal(sql: SqlStorage, who: Who): { code: "read_only" | "paused"; message: string } | null {
  if (who.role === "observer") {
    return {
      code: "read_only",
      message: `You are an observer in group '${who.group}': observers read everything and send nothing. Ask for a peer token to take part.`,
    };
  }
  const pause = pauseState(sql);
  if (pause && who.role !== "lead") {
    return { code: "paused", message: `the group is paused by ${pause.by}: ${pause.reason}` };
  }
  return null;
}

/**
 * Keeps the observers table in step with the token the peer last used. A plain token after an
 * observer one turns the name back into a plain peer; the DELETE of an absent row writes nothing.
 */
export function noteRole(sql: SqlStorage, who: Who): void {
  if (who.role === "observer") sql.exec(`INSERT OR IGNORE INTO observers (name) VALUES (?)`, who.peer);
  else sql.exec(`DELETE FROM observers WHERE name = ?`, who.peer);
}

export function observerNames(sql: SqlStorage): Set<string> {
  return new Set(sql.exec<{ name: string }>(`SELECT name FROM observers`).toArray().map((r) => r.name));
}

export function pauseState(sql: SqlStorage): PauseInfo | null {
  const row = sql
    .exec<{ paused_by: string; reason: string; paused_at: number }>(`SELECT paused_by, reason, paused_at FROM pause`)
    .toArray()[0];
  return row ? { by: row.paused_by, reason: row.reason, at: new Date(row.paused_at).toISOString() } : null;
}

export function setPause(sql: SqlStorage, by: string, reason: string, now: number): PauseInfo {
  sql.exec(
    `INSERT INTO pause (only, paused_by, reason, paused_at) VALUES (1, ?1, ?2, ?3)
     ON CONFLICT (only) DO UPDATE SET paused_by = ?1, reason = ?2, paused_at = ?3`,
    by,
    reason,
    now,
  );
  return { by, reason, at: new Date(now).toISOString() };
}

export function clearPause(sql: SqlStorage): void {
  sql.exec(`DELETE FROM pause`);
}

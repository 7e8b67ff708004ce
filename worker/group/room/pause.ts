/**
 * What a role or a pause forbids: an observer reads everything and sends nothing; while a lead has
 * paused the group, everyone but a lead is refused writes (messages and board changes). The pause
 * is read on every write and changed rarely: kept in memory, written through to its one row.
 */
import { singleLine } from "../../../contract/names.ts";
import type { Caller, Problem } from "../types.ts";
import { iso } from "../rows.ts";
import type { PauseInfo } from "../room-frames.ts";

export function writeRefusal(pause: PauseInfo | null, who: Caller): Problem | null {
  if (who.role === "observer") {
    return {
      code: "read_only",
      message: `You are an observer in group '${who.group}': observers read everything and send nothing. Ask for a peer token to take part.`,
    };
  }
  if (pause && who.role !== "lead") {
    return { code: "paused", message: `the group is paused by ${pause.by}: ${pause.reason}` };
  }
  return null;
}

export class Pause {
  private readonly sql: SqlStorage;
  private state: PauseInfo | null;

  constructor(sql: SqlStorage) {
    this.sql = sql;
    const row = sql.exec<{ paused_by: string; reason: string; paused_at: number }>(`SELECT paused_by, reason, paused_at FROM pause`).toArray()[0];
    this.state = row ? { by: row.paused_by, reason: row.reason, at: iso(row.paused_at) } : null;
  }

  get current(): PauseInfo | null {
    return this.state;
  }

  /** Why `who` may not write now (an observer, or the group is paused), or null. */
  refusal(who: Caller): Problem | null {
    return writeRefusal(this.state, who);
  }

  /** Pauses with a reason, or resumes (null). */
  set(by: string, reason: string | null, at: number): PauseInfo | null {
    if (reason === null) {
      this.sql.exec(`DELETE FROM pause`);
      this.state = null;
      return null;
    }
    // The reason is repeated in every refused send, which a model reads: one line, no controls.
    const line = singleLine(reason);
    this.sql.exec(
      `INSERT INTO pause (only, paused_by, reason, paused_at) VALUES (1, ?1, ?2, ?3)
       ON CONFLICT (only) DO UPDATE SET paused_by = ?1, reason = ?2, paused_at = ?3`,
      by,
      line,
      at,
    );
    this.state = { by, reason: line, at: iso(at) };
    return this.state;
  }
}

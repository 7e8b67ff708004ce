/**
 * The shared board: a small key-value store every peer reads and writes (set_state, get_state),
 * shown live in the web room. Its SQL is here too; it is a handful of statements on one table.
 */
import { MAX_STATE_KEYS } from "../../../contract/limits.ts";
import { type Caller, fail, ok, type Outcome, type Problem } from "../types.ts";
import type { StateEntry } from "./schemas.ts";
import type { Peers } from "../peers/peers.ts";
import { type BoardCursor, type BoardPage, boardPage } from "./pages.ts";
import { iso } from "../rows.ts";
import type { PageSockets } from "../sockets/pages.ts";

interface StateRow extends Record<string, SqlStorageValue> {
  key: string;
  value: string;
  updated_by: string;
  updated_at: number;
}

export interface BoardDeps {
  sql: SqlStorage;
  peers: Peers;
  pages: PageSockets;
  writeRefusal(caller: Caller): Problem | null;
}

export class Board {
  private readonly sql: SqlStorage;
  private readonly deps: BoardDeps;

  constructor(deps: BoardDeps) {
    this.deps = deps;
    this.sql = deps.sql;
  }

  /** `valueJson` is already-serialised JSON; `null` as a value removes the key. */
  set(caller: Caller, key: string, valueJson: string): Outcome<StateEntry> {
    const refused = this.deps.writeRefusal(caller);
    if (refused) return { ok: false, problem: refused };
    const now = Date.now();
    const removing = valueJson === "null";
    if (!removing && this.sql.exec(`SELECT 1 FROM state WHERE key = ?`, key).toArray().length === 0) {
      const keys = this.sql.exec<{ n: number }>(`SELECT COUNT(*) AS n FROM state`).one().n;
      if (keys >= MAX_STATE_KEYS) {
        return fail("too_many_keys", `The board already has ${keys} keys, the most it holds. Remove keys you no longer need (set_state with value null), or reuse one.`);
      }
    }
    const throttled = this.deps.peers.writeThrottled(caller.peer, now);
    if (throttled) return { ok: false, problem: throttled };
    this.deps.peers.touch(caller, now);
    if (removing) this.sql.exec(`DELETE FROM state WHERE key = ?`, key);
    else {
      this.sql.exec(
        `INSERT INTO state (key, value, updated_by, updated_at) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (key) DO UPDATE SET value = ?2, updated_by = ?3, updated_at = ?4`,
        key,
        valueJson,
        caller.peer,
        now,
      );
    }
    this.deps.pages.pushToAll({ type: "board", entry: { key, value_json: removing ? null : valueJson, updated_by: caller.peer, updated_at: iso(now) } });
    return ok({ key, value_json: valueJson, updated_by: caller.peer, updated_at: iso(now) });
  }

  /** One key with its value, or the keys under `prefix` with who set them when, without values. */
  get(caller: Caller, key: string | undefined, prefix: string | undefined): Outcome<StateEntry[]> {
    if (key !== undefined) {
      const row = this.sql.exec<StateRow>(`SELECT * FROM state WHERE key = ?`, key).toArray()[0];
      // Refuse before touch(): a refused call changes nothing, not even last_seen.
      if (!row) return fail("not_found", `No state key '${key}'. Call get_state without a key to list the keys there are.`);
      this.deps.peers.touch(caller, Date.now());
      return ok([{ key: row.key, value_json: row.value, updated_by: row.updated_by, updated_at: iso(row.updated_at) }]);
    }
    this.deps.peers.touch(caller, Date.now());
    const keys = this.sql
      .exec<StateRow>(`SELECT key, updated_by, updated_at FROM state WHERE substr(key, 1, length(?1)) = ?1 ORDER BY key`, prefix ?? "")
      .toArray()
      .map((row) => ({ key: row.key, updated_by: row.updated_by, updated_at: iso(row.updated_at) }));
    return ok(keys);
  }

  /** A page of the board as the room shows it, newest change first, values cut to a preview (pages.ts). */
  page(after: BoardCursor | null, limit: number): BoardPage {
    return boardPage(this.sql, after, limit);
  }
}

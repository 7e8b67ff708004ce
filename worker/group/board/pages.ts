/**
 * The shared board as the room pages it. A board at its limit holds 1,000 keys of up to 16 KiB
 * each, so the room's first load carries only the most recently changed entries, each value cut to
 * a preview; the page asks for the next entries, or one key's whole value, when the person does.
 *
 * Pages are keyed by the last entry shown (its change time and key), not by an offset, so a key
 * changed or removed while someone pages back neither repeats nor hides another.
 */
import type { BoardEntry } from "../room-frames.ts";

/** Entries in the room's first load. */
export const BOARD_FIRST_PAGE = 50;
/** The most entries one later page may hold. */
export const BOARD_PAGE_MAX = 200;
/** Characters of each value a page carries; the rest is fetched per key. */
export const BOARD_PREVIEW_CHARS = 280;

/** Where the next page starts: after this entry, in newest-change-first order. */
export interface BoardCursor {
  updated_at: string;
  key: string;
}

export interface BoardPage {
  entries: BoardEntry[];
  /** Pass as the cursor for the entries after these; null when there are none. */
  next: BoardCursor | null;
  /** Keys on the board now. */
  total: number;
}

interface PreviewRow extends Record<string, SqlStorageValue> {
  key: string;
  preview: string;
  cut: number;
  updated_by: string;
  updated_at: number;
}

export function boardPage(sql: SqlStorage, after: BoardCursor | null, limit: number): BoardPage {
  const size = Math.max(1, Math.min(BOARD_PAGE_MAX, Math.floor(limit) || 1));
  const at = after ? Date.parse(after.updated_at) : null;
  const rows = sql
    .exec<PreviewRow>(
      `SELECT key, substr(value, 1, ?1) AS preview, length(value) > ?1 AS cut, updated_by, updated_at FROM state
        WHERE ?2 IS NULL OR updated_at < ?2 OR (updated_at = ?2 AND key > ?3)
        ORDER BY updated_at DESC, key LIMIT ?4`,
      BOARD_PREVIEW_CHARS,
      at !== null && Number.isFinite(at) ? at : null,
      after?.key ?? "",
      size + 1,
    )
    .toArray();
  const entries = rows.slice(0, size).map((r): BoardEntry => {
    const entry: BoardEntry = { key: r.key, value_json: r.preview, updated_by: r.updated_by, updated_at: new Date(r.updated_at).toISOString() };
    if (r.cut) entry.truncated = true;
    return entry;
  });
  const last = entries[entries.length - 1];
  const total = sql.exec<{ n: number }>(`SELECT COUNT(*) AS n FROM state`).one().n;
  return { entries, next: rows.length > size && last ? { updated_at: last.updated_at, key: last.key } : null, total };
}

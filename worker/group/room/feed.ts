/**
 * The one feed every human surface reads: what a viewer may see (audience.ts `sees`), text
 * included, marking nothing read. The query comes from the page or a script, so it is clamped to
 * the limits the tools use before it is run.
 */
import { HISTORY_MAX_LIMIT, MAX_QUERY_LENGTH } from "../../../contract/limits.ts";
import type { RoomMessage } from "../room-frames.ts";

/** The most messages one feed page may hold (the room's `/feed` route uses the same bound). */
export const FEED_MAX_LIMIT = HISTORY_MAX_LIMIT;

export interface FeedQuery {
  /** Only messages with a seq above this, oldest first (a live surface catching up). */
  after?: number;
  /** Only messages with a seq below this: the page before (scrolling back). */
  before?: number;
  /** Text to search for (plain substring, case-insensitive for ASCII). */
  query?: string;
  limit: number;
}

export interface FeedPage {
  messages: RoomMessage[];
  next_before: number | null;
}

/** Clamps a query from any caller to the limits the tools use. */
export function boundedQuery(q: FeedQuery): FeedQuery {
  const bounded: FeedQuery = { limit: Math.max(1, Math.min(FEED_MAX_LIMIT, Math.floor(q.limit) || 1)) };
  if (q.after !== undefined && Number.isFinite(q.after)) bounded.after = Math.max(0, Math.floor(q.after));
  if (q.before !== undefined && Number.isFinite(q.before)) bounded.before = Math.max(0, Math.floor(q.before));
  if (q.query) bounded.query = q.query.slice(0, MAX_QUERY_LENGTH);
  return bounded;
}

/**
 * What the group object tells a signed-in page over its WebSocket, and what the page's HTTP API
 * answers. Types only: the browser script (worker/web/client/room.ts) imports them through
 * worker/web/frames.ts, and esbuild strips them, so nothing Workers-only reaches the browser bundle.
 */
import type { Message } from "../../contract/message.ts";
import type { Role } from "../../contract/token.ts";

/** A message as the page shows it: the full text (the page renders it as text, never HTML). */
export type RoomMessage = Message;

export interface PauseInfo {
  by: string;
  reason: string;
  at: string;
}

export interface BoardEntry {
  key: string;
  /** The value as JSON text; null once the key was removed. */
  value_json: string | null;
  updated_by: string;
  updated_at: string;
  /** Set when value_json is only the start of the value (a page of the board): ask for the key to see all. */
  truncated?: true;
}

export interface RoomPeer {
  name: string;
  profile: { summary?: string; hostname?: string; cwd?: string; branch?: string; client?: string };
  online: boolean;
  last_seen: string;
  left: boolean;
  observer: boolean;
}

/** Everything the room needs to draw itself once; live frames keep it current afterwards. */
export interface RoomSnapshot {
  group: string;
  me: string;
  role: Role | null;
  latest_seq: number;
  /** The newest messages the viewer may see, oldest first. */
  messages: RoomMessage[];
  /** Seq to pass as `before` for the page before `messages`; null when they reach the start. */
  next_before: number | null;
  /** Questions addressed to the viewer that the viewer has not answered yet, oldest first. */
  open_questions: RoomMessage[];
  peers: RoomPeer[];
  /** The most recently changed board entries, values cut to a preview (board/pages.ts). */
  board: BoardEntry[];
  /** Where the board's next page starts; null when `board` holds every key. */
  board_next: { updated_at: string; key: string } | null;
  /** Keys on the board. */
  board_total: number;
  pause: PauseInfo | null;
  /** When the page's session ends (token expiry or the session's own limit); absent for a script. */
  session_ends?: string;
  /** DMs and questions to the viewer that were unread when the page opened, oldest first (none for an observer). */
  needs_you?: RoomMessage[];
}

export type RoomFrame =
  | { type: "message"; message: RoomMessage }
  | { type: "board"; entry: BoardEntry }
  | { type: "pause"; pause: PauseInfo | null }
  /** A bridge connected or went away: the peer list's online flags changed. */
  | { type: "presence" }
  /** The session ended (token revoked or expired); the socket closes right after. */
  | { type: "signed_out"; message: string };

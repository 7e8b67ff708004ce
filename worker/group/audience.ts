/**
 * Who hears about what, stated once. A peer hears about a message when it is addressed to them,
 * or when it is a broadcast from someone else and they have not left the group. "Hears" covers
 * every way mail reaches a peer: unread mail (read_new_messages, wait_for_messages), socket
 * notices, replays after a reconnect. A peer who left still gets what is addressed to them.
 *
 * The same rule is written twice, once for messages in memory and once as SQL for messages in
 * storage; tests/worker/audience.test.ts checks the two agree on every combination.
 */
export interface Listener {
  name: string;
  left: boolean;
}

export interface Addressed {
  from: string;
  /** null for a broadcast. */
  to: string | null;
}

export function hears(listener: Listener, message: Addressed): boolean {
  if (message.to !== null) return message.to === listener.name;
  return message.from !== listener.name && !listener.left;
}

/**
 * The rule as a WHERE fragment over `messages`, for the listener bound as `?1`. A listener who
 * left is a different fragment rather than a bound flag, so SQLite can use the recipient index.
 */
export function heardBySql(left: boolean): string {
  return left ? `(recipient = ?1)` : `(recipient = ?1 OR (recipient IS NULL AND sender != ?1))`;
}

/**
 * Who may see a message (in history and the people's feed), which is wider than who hears about
 * it: a peer sees broadcasts and the DMs it sent or received; an observer sees every message.
 */
export interface Viewer {
  peer: string;
  observer: boolean;
}

export function sees(viewer: Viewer, message: Addressed): boolean {
  return viewer.observer || message.to === null || message.to === viewer.peer || message.from === viewer.peer;
}

/** The rule as a WHERE fragment over `messages`, for the viewer bound as `?1`. */
export function seenBySql(observer: boolean): string {
  return observer ? `(1 = 1)` : `(recipient IS NULL OR recipient = ?1 OR sender = ?1)`;
}

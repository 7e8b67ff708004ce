/**
 * The web room's side of the group: the snapshot a page draws at sign-in, the feed it (and
 * `relay-bridge tail`) pages through, and the lead's pause. Live frames reach the page through
 * sockets/pages.ts.
 */
import { type Caller, fail, type Message, ok, type Outcome } from "../types.ts";
import { seenBySql } from "../audience.ts";
import type { Board } from "../board/board.ts";
import { BOARD_FIRST_PAGE } from "../board/pages.ts";
import { readPage } from "../mail/mail.ts";
import { page } from "../mail/search.ts";
import type { MailStore } from "../mail/store.ts";
import type { Peers } from "../peers/peers.ts";
import type { SocketHub } from "../sockets/hub.ts";
import { boundedQuery, type FeedPage, type FeedQuery } from "./feed.ts";
import type { PauseInfo, RoomMessage, RoomPeer, RoomSnapshot } from "../room-frames.ts";

/** Unread mail the snapshot looks through for what is addressed to the viewer. */
const NEEDS_YOU_LIMIT = 200;
import { Pause } from "./pause.ts";

export interface RoomDeps {
  sql: SqlStorage;
  peers: Peers;
  mail: MailStore;
  board: Board;
  sockets: SocketHub;
}

export class Room {
  private readonly deps: RoomDeps;
  readonly pause: Pause;

  constructor(deps: RoomDeps, pause: Pause) {
    this.deps = deps;
    this.pause = pause;
  }

  /** What the caller may see, text included; marks nothing read. Observers see every message. */
  feed(caller: Caller, query: FeedQuery): Outcome<FeedPage> {
    const q = boundedQuery(query);
    return readPage(() => {
      const { messages, next } = page(this.deps.sql, { where: [seenBySql(caller.role === "observer")], binds: [caller.peer], ...q });
      // Reading forwards, the page asks again from its newest seq; only a backwards page says where.
      return { messages, next_before: q.after === undefined ? next : null };
    });
  }

  /** The feed behind `relay-bridge tail`: messages after `after`, and the newest seq. */
  tail(caller: Caller, after: number | undefined, limit: number): Outcome<{ messages: Message[]; latest_seq: number }> {
    const feed = this.feed(caller, after === undefined ? { limit } : { after, limit });
    if (!feed.ok) return feed;
    return ok({ messages: feed.value.messages, latest_seq: this.deps.mail.latestSeq() });
  }

  /** Everything the page draws at sign-in: newest messages, open questions, peers, board, pause. */
  snapshot(caller: Caller, limit: number): Outcome<RoomSnapshot> {
    const feed = this.feed(caller, { limit });
    if (!feed.ok) return feed;
    const { peers, mail, board, sockets } = this.deps;
    const now = Date.now();
    peers.touch(caller, now);
    const firstBoardPage = board.page(null, BOARD_FIRST_PAGE);
    const observer = caller.role === "observer";
    return ok({
      group: caller.group,
      me: caller.peer,
      role: caller.role ?? null,
      latest_seq: mail.latestSeq(),
      ...feed.value,
      // An observer can never answer: it is asked nothing and has nothing waiting for it.
      open_questions: observer ? [] : mail.openQuestions(caller.peer),
      peers: this.listedPeers(now),
      board: firstBoardPage.entries,
      board_next: firstBoardPage.next,
      board_total: firstBoardPage.total,
      pause: this.pause.current,
      needs_you: observer ? [] : this.unreadForViewer(caller),
    });
  }

  /**
   * The peers the room lists. A person looking at the room (an open page) is online as much as an
   * agent with a bridge is. A peer whose tokens were revoked after it was last seen is gone, not
   * offline: it is left out until it comes back with a new token.
   */
  private listedPeers(now: number): RoomPeer[] {
    const { peers, sockets } = this.deps;
    const revoked = peers.store.revocations();
    const online = (name: string) => sockets.isOnline(name, now) || sockets.pages.of(name).some((ws) => ws.readyState === WebSocket.OPEN);
    return peers.store.roomPeers(peers.observers, online).filter((p) => {
      const before = revoked.get(p.name);
      return before === undefined || (peers.store.peer(p.name)?.last_seen ?? 0) >= before;
    });
  }

  /** DMs and questions to the viewer it has not read yet (before the page marks them read), oldest first. */
  private unreadForViewer(caller: Caller): RoomMessage[] {
    const { peers, mail } = this.deps;
    const row = peers.store.peer(caller.peer);
    if (!row) return [];
    return mail.unread(peers.listener(caller.peer), row.read_cursor, NEEDS_YOU_LIMIT).filter((m) => m.to === caller.peer);
  }

  /** Pauses (a reason given) or resumes (null) the group; leads only. Every page hears it. */
  setPause(caller: Caller, reason: string | null): Outcome<PauseInfo | null> {
    if (caller.role !== "lead") {
      return fail("forbidden", `Only a lead may pause or resume group '${caller.group}'. Ask the team for a token minted with --lead.`);
    }
    const now = Date.now();
    this.deps.peers.touch(caller, now);
    const pause = this.pause.set(caller.peer, reason, now);
    this.deps.sockets.pages.pushToAll({ type: "pause", pause });
    return ok(pause);
  }
}

/**
 * GroupObject: one SQLite-backed Durable Object per group. It is the single source of truth for
 * the group's peers, messages, read cursors, shared state and revocations, and it holds the
 * hibernatable WebSockets of the bridges connected to the group.
 *
 * Every method takes the caller's identity as the Worker verified it from the token. Nothing here
 * trusts a peer name from tool input except as the *target* of an action.
 */
import { DurableObject } from "cloudflare:workers";
import { type Env, type Limits, limitsFrom } from "./env.ts";
import {
  ClientFrame,
  CLOSE_CODES,
  KEEPALIVE_PING,
  KEEPALIVE_PONG,
  type MessageKind,
  type NoticeFrame,
  parseFrame,
  type ReadFrame,
  type ServerFrame,
} from "../contract/frames.ts";
import { MAX_CLIENT_FRAME_BYTES } from "../contract/limits.ts";
import { migrate } from "./schema.ts";
import type { Message } from "../contract/message.ts";
import type { Role } from "../contract/token.ts";
import { boardEntries, feed, type FeedPage, type FeedQuery, latestSeq, openQuestions, roomPeers } from "./web/feed.ts";
import type { PauseInfo, RoomSnapshot } from "./web/frames.ts";
import { clearPause, noteRole, observerNames, pauseState, setPause, writeRefusal } from "./web/people.ts";
import { acceptWebSocket, closeWebSockets, FORWARDED_ROLE_HEADER, isWebAttachment, isWebUpgrade, pushMessage, pushToAll } from "./web/room-sockets.ts";

export interface Caller {
  group: string;
  peer: string;
  /** When the caller's token was issued (epoch ms); checked against revocations. */
  iat: number;
  /** When the caller's token expires (epoch ms), if it does. */
  exp?: number;
  /** The token's role; absent for a plain peer. */
  role?: Role;
}

export type ProblemCode =
  | "revoked"
  | "unknown_peer"
  | "self_dm"
  | "unknown_message"
  | "too_large"
  | "rate_limited"
  | "invalid_input"
  | "not_found"
  | "too_many_waits"
  | "too_many_keys"
  | "read_only"
  | "paused"
  | "forbidden";

export interface Problem {
  code: ProblemCode;
  message: string;
}

/** RPC results carry expected failures as values; thrown errors are reserved for the unexpected. */
export type Outcome<T> = { ok: true; value: T } | { ok: false; problem: Problem };

export type { Message } from "../contract/message.ts";

export interface Profile {
  summary?: string;
  hostname?: string;
  cwd?: string;
  branch?: string;
}

export interface PeerInfo {
  name: string;
  profile: Profile;
  online: boolean;
  first_seen: string;
  last_seen: string;
  /** Present (true) when this peer is an observer: it reads every message, DMs included. */
  observer?: true;
}

export interface SendInput {
  /** Recipient for a DM or question; absent for a broadcast. */
  to?: string;
  text: string;
  reply_to?: string;
  urgent?: boolean;
  tags?: string[];
  kind: MessageKind;
}

export interface Sent {
  id: string;
  seq: number;
  time: string;
  /** Set when a DM went to a peer who has left the group: delivered, but they may not look. */
  recipient_left?: boolean;
}

export interface Inbox {
  messages: Message[];
  remaining: number;
}

export interface HistoryQuery {
  peer?: string;
  before?: number;
  limit: number;
  query?: string;
}

export interface HistoryPage {
  messages: Message[];
  /** Pass as `before` to get the page before this one; null when this page reaches the start. */
  next_before: number | null;
}

export interface StateEntry {
  key: string;
  /** The value as JSON text (kept as text so it crosses the RPC boundary untouched). */
  value_json?: string;
  updated_by: string;
  updated_at: string;
}

/** Kept on each socket; survives hibernation (the object's memory does not). */
interface SocketAttachment {
  peer: string;
  iat: number;
  /** The token's expiry (epoch ms), if any: the socket is closed once it passes. */
  exp?: number;
  connectedAt: number;
  lastFrameAt: number;
  /** False until the bridge's hello has been answered with a replay; live notices wait for it. */
  ready: boolean;
  badFrames: number;
}

export interface MessageRow extends Record<string, SqlStorageValue> {
  seq: number;
  id: string;
  sender: string;
  recipient: string | null;
  kind: string;
  text: string;
  reply_to: string | null;
  urgent: number;
  tags: string;
  created_at: number;
}

interface PeerRow extends Record<string, SqlStorageValue> {
  name: string;
  profile: string;
  first_seen: number;
  last_seen: number;
  left_group: number;
  read_cursor: number;
  acked_seq: number;
}

/** A tool call parked in the object until a message it wants arrives, or its time runs out. */
interface Waiter {
  peer: string;
  iat: number;
  wants(message: Message): boolean;
  /** Resolves the parked call: with the message, or null at the timeout or on revocation. */
  settle(message: Message | null): void;
}

/** A socket with no frame and no keep-alive for this long is treated as gone. */
export const STALE_SOCKET_MS = 90_000;
const SWEEP_INTERVAL_MS = 5 * 60_000;
const RETENTION_INTERVAL_MS = 60 * 60_000;
const MAX_BAD_FRAMES = 10;
/** Parked ask_peer / wait_for_messages calls one peer may have at once. */
const MAX_WAITS_PER_PEER = 8;
/** Keys on a group's shared board; a runaway script cannot grow it without bound. */
export const MAX_STATE_KEYS = 1_000;
const DAY_MS = 86_400_000;

/** The messages a peer hears about: others' broadcasts and anything addressed to it. */
const CONCERNS_PEER = `((recipient IS NULL AND sender != ?1) OR recipient = ?1)`;
const NOT_READ_OUT_OF_ORDER = `NOT EXISTS (SELECT 1 FROM read_marks r WHERE r.peer = ?1 AND r.seq = messages.seq)`;

function ok<T>(value: T): Outcome<T> {
  return { ok: true, value };
}

function fail<T>(code: ProblemCode, message: string): Outcome<T> {
  return { ok: false, problem: { code, message } };
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

export function toMessage(row: MessageRow): Message {
  return {
    id: row.id,
    seq: row.seq,
    from: row.sender,
    to: row.recipient,
    kind: row.kind as MessageKind,
    text: row.text,
    reply_to: row.reply_to,
    urgent: row.urgent === 1,
    tags: JSON.parse(row.tags) as string[],
    time: iso(row.created_at),
  };
}

function noticeFor(message: Message): NoticeFrame {
  return { type: "notice", seq: message.seq, id: message.id, from: message.from, kind: message.kind, urgent: message.urgent };
}

function newMessageId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(8));
  return `m_${Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("")}`;
}

const utf8 = new TextEncoder();

/** The role the Worker verified from the token, forwarded with a page's socket upgrade. */
function roleFrom(request: Request): { role?: Role } {
  const role = request.headers.get(FORWARDED_ROLE_HEADER);
  return role === "observer" || role === "lead" ? { role } : {};
}

export class GroupObject extends DurableObject<Env> {
  private readonly sql: SqlStorage;
  private readonly limits: Limits;
  /** Loaded once per wake-up: revocations are rare and checked on every call. */
  private readonly revokedBefore = new Map<string, number>();
  private readonly leftPeers = new Set<string>();
  private readonly mailWaiters = new Set<Waiter>();
  private readonly replyWaiters = new Set<Waiter>();
  /** Recent set_state/register calls per peer (ms timestamps): a flood of writes is throttled too. */
  private readonly recentWrites = new Map<string, number[]>();
  /** Whether an alarm is known to be scheduled, so a hot send path skips asking storage. */
  private alarmScheduled = false;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.limits = limitsFrom(env);
    // The constructor also runs after every hibernation or eviction: everything in memory is
    // rebuilt from SQLite here. Synchronous SQL needs no blockConcurrencyWhile.
    migrate(ctx.storage);
    for (const row of this.sql.exec<{ peer: string; before: number }>(`SELECT peer, before FROM revocations`)) {
      this.revokedBefore.set(row.peer, row.before);
    }
    for (const row of this.sql.exec<{ name: string }>(`SELECT name FROM peers WHERE left_group = 1`)) {
      this.leftPeers.add(row.name);
    }
    // Answered by the runtime itself, so a bridge's keep-alive never wakes a hibernating group.
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair(KEEPALIVE_PING, KEEPALIVE_PONG));
  }

  // -------------------------------------------------------------------------------------------
  // Identity
  // -------------------------------------------------------------------------------------------

  private revokedProblem(caller: Caller): Problem | null {
    const before = this.revokedBefore.get(caller.peer);
    if (before !== undefined && caller.iat < before) {
      return {
        code: "revoked",
        message: `This token for peer '${caller.peer}' was revoked. Ask your team for a new token (npm run -s token -- --group ${caller.group} --peer ${caller.peer}).`,
      };
    }
    return null;
  }

  /** Records that the caller is alive; creates the peer on first sight. Returns its row. */
  private touch(caller: Caller, now: number, rejoin = false): PeerRow {
    // A newcomer's cursors start at the newest seq: the group's past is history, not unread mail.
    this.sql.exec(
      `INSERT INTO peers (name, first_seen, last_seen, read_cursor, acked_seq)
       VALUES (?1, ?2, ?2, (SELECT COALESCE(MAX(seq), 0) FROM messages), (SELECT COALESCE(MAX(seq), 0) FROM messages))
       ON CONFLICT (name) DO UPDATE SET last_seen = ?2, left_group = CASE WHEN ?3 THEN 0 ELSE left_group END`,
      caller.peer,
      now,
      rejoin ? 1 : 0,
    );
    if (rejoin) this.leftPeers.delete(caller.peer);
    noteRole(this.sql, caller);
    return this.sql.exec<PeerRow>(`SELECT * FROM peers WHERE name = ?`, caller.peer).one();
  }

  /** For MCP requests that touch no data (initialize, tools/list): is this token still good? */
  async authorize(caller: Caller): Promise<Outcome<null>> {
    const revoked = this.revokedProblem(caller);
    if (revoked) return { ok: false, problem: revoked };
    this.touch(caller, Date.now());
    return ok(null);
  }

  async revoke(peer: string, before: number): Promise<{ closed: number }> {
    this.sql.exec(
      `INSERT INTO revocations (peer, before) VALUES (?1, ?2) ON CONFLICT (peer) DO UPDATE SET before = MAX(before, ?2)`,
      peer,
      before,
    );
    this.revokedBefore.set(peer, Math.max(before, this.revokedBefore.get(peer) ?? 0));
    // Parked calls of a revoked token end now; they re-check revocation and return its error.
    for (const waiter of [...this.mailWaiters, ...this.replyWaiters]) {
      if (waiter.peer === peer && waiter.iat < before) waiter.settle(null);
    }
    let closed = 0;
    for (const ws of this.ctx.getWebSockets(peer)) {
      const attachment = ws.deserializeAttachment() as SocketAttachment;
      if (attachment.iat < before) {
        this.sendFrame(ws, { type: "error", code: "revoked", message: "This token was revoked. Ask your team for a new one." });
        ws.close(CLOSE_CODES.revoked, "token revoked");
        closed++;
      }
    }
    closed += closeWebSockets(this.ctx, peer, before);
    return { closed };
  }

  // -------------------------------------------------------------------------------------------
  // Messages
  // -------------------------------------------------------------------------------------------

  /**
   * The per-peer limit for writes other than messages (register, set_state), with the same
   * numbers as the send limit. Kept in memory: it guards against floods, and an eviction that
   * forgets it costs at most one more window's worth.
   */
  private writeThrottled(peer: string, now: number): Problem | null {
    const windowStart = now - this.limits.rateLimitWindowMs;
    const recent = (this.recentWrites.get(peer) ?? []).filter((t) => t > windowStart);
    if (recent.length >= this.limits.rateLimitCount) {
      this.recentWrites.set(peer, recent);
      return {
        code: "rate_limited",
        message: `Slow down: at most ${this.limits.rateLimitCount} register/set_state calls per ${this.limits.rateLimitWindowMs / 1000} s per peer. Nothing was changed; try again in a few seconds.`,
      };
    }
    recent.push(now);
    this.recentWrites.set(peer, recent);
    return null;
  }

  async register(caller: Caller, profile: Profile): Promise<Outcome<PeerInfo>> {
    const revoked = this.revokedProblem(caller);
    if (revoked) return { ok: false, problem: revoked };
    const now = Date.now();
    const throttled = this.writeThrottled(caller.peer, now);
    if (throttled) return { ok: false, problem: throttled };
    this.touch(caller, now, true);
    this.sql.exec(`UPDATE peers SET profile = ? WHERE name = ?`, JSON.stringify(profile), caller.peer);
    return ok(this.peerInfo(this.sql.exec<PeerRow>(`SELECT * FROM peers WHERE name = ?`, caller.peer).one(), now));
  }

  async send(caller: Caller, input: SendInput): Promise<Outcome<Sent>> {
    const revoked = this.revokedProblem(caller);
    if (revoked) return { ok: false, problem: revoked };
    const refused = writeRefusal(this.sql, caller);
    if (refused) return { ok: false, problem: refused };
    const now = Date.now();

    const bytes = utf8.encode(input.text).length;
    if (bytes > this.limits.maxMessageBytes) {
      return fail(
        "too_large",
        `Message text is ${bytes} bytes; the limit is ${this.limits.maxMessageBytes}. Split it into parts, or put bulky content in a file and send its path.`,
      );
    }

    let recipientLeft = false;
    if (input.to !== undefined) {
      if (input.to === caller.peer) return fail("self_dm", "You cannot send a DM to yourself. Use set_state for notes to self.");
      const recipient = this.sql.exec<{ left_group: number }>(`SELECT left_group FROM peers WHERE name = ?`, input.to).toArray()[0];
      if (!recipient) {
        return fail(
          "unknown_peer",
          `No peer named '${input.to}' in group '${caller.group}'. Known peers: ${this.knownPeerNames().join(", ") || "(none yet)"}. A peer appears once its Claude Code session connects to the relay or its bridge connects; use send_message to reach everyone.`,
        );
      }
      recipientLeft = recipient.left_group === 1;
    }

    if (input.reply_to !== undefined && !this.visibleMessage(caller.peer, input.reply_to)) {
      return fail("unknown_message", `No message with id '${input.reply_to}' that you can see. Take ids from read_new_messages or get_history.`);
    }

    const windowStart = now - this.limits.rateLimitWindowMs;
    const recent = this.sql
      .exec<{ n: number }>(`SELECT COUNT(*) AS n FROM messages WHERE sender = ? AND created_at > ?`, caller.peer, windowStart)
      .one().n;
    if (recent >= this.limits.rateLimitCount) {
      return fail(
        "rate_limited",
        `Slow down: at most ${this.limits.rateLimitCount} messages per ${this.limits.rateLimitWindowMs / 1000} s per peer. Nothing was sent; try again in a few seconds, or combine messages.`,
      );
    }

    // No await between these writes: the runtime commits them as one atomic transaction.
    this.touch(caller, now, true);
    const id = newMessageId();
    const tags = JSON.stringify(input.tags ?? []);
    const row = this.sql
      .exec<MessageRow>(
        `INSERT INTO messages (id, sender, recipient, kind, text, reply_to, urgent, tags, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING *`,
        id,
        caller.peer,
        input.to ?? null,
        input.kind,
        input.text,
        input.reply_to ?? null,
        input.urgent ? 1 : 0,
        tags,
        now,
      )
      .one();
    const message = toMessage(row);
    this.deliver(message);
    this.ensureAlarm();
    const sent: Sent = { id: message.id, seq: message.seq, time: message.time };
    if (recipientLeft) sent.recipient_left = true;
    return ok(sent);
  }

  /**
   * Wakes the calls parked for a new message, and notifies the bridges that should hear of it.
   * Nothing is marked read here: a parked call's client may have gone away, and mail is only
   * marked read by the tool once it holds the result (see markRead), so a lost client costs a
   * repeated notice at worst, never a lost message.
   */
  private deliver(message: Message): void {
    for (const waiter of [...this.replyWaiters, ...this.mailWaiters]) {
      if (waiter.wants(message)) waiter.settle(message);
    }
    const frame = JSON.stringify(noticeFor(message));
    const sockets = message.to !== null ? this.ctx.getWebSockets(message.to) : this.ctx.getWebSockets();
    const now = Date.now();
    for (const ws of sockets) {
      const attachment = ws.deserializeAttachment() as SocketAttachment | null;
      if (!attachment?.ready || this.closeIfInvalid(ws, attachment, now)) continue;
      if (message.to === null && (attachment.peer === message.from || this.leftPeers.has(attachment.peer))) continue;
      this.sendRaw(ws, frame);
    }
    pushMessage(this.ctx, message);
  }

  /** Closes a socket whose token was revoked or has expired since it connected. */
  private closeIfInvalid(ws: WebSocket, attachment: SocketAttachment, now: number): boolean {
    const revoked = (this.revokedBefore.get(attachment.peer) ?? 0) > attachment.iat;
    const expired = attachment.exp !== undefined && attachment.exp <= now;
    if (!revoked && !expired) return false;
    const message = revoked ? "This token was revoked. Ask your team for a new one." : "This token has expired. Ask your team for a new one.";
    this.sendFrame(ws, { type: "error", code: revoked ? "revoked" : "expired", message });
    try {
      ws.close(CLOSE_CODES.revoked, revoked ? "token revoked" : "token expired");
    } catch {
      // Already closed.
    }
    return true;
  }

  private concerns(message: Message, peer: string): boolean {
    return message.to === peer || (message.to === null && message.from !== peer);
  }

  private visibleMessage(peer: string, id: string): boolean {
    return (
      this.sql
        .exec(`SELECT 1 FROM messages WHERE id = ?2 AND (recipient IS NULL OR recipient = ?1 OR sender = ?1)`, peer, id)
        .toArray().length > 0
    );
  }

  private knownPeerNames(): string[] {
    return this.sql.exec<{ name: string }>(`SELECT name FROM peers WHERE left_group = 0 ORDER BY name`).toArray().map((r) => r.name);
  }

  private countUnread(peer: string, cursor: number): number {
    return this.sql
      .exec<{ n: number }>(
        `SELECT COUNT(*) AS n FROM messages WHERE seq > ?2 AND ${CONCERNS_PEER} AND ${NOT_READ_OUT_OF_ORDER}`,
        peer,
        cursor,
      )
      .one().n;
  }

  /** The caller's unread mail, oldest first, marked read. */
  async readNew(caller: Caller, limit: number): Promise<Outcome<Inbox>> {
    const revoked = this.revokedProblem(caller);
    if (revoked) return { ok: false, problem: revoked };
    const peer = this.touch(caller, Date.now());
    const rows = this.sql
      .exec<MessageRow>(
        `SELECT * FROM messages WHERE seq > ?2 AND ${CONCERNS_PEER} AND ${NOT_READ_OUT_OF_ORDER} ORDER BY seq LIMIT ?3`,
        caller.peer,
        peer.read_cursor,
        limit,
      )
      .toArray();
    const last = rows.at(-1);
    if (!last) return ok({ messages: [], remaining: 0 });
    this.sql.exec(`UPDATE peers SET read_cursor = ? WHERE name = ?`, last.seq, caller.peer);
    this.sql.exec(`DELETE FROM read_marks WHERE peer = ? AND seq <= ?`, caller.peer, last.seq);
    // Tell the peer's bridges, so a notice still waiting for Claude to go idle is dropped.
    this.announceRead(caller.peer, { type: "read", through_seq: last.seq });
    return ok({ messages: rows.map(toMessage), remaining: this.countUnread(caller.peer, last.seq) });
  }

  /**
   * Parks the call until a message it wants arrives or `timeoutMs` passes. Refused when the peer
   * already has MAX_WAITS_PER_PEER calls parked: each holds a connection open for minutes.
   */
  private park(
    set: Set<Waiter>,
    caller: Caller,
    timeoutMs: number,
    wants: (message: Message) => boolean,
  ): Outcome<Promise<Message | null>> {
    let parked = 0;
    for (const waiter of [...this.mailWaiters, ...this.replyWaiters]) if (waiter.peer === caller.peer) parked++;
    if (parked >= MAX_WAITS_PER_PEER) {
      return fail(
        "too_many_waits",
        `You already have ${parked} ask_peer / wait_for_messages calls waiting; the limit is ${MAX_WAITS_PER_PEER}. Wait for one to finish.`,
      );
    }
    const settled = new Promise<Message | null>((resolve) => {
      const waiter: Waiter = {
        peer: caller.peer,
        iat: caller.iat,
        wants,
        settle: (message) => {
          clearTimeout(timer);
          set.delete(waiter);
          resolve(message);
        },
      };
      const timer = setTimeout(() => waiter.settle(null), timeoutMs);
      set.add(waiter);
    });
    return ok(settled);
  }

  /**
   * Resolves with true as soon as the caller has unread mail, or false at the timeout. Takes
   * nothing: the tool reads the mail with readNew once this returns, so mail is never marked read
   * for a client that gave up while waiting.
   */
  async waitForMail(caller: Caller, timeoutMs: number): Promise<Outcome<boolean>> {
    const revoked = this.revokedProblem(caller);
    if (revoked) return { ok: false, problem: revoked };
    const peer = this.touch(caller, Date.now());
    if (this.countUnread(caller.peer, peer.read_cursor) > 0) return ok(true);
    if (timeoutMs <= 0) return ok(false);
    const parked = this.park(this.mailWaiters, caller, timeoutMs, (message) => this.concerns(message, caller.peer));
    if (!parked.ok) return parked;
    const message = await parked.value;
    // The token may have been revoked while this call was parked.
    const revokedSince = this.revokedProblem(caller);
    if (revokedSince) return { ok: false, problem: revokedSince };
    return ok(message !== null);
  }

  /**
   * Waits for `from`'s reply to question `questionId`. A reply that already arrived (say, while
   * the object was being restarted) is found in storage first, so a retried wait never misses it.
   * The reply is NOT marked read here; the tool calls markRead once it holds it.
   */
  async waitForReply(caller: Caller, questionId: string, from: string, timeoutMs: number): Promise<Outcome<Message | null>> {
    const revoked = this.revokedProblem(caller);
    if (revoked) return { ok: false, problem: revoked };
    const stored = this.sql
      .exec<MessageRow>(
        `SELECT * FROM messages WHERE sender = ?1 AND reply_to = ?2 AND (recipient = ?3 OR recipient IS NULL) ORDER BY seq LIMIT 1`,
        from,
        questionId,
        caller.peer,
      )
      .toArray()[0];
    if (stored) return ok(toMessage(stored));
    if (timeoutMs <= 0) return ok(null);
    const parked = this.park(
      this.replyWaiters,
      caller,
      timeoutMs,
      (m) => m.from === from && m.reply_to === questionId && (m.to === caller.peer || m.to === null),
    );
    if (!parked.ok) return parked;
    const reply = await parked.value;
    const revokedSince = this.revokedProblem(caller);
    if (revokedSince) return { ok: false, problem: revokedSince };
    return ok(reply);
  }

  /**
   * Marks one message read out of order (an ask_peer reply the asker now holds), and tells the
   * peer's bridges to drop a notice for it that has not been typed yet.
   */
  async markRead(caller: Caller, seq: number): Promise<Outcome<null>> {
    const revoked = this.revokedProblem(caller);
    if (revoked) return { ok: false, problem: revoked };
    const cursor = this.touch(caller, Date.now()).read_cursor;
    if (seq > cursor) this.sql.exec(`INSERT OR IGNORE INTO read_marks (peer, seq) VALUES (?, ?)`, caller.peer, seq);
    this.announceRead(caller.peer, { type: "read", through_seq: cursor, seqs: [seq] });
    return ok(null);
  }

  private announceRead(peer: string, frame: ReadFrame): void {
    const text = JSON.stringify(frame);
    for (const ws of this.ctx.getWebSockets(peer)) {
      if ((ws.deserializeAttachment() as SocketAttachment | null)?.ready) this.sendRaw(ws, text);
    }
  }

  async history(caller: Caller, query: HistoryQuery): Promise<Outcome<HistoryPage>> {
    const revoked = this.revokedProblem(caller);
    if (revoked) return { ok: false, problem: revoked };
    // Refuse before touch(): a refused call changes nothing, not even last_seen.
    if (query.peer !== undefined && this.sql.exec(`SELECT 1 FROM peers WHERE name = ?`, query.peer).toArray().length === 0) {
      return fail("unknown_peer", `No peer named '${query.peer}' in this group. list_peers shows who is here.`);
    }
    this.touch(caller, Date.now());
    const conditions: string[] = [];
    const binds: SqlStorageValue[] = [];
    if (query.peer === undefined) {
      conditions.push(`recipient IS NULL`);
    } else {
      // Only the caller's own thread with that peer: DMs between two others never match.
      conditions.push(`((sender = ? AND recipient = ?) OR (sender = ? AND recipient = ?))`);
      binds.push(caller.peer, query.peer, query.peer, caller.peer);
    }
    if (query.before !== undefined) {
      conditions.push(`seq < ?`);
      binds.push(query.before);
    }
    if (query.query !== undefined && query.query !== "") {
      conditions.push(`text LIKE ? ESCAPE '\\'`);
      binds.push(`%${query.query.replace(/[\\%_]/g, (c) => `\\${c}`)}%`);
    }
    const rows = this.sql
      .exec<MessageRow>(`SELECT * FROM messages WHERE ${conditions.join(" AND ")} ORDER BY seq DESC LIMIT ?`, ...binds, query.limit + 1)
      .toArray();
    const more = rows.length > query.limit;
    const page = rows.slice(0, query.limit).reverse();
    return ok({ messages: page.map(toMessage), next_before: more && page[0] ? page[0].seq : null });
  }

  // -------------------------------------------------------------------------------------------
  // Peers and shared state
  // -------------------------------------------------------------------------------------------

  private peerInfo(row: PeerRow, now: number): PeerInfo {
    return {
      name: row.name,
      profile: JSON.parse(row.profile) as Profile,
      online: this.isOnline(row.name, now),
      first_seen: iso(row.first_seen),
      last_seen: iso(row.last_seen),
    };
  }

  private lastActivity(ws: WebSocket): number {
    const attachment = ws.deserializeAttachment() as SocketAttachment | null;
    const pong = this.ctx.getWebSocketAutoResponseTimestamp(ws)?.getTime() ?? 0;
    return Math.max(pong, attachment?.lastFrameAt ?? 0, attachment?.connectedAt ?? 0);
  }

  private isOnline(peer: string, now: number): boolean {
    return this.ctx
      .getWebSockets(peer)
      .some((ws) => ws.readyState === WebSocket.OPEN && now - this.lastActivity(ws) < STALE_SOCKET_MS);
  }

  async listPeers(caller: Caller): Promise<Outcome<PeerInfo[]>> {
    const revoked = this.revokedProblem(caller);
    if (revoked) return { ok: false, problem: revoked };
    const now = Date.now();
    this.touch(caller, now);
    const rows = this.sql.exec<PeerRow>(`SELECT * FROM peers WHERE left_group = 0 ORDER BY name`).toArray();
    const observers = observerNames(this.sql);
    return ok(rows.map((row) => ({ ...this.peerInfo(row, now), ...(observers.has(row.name) && { observer: true as const }) })));
  }

  async leave(caller: Caller): Promise<Outcome<null>> {
    const revoked = this.revokedProblem(caller);
    if (revoked) return { ok: false, problem: revoked };
    this.touch(caller, Date.now());
    this.sql.exec(`UPDATE peers SET left_group = 1 WHERE name = ?`, caller.peer);
    this.leftPeers.add(caller.peer);
    return ok(null);
  }

  /** `valueJson` is already-serialised JSON; `null` as a value removes the key. */
  async setState(caller: Caller, key: string, valueJson: string): Promise<Outcome<StateEntry>> {
    const revoked = this.revokedProblem(caller);
    if (revoked) return { ok: false, problem: revoked };
    const refused = writeRefusal(this.sql, caller);
    if (refused) return { ok: false, problem: refused };
    const now = Date.now();
    if (valueJson !== "null" && this.sql.exec(`SELECT 1 FROM state WHERE key = ?`, key).toArray().length === 0) {
      const keys = this.sql.exec<{ n: number }>(`SELECT COUNT(*) AS n FROM state`).one().n;
      if (keys >= MAX_STATE_KEYS) {
        return fail("too_many_keys", `The board already has ${keys} keys, the most it holds. Remove keys you no longer need (set_state with value null), or reuse one.`);
      }
    }
    const throttled = this.writeThrottled(caller.peer, now);
    if (throttled) return { ok: false, problem: throttled };
    this.touch(caller, now);
    if (valueJson === "null") {
      this.sql.exec(`DELETE FROM state WHERE key = ?`, key);
    } else {
      this.sql.exec(
        `INSERT INTO state (key, value, updated_by, updated_at) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (key) DO UPDATE SET value = ?2, updated_by = ?3, updated_at = ?4`,
        key,
        valueJson,
        caller.peer,
        now,
      );
    }
    pushToAll(this.ctx, { type: "board", entry: { key, value_json: valueJson === "null" ? null : valueJson, updated_by: caller.peer, updated_at: iso(now) } });
    return ok({ key, value_json: valueJson, updated_by: caller.peer, updated_at: iso(now) });
  }

  async getState(caller: Caller, key: string | undefined, prefix: string | undefined): Promise<Outcome<StateEntry[]>> {
    const revoked = this.revokedProblem(caller);
    if (revoked) return { ok: false, problem: revoked };
    type StateRow = { key: string; value: string; updated_by: string; updated_at: number };
    if (key !== undefined) {
      const row = this.sql.exec<StateRow>(`SELECT * FROM state WHERE key = ?`, key).toArray()[0];
      // Refuse before touch(): a refused call changes nothing, not even last_seen.
      if (!row) return fail("not_found", `No state key '${key}'. Call get_state without a key to list the keys there are.`);
      this.touch(caller, Date.now());
      return ok([{ key: row.key, value_json: row.value, updated_by: row.updated_by, updated_at: iso(row.updated_at) }]);
    }
    const rows = this.sql
      .exec<StateRow>(
        `SELECT key, updated_by, updated_at FROM state WHERE substr(key, 1, length(?1)) = ?1 ORDER BY key`,
        prefix ?? "",
      )
      .toArray();
    this.touch(caller, Date.now());
    return ok(rows.map((row) => ({ key: row.key, updated_by: row.updated_by, updated_at: iso(row.updated_at) })));
  }

  // -------------------------------------------------------------------------------------------
  // Bridge sockets (WebSocket Hibernation API)
  // -------------------------------------------------------------------------------------------

  /** Reached only through the Worker, which has verified the token and set the identity headers. */
  override async fetch(request: Request): Promise<Response> {
    const caller: Caller = {
      group: request.headers.get("X-Relay-Group") ?? "",
      peer: request.headers.get("X-Relay-Peer") ?? "",
      iat: Number(request.headers.get("X-Relay-Iat")),
    };
    const exp = request.headers.get("X-Relay-Exp");
    if (exp) caller.exp = Number(exp);
    if (request.headers.get("Upgrade")?.toLowerCase() !== "websocket" || !caller.peer) {
      return Response.json({ error: "bad_request", message: "Expected a WebSocket upgrade." }, { status: 426 });
    }
    const revoked = this.revokedProblem(caller);
    if (revoked) return Response.json({ error: "token_revoked", message: revoked.message }, { status: 401 });
    const now = Date.now();
    this.touch(caller, now);
    if (isWebUpgrade(request)) {
      this.ensureAlarm();
      return acceptWebSocket(this.ctx, { ...caller, ...roleFrom(request) }, now);
    }

    const { 0: client, 1: server } = new WebSocketPair();
    const attachment: SocketAttachment = { peer: caller.peer, iat: caller.iat, connectedAt: now, lastFrameAt: now, ready: false, badFrames: 0 };
    if (caller.exp !== undefined) attachment.exp = caller.exp;
    // The tag lets getWebSockets(peer) find this peer's sockets after hibernation.
    this.ctx.acceptWebSocket(server, [caller.peer]);
    server.serializeAttachment(attachment);
    const latest = this.sql.exec<{ s: number | null }>(`SELECT MAX(seq) AS s FROM messages`).one().s ?? 0;
    this.sendFrame(server, { type: "welcome", group: caller.group, peer: caller.peer, latest_seq: latest });
    this.ensureAlarm();
    pushToAll(this.ctx, { type: "presence" });
    return new Response(null, { status: 101, webSocket: client });
  }

  override async webSocketMessage(ws: WebSocket, data: string | ArrayBuffer): Promise<void> {
    // A page sends only the keep-alive, answered by the runtime; anything else from it is ignored.
    if (isWebAttachment(ws.deserializeAttachment())) return;
    const attachment = ws.deserializeAttachment() as SocketAttachment;
    attachment.lastFrameAt = Date.now();
    if (this.closeIfInvalid(ws, attachment, attachment.lastFrameAt)) return;
    const size = typeof data === "string" ? data.length : data.byteLength;
    const frame = typeof data === "string" && size <= MAX_CLIENT_FRAME_BYTES ? parseFrame(ClientFrame, data) : null;
    if (!frame) {
      attachment.badFrames++;
      ws.serializeAttachment(attachment);
      this.sendFrame(ws, {
        type: "error",
        code: "bad_frame",
        message: `Expected a JSON text frame of at most ${MAX_CLIENT_FRAME_BYTES} bytes: {"type":"hello","last_acked":N|null} or {"type":"ack","seq":N}.`,
      });
      if (attachment.badFrames >= MAX_BAD_FRAMES) ws.close(CLOSE_CODES.protocolError, "too many malformed frames");
      return;
    }
    if (frame.type === "hello") {
      const peer = this.sql.exec<PeerRow>(`SELECT * FROM peers WHERE name = ?`, attachment.peer).one();
      const after = Math.max(frame.last_acked ?? peer.acked_seq, peer.read_cursor);
      const rows = this.sql
        .exec<MessageRow>(
          `SELECT * FROM messages WHERE seq > ?2 AND ${CONCERNS_PEER} AND ${NOT_READ_OUT_OF_ORDER} ORDER BY seq`,
          attachment.peer,
          after,
        )
        .toArray();
      // Broadcasts sent while the peer had left the group are not announced, as when live.
      const left = this.leftPeers.has(attachment.peer);
      for (const row of rows) {
        if (left && row.recipient === null) continue;
        this.sendFrame(ws, noticeFor(toMessage(row)));
      }
      const through = this.sql.exec<{ s: number | null }>(`SELECT MAX(seq) AS s FROM messages`).one().s ?? 0;
      this.sendFrame(ws, { type: "replay_done", after_seq: after, through_seq: through });
      attachment.ready = true;
    } else {
      // An ack for a seq the group never issued would move acked_seq past mail that does not
      // exist yet, and a later `hello` with last_acked null would then skip real notices. Found by
      // the fuzzer (tests/worker/fuzz.test.ts): refused like any other bad frame, nothing stored.
      const issued = this.sql.exec<{ seq: number }>(`SELECT seq FROM sqlite_sequence WHERE name = 'messages'`).toArray()[0]?.seq ?? 0;
      if (frame.seq > issued) {
        attachment.badFrames++;
        ws.serializeAttachment(attachment);
        this.sendFrame(ws, {
          type: "error",
          code: "bad_ack",
          message: `Ack for seq ${frame.seq}, but the newest seq in this group is ${issued}: ack only seqs you were notified of.`,
        });
        if (attachment.badFrames >= MAX_BAD_FRAMES) ws.close(CLOSE_CODES.protocolError, "too many malformed frames");
        return;
      }
      this.sql.exec(`UPDATE peers SET acked_seq = MAX(acked_seq, ?) WHERE name = ?`, frame.seq, attachment.peer);
    }
    ws.serializeAttachment(attachment);
  }

  override async webSocketClose(ws: WebSocket, code: number, reason: string): Promise<void> {
    // Reciprocate the close, or the client sits in CLOSING and ends up reporting 1006.
    // 1005/1006 are reserved for "no code"/"abnormal" and may not be sent back.
    try {
      ws.close(code === 1005 || code === 1006 ? 1000 : code, reason);
    } catch {
      // Already closed.
    }
    if (!isWebAttachment(ws.deserializeAttachment())) pushToAll(this.ctx, { type: "presence" });
  }

  override async webSocketError(ws: WebSocket): Promise<void> {
    try {
      ws.close(1011, "socket error");
    } catch {
      // Already closed.
    }
  }

  private sendFrame(ws: WebSocket, frame: ServerFrame): void {
    this.sendRaw(ws, JSON.stringify(frame));
  }

  private sendRaw(ws: WebSocket, text: string): void {
    try {
      ws.send(text);
    } catch {
      // A socket that is closing cannot be written to; its bridge replays on reconnect.
    }
  }

  // -------------------------------------------------------------------------------------------
  // Housekeeping: retention and stale sockets, on the object's single alarm
  // -------------------------------------------------------------------------------------------

  private ensureAlarm(): void {
    if (this.alarmScheduled) return;
    this.alarmScheduled = true;
    // Fire-and-forget is safe: the output gate holds our response until the alarm is stored.
    void this.ctx.storage
      .getAlarm()
      .then((current) => {
        if (current === null) return this.ctx.storage.setAlarm(Date.now() + SWEEP_INTERVAL_MS);
      })
      .catch(() => {
        // Try again on the next write rather than never.
        this.alarmScheduled = false;
      });
  }

  /** Alarms are delivered at least once; everything here is idempotent. */
  override async alarm(): Promise<void> {
    const now = Date.now();
    const cutoff = now - this.limits.retentionDays * DAY_MS;
    this.sql.exec(`DELETE FROM messages WHERE created_at < ?`, cutoff);
    this.sql.exec(`DELETE FROM read_marks WHERE seq NOT IN (SELECT seq FROM messages)`);
    const sockets = this.ctx.getWebSockets();
    for (const ws of sockets) {
      const attachment = ws.deserializeAttachment() as SocketAttachment | null;
      if (attachment && this.closeIfInvalid(ws, attachment, now)) continue;
      if (now - this.lastActivity(ws) >= STALE_SOCKET_MS) {
        try {
          ws.close(CLOSE_CODES.stale, "no keep-alive; reconnect");
        } catch {
          // Already closed.
        }
      }
    }
    const anyMessages = this.sql.exec(`SELECT 1 FROM messages LIMIT 1`).toArray().length > 0;
    if (sockets.length > 0) await this.ctx.storage.setAlarm(now + SWEEP_INTERVAL_MS);
    else if (anyMessages) await this.ctx.storage.setAlarm(now + RETENTION_INTERVAL_MS);
    else this.alarmScheduled = false;
  }

  // --- people: feed, observers, pause (the web room; logic in worker/web/*) ---

  /** What the caller may see, text included; marks nothing read. Observers see every message. */
  async webFeed(caller: Caller, query: FeedQuery): Promise<Outcome<FeedPage>> {
    const revoked = this.revokedProblem(caller);
    if (revoked) return { ok: false, problem: revoked };
    return ok(feed(this.sql, { peer: caller.peer, observer: caller.role === "observer" }, query));
  }

  /** Everything the page draws at sign-in: newest messages, open questions, peers, board, pause. */
  async webRoom(caller: Caller, limit: number): Promise<Outcome<RoomSnapshot>> {
    const revoked = this.revokedProblem(caller);
    if (revoked) return { ok: false, problem: revoked };
    const now = Date.now();
    this.touch(caller, now);
    const page = feed(this.sql, { peer: caller.peer, observer: caller.role === "observer" }, { limit });
    return ok({
      group: caller.group,
      me: caller.peer,
      role: caller.role ?? null,
      latest_seq: latestSeq(this.sql),
      ...page,
      open_questions: openQuestions(this.sql, caller.peer),
      peers: roomPeers(this.sql, observerNames(this.sql), (name) => this.isOnline(name, now)),
      board: boardEntries(this.sql),
      pause: pauseState(this.sql),
    });
  }

  async groupPause(caller: Caller): Promise<Outcome<PauseInfo | null>> {
    const revoked = this.revokedProblem(caller);
    if (revoked) return { ok: false, problem: revoked };
    return ok(pauseState(this.sql));
  }

  /** Pauses (a reason given) or resumes (null) the group; leads only. Every page hears it. */
  async setGroupPause(caller: Caller, reason: string | null): Promise<Outcome<PauseInfo | null>> {
    const revoked = this.revokedProblem(caller);
    if (revoked) return { ok: false, problem: revoked };
    if (caller.role !== "lead") {
      return fail("forbidden", `Only a lead may pause or resume group '${caller.group}'. Ask the team for a token minted with --lead.`);
    }
    this.touch(caller, Date.now());
    const pause = reason === null ? (clearPause(this.sql), null) : setPause(this.sql, caller.peer, reason, Date.now());
    pushToAll(this.ctx, { type: "pause", pause });
    return ok(pause);
  }
}

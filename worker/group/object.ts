/**
 * GroupObject: one SQLite-backed Durable Object per group, the single source of truth for the
 * group's peers, messages, read cursors, shared board and revocations. This file is its front
 * door: the RPC methods the tools call and the alarm. Each method checks the caller, applies the
 * group's rules and hands the work to one of its parts:
 *
 *   store.ts    the SQL (the only module that writes any)
 *   sockets.ts  the hibernatable WebSockets: welcome, hello/replay, acks, notices
 *   waits.ts    tool calls parked until mail arrives
 *   handovers.ts mail handed to a client, marked read once the Worker confirms it arrived
 *   audience.ts who hears about what
 *
 * Every method takes the caller's identity as the Worker verified it from the token. Nothing here
 * trusts a peer name from tool input except as the *target* of an action.
 */
import { DurableObject } from "cloudflare:workers";
import type { ReadFrame } from "../../contract/frames.ts";
import { KEEPALIVE_PING, KEEPALIVE_PONG } from "../../contract/frames.ts";
import { MAX_STATE_KEYS } from "../../contract/limits.ts";
import { singleLine } from "../../contract/names.ts";
import type { UnreadSummary } from "../../contract/unread.ts";
import { settingsFrom, type RelayVars, type Settings } from "../settings.ts";
import {
  type Answer,
  type AskInput,
  type Caller,
  fail,
  type InviteRecord,
  type HistoryPage,
  type HistoryQuery,
  type Inbox,
  type Message,
  newMessageId,
  ok,
  type Outcome,
  type PeerInfo,
  type Problem,
  type Profile,
  type SendInput,
  type Sent,
  type StateEntry,
} from "../types.ts";
import type { PauseInfo, RoomSnapshot } from "../web/frames.ts";
import { boundedQuery, type FeedPage, type FeedQuery } from "../web/feed.ts";
import { writeRefusal } from "../web/people.ts";
import { acceptWebSocket, closeWebSockets, FORWARDED_ROLE_HEADER, isWebAttachment, isWebUpgrade, pushMessage, pushToAll, SESSION_HEADER, signOut, webSocketsOf, webSocketsOfSession } from "../web/room-sockets.ts";
import { EndedSessions } from "./sessions.ts";
import { type BoardCursor, type BoardPage, boardPage, roomBoard } from "./board-pages.ts";
import type { Listener, Viewer } from "./audience.ts";
import { Handovers } from "./handovers.ts";
import { SocketHub } from "./sockets.ts";
import { DAY_MS, GroupStore, iso } from "./store.ts";
import { SlidingWindow } from "./throttle.ts";
import { ParkedWaits } from "./waits.ts";
import type { NameRole } from "../../contract/token.ts";
import { inviteNameProblem, type NameReservation, reserveName } from "./reserved-names.ts";

const SWEEP_INTERVAL_MS = 5 * 60_000;
const RETENTION_INTERVAL_MS = 60 * 60_000;

const utf8 = new TextEncoder();

/** A profile as it is stored and shown to every peer: each field on one line, empty ones dropped. */
function oneLineProfile(profile: Profile): Profile {
  const clean: Profile = {};
  for (const field of ["summary", "hostname", "cwd", "branch"] as const) {
    const value = profile[field] === undefined ? "" : singleLine(profile[field]);
    if (value !== "") clean[field] = value;
  }
  return clean;
}

export class GroupObject extends DurableObject<RelayVars> {
  private readonly settings: Settings;
  private readonly store: GroupStore;
  private readonly sockets: SocketHub;
  /** Public for tests, which count parked calls; not part of the RPC surface. */
  readonly waits = new ParkedWaits();
  private readonly handovers = new Handovers();
  /** Loaded once per wake-up: revocations are rare and checked on every call. */
  private readonly revokedBefore: Map<string, number>;
  private readonly leftPeers: Set<string>;
  /** Observers and the pause, read on every call and changed rarely: kept in memory, written through. */
  private readonly observers: Set<string>;
  private paused: PauseInfo | null;
  /** register/set_state calls per peer: a flood of board writes is throttled like sends. */
  private readonly writes: SlidingWindow;
  /** Whether an alarm is known to be scheduled, so a hot send path skips asking storage. */
  private alarmScheduled = false;

  constructor(ctx: DurableObjectState, env: RelayVars) {
    super(ctx, env);
    this.settings = settingsFrom(env);
    // The constructor also runs after every hibernation or eviction: everything in memory is
    // rebuilt from SQLite here. Synchronous SQL needs no blockConcurrencyWhile.
    this.store = new GroupStore(ctx.storage);
    this.revokedBefore = this.store.revocations();
    this.leftPeers = new Set(this.store.leftPeerNames());
    this.observers = this.store.observerNames();
    this.paused = this.store.pause();
    this.writes = new SlidingWindow(this.settings.rateLimitCount, this.settings.rateLimitWindowMs);
    this.sockets = new SocketHub(ctx, this.store, {
      invalidReason: (socket, now) => {
        if ((this.revokedBefore.get(socket.peer) ?? 0) > socket.iat) return "revoked";
        return socket.exp !== undefined && socket.exp <= now ? "expired" : null;
      },
      listener: (peer) => this.listener(peer),
    });
    // Answered by the runtime itself, so a bridge's keep-alive never wakes a hibernating group.
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair(KEEPALIVE_PING, KEEPALIVE_PONG));
  }

  // Identity ---------------------------------------------------------------------------------------

  private revokedProblem(caller: Caller): Problem | null {
    const before = this.revokedBefore.get(caller.peer);
    // PAGE SESSIONS (web helper): a signed-out page session is refused like a revoked token.
    if (before === undefined || caller.iat >= before) return this.endedSessions.problem(caller);
    return {
      code: "revoked",
      message: `This token for peer '${caller.peer}' was revoked. Ask your team for a new token (npm run -s token -- --group ${caller.group} --peer ${caller.peer}).`,
    };
  }

  private listener(peer: string): Listener {
    return { name: peer, left: this.leftPeers.has(peer) };
  }

  /** Records that the caller is alive (creating it on first sight); `rejoin` undoes leave_group. */
  private touch(caller: Caller, now: number, rejoin = false) {
    if (rejoin) this.leftPeers.delete(caller.peer);
    const row = this.store.touch(caller.peer, now, rejoin);
    // The table follows the token the peer last used: a plain token after an observer one makes
    // the name a plain peer again. Written only when that changes.
    const observer = caller.role === "observer";
    if (observer !== this.observers.has(caller.peer)) {
      this.store.setObserver(caller.peer, observer);
      if (observer) this.observers.add(caller.peer);
      else this.observers.delete(caller.peer);
    }
    return row;
  }

  /** Why the caller may not write now (an observer, or the group is paused), or null. */
  private writeProblem(caller: Caller): Problem | null {
    return this.revokedProblem(caller) ?? writeRefusal(this.paused, caller);
  }

  /** For MCP requests that touch no data (initialize, tools/list): is this token still good? */
  async authorize(caller: Caller): Promise<Outcome<null>> {
    const revoked = this.revokedProblem(caller);
    if (revoked) return { ok: false, problem: revoked };
    this.touch(caller, Date.now());
    return ok(null);
  }

  async revoke(peer: string, before: number): Promise<{ closed: number }> {
    this.store.revoke(peer, before);
    this.revokedBefore.set(peer, Math.max(before, this.revokedBefore.get(peer) ?? 0));
    // Parked calls of a revoked token end now; they re-check revocation and return its error.
    this.waits.endFor(peer, before);
    return { closed: this.sockets.closeRevoked(peer, before) + closeWebSockets(this.ctx, peer, before) };
  }

  // Sending ----------------------------------------------------------------------------------------

  async send(caller: Caller, input: SendInput): Promise<Outcome<Sent>> {
    const refused = this.writeProblem(caller);
    if (refused) return { ok: false, problem: refused };
    const posted = this.post(caller, input, newMessageId());
    if (!posted.ok) return posted;
    const { message, recipientLeft } = posted.value;
    const sent: Sent = { id: message.id, seq: message.seq, time: message.time };
    if (recipientLeft) sent.recipient_left = true;
    return ok(sent);
  }

  /**
   * Checks a send against the group's rules, stores it, and tells whoever hears about it: the
   * calls parked for it and the sockets of its audience. Nothing is stored when a rule refuses.
   */
  private post(caller: Caller, input: SendInput, id: string): Outcome<{ message: Message; recipientLeft: boolean }> {
    const now = Date.now();
    const bytes = utf8.encode(input.text).length;
    if (bytes > this.settings.maxMessageBytes) {
      return fail(
        "too_large",
        `Message text is ${bytes} bytes; the limit is ${this.settings.maxMessageBytes}. Split it into parts, or put bulky content in a file and send its path.`,
      );
    }

    let recipientLeft = false;
    if (input.to !== undefined) {
      if (input.to === caller.peer) return fail("self_dm", "You cannot send a DM to yourself. Use set_state for notes to self.");
      const recipient = this.store.peer(input.to);
      if (!recipient) {
        const known = this.store.presentPeers().map((p) => p.name);
        return fail(
          "unknown_peer",
          `No peer named '${input.to}' in group '${caller.group}'. Known peers: ${known.join(", ") || "(none yet)"}. A peer appears once its Claude Code session connects to the relay or its bridge connects; use send_message to reach everyone.`,
        );
      }
      recipientLeft = recipient.left_group === 1;
    }

    if (input.reply_to !== undefined && !this.store.isVisible(caller.peer, input.reply_to)) {
      return fail("unknown_message", `No message with id '${input.reply_to}' that you can see. Take ids from read_new_messages or get_history.`);
    }

    if (this.store.sentSince(caller.peer, now - this.settings.rateLimitWindowMs) >= this.settings.rateLimitCount) {
      return fail(
        "rate_limited",
        `Slow down: at most ${this.settings.rateLimitCount} messages per ${this.settings.rateLimitWindowMs / 1000} s per peer. Nothing was sent; try again in a few seconds, or combine messages.`,
      );
    }

    const quota = this.quotaProblem(caller, now, GroupStore.messageBytes(input.text, input.tags ?? []));
    if (quota) return { ok: false, problem: quota };

    // No await between these writes: the runtime commits them as one atomic transaction.
    this.touch(caller, now, true);
    const message = this.store.insertMessage({
      id,
      from: caller.peer,
      to: input.to ?? null,
      kind: input.kind,
      text: input.text,
      reply_to: input.reply_to ?? null,
      urgent: input.urgent === true,
      tags: input.tags ?? [],
      at: now,
    });
    // Nothing is marked read here: mail is marked read only by a call that hands it over.
    this.waits.deliver(message, (peer) => this.listener(peer));
    this.sockets.notify(message);
    pushMessage(this.ctx, message);
    this.ensureAlarm();
    return ok({ message, recipientLeft });
  }

  /**
   * Refuses a message of `bytes` that would take the group past what it may hold, or the sender
   * past what one peer may send in a UTC day. Two indexed reads, no scan of the messages.
   */
  private quotaProblem(caller: Caller, now: number, bytes: number): Problem | null {
    const stored = this.store.storedBytes();
    if (stored + bytes > this.settings.maxGroupBytes) {
      return {
        code: "quota_exceeded",
        // The group's exact total is not named: it counts DMs between others, whose sizes it
        // would give away to anyone who asks twice.
        message: `Group '${caller.group}' is full: this message (${bytes} bytes) would take the messages it holds past its limit of ${this.settings.maxGroupBytes} bytes. Nothing was sent. Space comes back as messages older than ${this.settings.retentionDays} days are deleted; to raise the limit, whoever runs the relay sets MAX_GROUP_BYTES in wrangler.toml [vars].`,
      };
    }
    const day = Math.floor(now / DAY_MS);
    const sent = this.store.sentBytesOn(caller.peer, day);
    if (sent + bytes > this.settings.maxPeerBytesPerDay) {
      const minutes = Math.ceil(((day + 1) * DAY_MS - now) / 60_000);
      return {
        code: "quota_exceeded",
        message: `You have sent ${sent} bytes of messages today (UTC); each peer may send ${this.settings.maxPeerBytesPerDay} per day, and this one is ${bytes} bytes. Nothing was sent. The count starts again at 00:00 UTC, in ${Math.floor(minutes / 60)} h ${minutes % 60} min; meanwhile put bulky content in a file and send its path.`,
      };
    }
    return null;
  }

  // Reading ----------------------------------------------------------------------------------------

  /**
   * The caller's unread mail, oldest first, handed over but NOT marked read: the Worker calls
   * confirmRead once the response carrying it reached the client, or releaseRead if it did not.
   * Until then the mail is kept out of the peer's other reads; unconfirmed, it is unread again
   * after HANDOVER_LEASE_MS.
   */
  async readNew(caller: Caller, limit: number, ack?: number): Promise<Outcome<Inbox>> {
    const revoked = this.revokedProblem(caller);
    if (revoked) return { ok: false, problem: revoked };
    // A client that acks says exactly what it holds: its previous batch is read now.
    if (ack !== undefined) await this.confirmRead(caller, this.handovers.leasedThrough(caller.peer, ack));
    const now = Date.now();
    const peer = this.touch(caller, now);
    const listener = this.listener(caller.peer);
    const inFlight = this.handovers.leased(caller.peer, now);
    const messages = this.store.unread(listener, peer.read_cursor, limit, inFlight);
    const seqs = messages.map((m) => m.seq);
    this.handovers.lease(caller.peer, seqs, now);
    return ok({ messages, remaining: this.store.countUnread(listener, peer.read_cursor, [...inFlight, ...seqs]) });
  }

  /** The response that carried these seqs reached the client: they are read now. */
  async confirmRead(caller: Caller, seqs: number[]): Promise<void> {
    this.handovers.end(caller.peer, seqs);
    if (!this.store.peer(caller.peer)) return;
    const cursor = this.store.markRead(this.listener(caller.peer), seqs);
    // Tell the peer's bridges, so a notice still waiting for Claude to go idle is dropped.
    const aheadOfCursor = seqs.filter((seq) => seq > cursor);
    this.announceRead(caller.peer, aheadOfCursor.length > 0 ? { type: "read", through_seq: cursor, seqs: aheadOfCursor } : { type: "read", through_seq: cursor });
  }

  /** The response that carried these seqs never reached the client: they are unread again now. */
  async releaseRead(caller: Caller, seqs: number[]): Promise<void> {
    this.handovers.end(caller.peer, seqs);
  }

  /**
   * Resolves with true as soon as the caller has unread mail, or false at the timeout. Takes
   * nothing: the tool reads the mail with readNew once this returns, so mail is never marked read
   * for a client that gave up while waiting.
   */
  async waitForMail(caller: Caller, timeoutMs: number): Promise<Outcome<boolean>> {
    const revoked = this.revokedProblem(caller);
    if (revoked) return { ok: false, problem: revoked };
    const now = Date.now();
    const peer = this.touch(caller, now);
    const inFlight = this.handovers.leased(caller.peer, now);
    if (this.store.countUnread(this.listener(caller.peer), peer.read_cursor, inFlight) > 0) return ok(true);
    if (timeoutMs <= 0) return ok(false);
    const parked = this.waits.forMail(caller.peer, caller.iat, timeoutMs);
    if (!parked.ok) return parked;
    const woken = await parked.value;
    // The token may have been revoked while this call was parked.
    const revokedSince = this.revokedProblem(caller);
    if (revokedSince) return { ok: false, problem: revokedSince };
    return ok(woken !== null);
  }

  /**
   * ask_peer in one call: refuse if the caller cannot park another wait, send the question, wait
   * for its reply, and return it still unread: the Worker confirms it (confirmRead) once the
   * response carrying it reached the caller, and only then is it read. `input.id` is chosen by
   * the tool, so the tool can call again after an object restart without asking twice: a question already stored
   * under that id is not sent again, and a reply already stored is returned at once.
   */
  async ask(caller: Caller, input: AskInput & { id: string }): Promise<Outcome<Answer>> {
    const refused = this.writeProblem(caller);
    if (refused) return { ok: false, problem: refused };
    const full = this.waits.capacityProblem(caller.peer);
    if (full) return { ok: false, problem: full };
    let question = this.store.sentBy(caller.peer, input.id);
    if (!question) {
      const posted = this.post(caller, { to: input.to, text: input.question, kind: "question" }, input.id);
      if (!posted.ok) return posted;
      question = posted.value.message;
    }
    const asked = { id: question.id, seq: question.seq };
    let reply = this.store.replyTo(question.id, input.to, caller.peer) ?? null;
    if (!reply && input.timeoutMs > 0) {
      const parked = this.waits.forReply(caller.peer, caller.iat, question.id, input.to, input.timeoutMs);
      if (!parked.ok) return parked;
      reply = await parked.value;
      const revokedSince = this.revokedProblem(caller);
      if (revokedSince) return { ok: false, problem: revokedSince };
    }
    // Not leased, unlike readNew: if the Worker's request was cancelled while this call waited,
    // nobody would release the lease, and the reply should be plain unread mail at once.
    return ok({ question: asked, reply });
  }

  private announceRead(peer: string, frame: ReadFrame): void {
    this.sockets.announceRead(peer, frame);
  }

  async history(caller: Caller, query: HistoryQuery): Promise<Outcome<HistoryPage>> {
    const revoked = this.revokedProblem(caller);
    if (revoked) return { ok: false, problem: revoked };
    // Refuse before touch(): a refused call changes nothing, not even last_seen.
    if (query.peer !== undefined && !this.store.peer(query.peer)) {
      return fail("unknown_peer", `No peer named '${query.peer}' in this group. list_peers shows who is here.`);
    }
    this.touch(caller, Date.now());
    return this.readPage(() => {
      const { messages, next } = this.store.history(caller.peer, query);
      return { messages, next_before: next };
    });
  }

  /**
   * A page read (history, the feed), where a search SQLite cannot run comes back as an answer
   * the caller can act on, never as an internal error (the old LIKE search failed that way on
   * long queries).
   */
  private readPage<T>(read: () => T): Outcome<T> {
    try {
      return ok(read());
    } catch (error) {
      console.error("page read failed", error instanceof Error ? error.message : error);
      return fail(
        "invalid_input",
        "The relay could not run this search. Try a shorter query, or leave query out and page back through the messages with before.",
      );
    }
  }

  /**
   * What the caller has waiting, for Claude Code hooks (GET /groups/:group/unread). Reads only and
   * touches nothing: a hook running on every prompt neither marks mail read nor counts as the
   * peer being active. A peer the group has never seen has nothing unread.
   */
  async unreadSummary(caller: Caller): Promise<Outcome<UnreadSummary>> {
    const revoked = this.revokedProblem(caller);
    if (revoked) return { ok: false, problem: revoked };
    const row = this.store.peer(caller.peer);
    if (!row) return ok({ total: 0, dms: 0, questions: [], question_count: 0, dm_from: [], urgent: 0, highest_seq: 0, attention_seq: 0 });
    return ok(this.store.unreadSummary(this.listener(caller.peer), row.read_cursor));
  }

  // Peers and the shared board ---------------------------------------------------------------------

  /** Refuses a register/set_state call past the per-peer write limit; nothing is changed then. */
  private writeThrottled(peer: string, now: number): Problem | null {
    if (this.writes.allow(peer, now)) return null;
    return {
      code: "rate_limited",
      message: `Slow down: at most ${this.writes.count} register/set_state calls per ${this.writes.windowMs / 1000} s per peer. Nothing was changed; try again in a few seconds.`,
    };
  }

  async register(caller: Caller, profile: Profile): Promise<Outcome<PeerInfo>> {
    const revoked = this.revokedProblem(caller);
    if (revoked) return { ok: false, problem: revoked };
    const now = Date.now();
    const throttled = this.writeThrottled(caller.peer, now);
    if (throttled) return { ok: false, problem: throttled };
    this.touch(caller, now, true);
    const row = this.store.setProfile(caller.peer, oneLineProfile(profile));
    return ok(GroupStore.peerInfo(row, this.sockets.isOnline(caller.peer, now)));
  }

  /** The peers who have not left, and whether a lead has paused the group. */
  async listPeers(caller: Caller): Promise<Outcome<{ peers: PeerInfo[]; paused: PauseInfo | null }>> {
    const revoked = this.revokedProblem(caller);
    if (revoked) return { ok: false, problem: revoked };
    const now = Date.now();
    this.touch(caller, now);
    const peers = this.store.presentPeers().map((row) => ({
      ...GroupStore.peerInfo(row, this.sockets.isOnline(row.name, now)),
      ...(this.observers.has(row.name) && { observer: true as const }),
    }));
    return ok({ peers, paused: this.paused });
  }

  async leave(caller: Caller): Promise<Outcome<null>> {
    const revoked = this.revokedProblem(caller);
    if (revoked) return { ok: false, problem: revoked };
    this.touch(caller, Date.now());
    this.store.markLeft(caller.peer);
    this.leftPeers.add(caller.peer);
    return ok(null);
  }

  /** `valueJson` is already-serialised JSON; `null` as a value removes the key. */
  async setState(caller: Caller, key: string, valueJson: string): Promise<Outcome<StateEntry>> {
    const refused = this.writeProblem(caller);
    if (refused) return { ok: false, problem: refused };
    const now = Date.now();
    const removing = valueJson === "null";
    if (!removing && !this.store.hasKey(key)) {
      const keys = this.store.keyCount();
      if (keys >= MAX_STATE_KEYS) {
        return fail("too_many_keys", `The board already has ${keys} keys, the most it holds. Remove keys you no longer need (set_state with value null), or reuse one.`);
      }
    }
    const throttled = this.writeThrottled(caller.peer, now);
    if (throttled) return { ok: false, problem: throttled };
    this.touch(caller, now);
    if (removing) this.store.deleteKey(key);
    else this.store.setKey(key, valueJson, caller.peer, now);
    pushToAll(this.ctx, { type: "board", entry: { key, value_json: removing ? null : valueJson, updated_by: caller.peer, updated_at: iso(now) } });
    return ok({ key, value_json: valueJson, updated_by: caller.peer, updated_at: iso(now) });
  }

  async getState(caller: Caller, key: string | undefined, prefix: string | undefined): Promise<Outcome<StateEntry[]>> {
    const revoked = this.revokedProblem(caller);
    if (revoked) return { ok: false, problem: revoked };
    if (key !== undefined) {
      const entry = this.store.getKey(key);
      // Refuse before touch(): a refused call changes nothing, not even last_seen.
      if (!entry) return fail("not_found", `No state key '${key}'. Call get_state without a key to list the keys there are.`);
      this.touch(caller, Date.now());
      return ok([entry]);
    }
    this.touch(caller, Date.now());
    return ok(this.store.listKeys(prefix ?? ""));
  }

  // Sockets ----------------------------------------------------------------------------------------

  /** Reached only through the Worker, which has verified the token and set the identity headers. */
  override async fetch(request: Request): Promise<Response> {
    const caller: Caller = {
      group: request.headers.get("X-Relay-Group") ?? "",
      peer: request.headers.get("X-Relay-Peer") ?? "",
      iat: Number(request.headers.get("X-Relay-Iat")),
    };
    const exp = request.headers.get("X-Relay-Exp");
    if (exp) caller.exp = Number(exp);
    // PAGE SESSIONS (web helper): set by the Worker only on a page's upgrade.
    const session = request.headers.get(SESSION_HEADER);
    if (session && isWebUpgrade(request)) caller.session = session;
    if (request.headers.get("Upgrade")?.toLowerCase() !== "websocket" || !caller.peer) {
      return Response.json({ error: "bad_request", message: "Expected a WebSocket upgrade." }, { status: 426 });
    }
    const revoked = this.revokedProblem(caller);
    if (revoked) return Response.json({ error: "token_revoked", message: revoked.message }, { status: 401 });
    const now = Date.now();
    const page = isWebUpgrade(request);
    const refusal = this.sockets.refusal(caller.peer, page ? webSocketsOf(this.ctx, caller.peer) : this.ctx.getWebSockets(caller.peer), now);
    if (refusal) return Response.json({ error: "too_many_sockets", message: refusal }, { status: 429 });
    this.touch(caller, now);
    this.ensureAlarm();
    if (page) {
      const role = request.headers.get(FORWARDED_ROLE_HEADER);
      return acceptWebSocket(this.ctx, { ...caller, ...((role === "observer" || role === "lead") && { role }) }, now);
    }
    const response = this.sockets.accept(caller, now);
    pushToAll(this.ctx, { type: "presence" });
    return response;
  }

  override async webSocketMessage(ws: WebSocket, data: string | ArrayBuffer): Promise<void> {
    // A page sends only the keep-alive, answered by the runtime; anything else from it is ignored.
    if (isWebAttachment(ws.deserializeAttachment())) return;
    await this.sockets.onMessage(ws, data);
  }

  override async webSocketClose(ws: WebSocket, code: number, reason: string): Promise<void> {
    this.sockets.onClose(ws, code, reason);
    if (!isWebAttachment(ws.deserializeAttachment())) pushToAll(this.ctx, { type: "presence" });
  }

  override async webSocketError(ws: WebSocket): Promise<void> {
    this.sockets.onError(ws);
  }

  // Housekeeping: retention and stale sockets, on the object's single alarm --------------------------

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
    this.store.deleteMessagesBefore(now - this.settings.retentionDays * DAY_MS);
    // Only today's send totals are ever checked.
    this.store.pruneSentBytes(Math.floor(now / DAY_MS));
    const anySockets = this.sockets.sweep(now);
    if (anySockets) await this.ctx.storage.setAlarm(now + SWEEP_INTERVAL_MS);
    else if (this.store.hasMessages()) await this.ctx.storage.setAlarm(now + RETENTION_INTERVAL_MS);
    else this.alarmScheduled = false;
  }

  // People: the feed, observers and pause (the web room, worker/web/) -------------------------------

  private viewer(caller: Caller): Viewer {
    return { peer: caller.peer, observer: caller.role === "observer" };
  }

  /** What the caller may see, text included; marks nothing read. Observers see every message. */
  async webFeed(caller: Caller, query: FeedQuery): Promise<Outcome<FeedPage>> {
    const revoked = this.revokedProblem(caller);
    if (revoked) return { ok: false, problem: revoked };
    const q = boundedQuery(query);
    return this.readPage(() => {
      const { messages, next } = this.store.feed(this.viewer(caller), q);
      // Reading forwards, the page asks again from its newest seq; only a backwards page says where.
      return { messages, next_before: q.after === undefined ? next : null };
    });
  }

  /** Everything the page draws at sign-in: newest messages, open questions, peers, board, pause. */
  async webRoom(caller: Caller, limit: number): Promise<Outcome<RoomSnapshot>> {
    const page = await this.webFeed(caller, { limit });
    if (!page.ok) return page;
    const now = Date.now();
    this.touch(caller, now);
    return ok({
      group: caller.group,
      me: caller.peer,
      role: caller.role ?? null,
      latest_seq: this.store.latestSeq(),
      ...page.value,
      open_questions: this.store.openQuestions(caller.peer),
      peers: this.store.roomPeers(this.observers, (name) => this.sockets.isOnline(name, now)),
      // BOARD PAGES (web helper): a bounded first page; the rest through webBoard.
      ...roomBoard(this.ctx.storage.sql),
      pause: this.paused,
    });
  }

  async groupPause(caller: Caller): Promise<Outcome<PauseInfo | null>> {
    const revoked = this.revokedProblem(caller);
    if (revoked) return { ok: false, problem: revoked };
    return ok(this.paused);
  }

  /** Pauses (a reason given) or resumes (null) the group; leads only. Every page hears it. */
  async setGroupPause(caller: Caller, reason: string | null): Promise<Outcome<PauseInfo | null>> {
    const revoked = this.revokedProblem(caller);
    if (revoked) return { ok: false, problem: revoked };
    if (caller.role !== "lead") {
      return fail("forbidden", `Only a lead may pause or resume group '${caller.group}'. Ask the team for a token minted with --lead.`);
    }
    const now = Date.now();
    this.touch(caller, now);
    if (reason === null) this.store.clearPause();
    // The reason is repeated in every refused send, which a model reads: one line, no controls.
    this.paused = reason === null ? null : this.store.setPause(caller.peer, singleLine(reason), now);
    pushToAll(this.ctx, { type: "pause", pause: this.paused });
    return ok(this.paused);
  }

  // Invites and the feed: the admin's invites, redeeming one for a peer name, and the read-only
  // feed behind `relay-bridge tail` ----------------------------------------------------------------

  /** Called by the Worker once the secret holder's proof checked out. */
  async addInvite(invite: { id: string; maxUses: number; observer: boolean; expiresAt: number }): Promise<InviteRecord> {
    this.store.addInvite(invite.id, invite.maxUses, invite.observer, Date.now(), invite.expiresAt);
    return this.store.invite(invite.id)!;
  }

  async listInvites(): Promise<InviteRecord[]> {
    return this.store.allInvites();
  }

  async revokeInvite(id: string): Promise<Outcome<InviteRecord>> {
    if (!this.store.revokeInvite(id, Date.now())) return fail("not_found", `No invite '${id}' in this group: \`--list\` shows them.`);
    return ok(this.store.invite(id)!);
  }

  /**
   * Takes one use of a (signature-checked) invite for `peer` and reserves the name, so the token
   * the Worker then signs is the only one for it. Refuses, saying what to do, when the invite is
   * unknown, revoked, expired or used up, or the name is already someone's in this group.
   */
  async redeemInvite(group: string, id: string, peer: string): Promise<Outcome<{ observer: boolean; issuedAfter: number }>> {
    const now = Date.now();
    const refused = this.inviteProblem(id, now);
    if (refused) return { ok: false, problem: refused };
    // Taken, reserved by minting, or a look-alike of either (reserved-names.ts).
    const nameRefused = inviteNameProblem(this.ctx.storage.sql, group, peer, now);
    if (nameRefused) return { ok: false, problem: nameRefused };
    // No await between these writes: the use and the name are taken together or not at all.
    this.store.useInvite(id, peer, now);
    this.store.touch(peer, now);
    // A token minted for this name earlier but never used would speak as the same peer: the
    // name now belongs to whoever redeemed the invite, so every token issued before now is void.
    // The Worker signs the new token with an issue time at or after `issuedAfter`, whatever its clock.
    this.store.revoke(peer, now);
    this.revokedBefore.set(peer, now);
    return ok({ observer: this.store.invite(id)!.observer, issuedAfter: now });
  }

  /** Why this invite cannot be used now, or null if it can (the invite page asks before showing its form). */
  async checkInvite(id: string): Promise<Problem | null> {
    return this.inviteProblem(id, Date.now());
  }

  private inviteProblem(id: string, now: number): Problem | null {
    const invite = this.store.invite(id);
    const refused = (message: string): Problem => ({ code: "invite_refused", message });
    if (!invite) return refused("This relay has no record of this invite (made for another relay, or never registered). Ask for a new invite.");
    if (invite.revoked_at !== null) return refused("This invite was revoked. Ask whoever sent it for a new one.");
    if (Date.parse(invite.expires_at) <= now) return refused(`This invite expired at ${invite.expires_at}. Ask whoever sent it for a new one.`);
    if (invite.used_by.length >= invite.max_uses) {
      const times = invite.max_uses === 1 ? "once" : `${invite.max_uses} times`;
      return refused(`This invite has already been used ${times}, all it allows. Ask whoever sent it for a new one.`);
    }
    return null;
  }

  /** The feed behind `relay-bridge tail`: webFeed's messages after `after`, and the newest seq. */
  async feed(caller: Caller, after: number | undefined, limit: number): Promise<Outcome<{ messages: Message[]; latest_seq: number }>> {
    const page = await this.webFeed(caller, after === undefined ? { limit } : { after, limit });
    if (!page.ok) return page;
    return ok({ messages: page.value.messages, latest_seq: this.store.latestSeq() });
  }

  /** Minting a token through the relay reserves its name from invites (reserved-names.ts). */
  async reserveName(group: string, name: string, role: NameRole, tokenExpiresAt: number | null): Promise<NameReservation> {
    return reserveName(this.ctx.storage.sql, group, name, role, tokenExpiresAt, Date.now());
  }

  // ---------------------------------------------------------------------------------------------
  // PAGE SESSIONS AND THE BOARD'S PAGES (added by the web helper; to be ported onto the feature
  // modules): signing out of one page session, and the board in bounded pages.
  // ---------------------------------------------------------------------------------------------

  private endedSessionsTable?: EndedSessions;
  private get endedSessions(): EndedSessions {
    return (this.endedSessionsTable ??= new EndedSessions(this.ctx.storage.sql));
  }

  /**
   * Ends the caller's page session (signing out): every later call with it is refused, and the
   * page sockets opened with it close now. The peer's other sessions and its token carry on.
   * `until` is when the session's cookie expires anyway.
   */
  async endSession(caller: Caller, until: number): Promise<{ closed: number }> {
    if (caller.session === undefined) return { closed: 0 };
    this.endedSessions.end(caller.session, until, Date.now());
    let closed = 0;
    for (const ws of webSocketsOfSession(this.ctx, caller.session)) {
      signOut(ws, "You signed out. Sign in again with your link.", "signed out");
      closed++;
    }
    return { closed };
  }

  /** A page of the board for the room: entries after `after`, values cut to a preview. */
  async webBoard(caller: Caller, after: BoardCursor | null, limit: number): Promise<Outcome<BoardPage>> {
    const revoked = this.revokedProblem(caller);
    if (revoked) return { ok: false, problem: revoked };
    return ok(boardPage(this.ctx.storage.sql, after, limit));
  }
}

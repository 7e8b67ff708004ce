/**
 * GroupObject: one SQLite-backed Durable Object per group, the single source of truth for the
 * group's peers, messages, read cursors, shared board and revocations. This file is its front
 * door and nothing more: each RPC method checks the caller's token once (`checked`) and hands the
 * call to the feature that owns it:
 *
 *   peers/    who may call, who is there, profiles, observers, leaving
 *   mail/     sending and its rules, reads and their leases, waits, history and search
 *   board/    the shared key-value board
 *   room/     the web room: its snapshot, feed and the lead's pause
 *   invites/  invite uses, the names they claim, and names reserved by minting
 *   sockets/  every hibernatable WebSocket, bridge or page: upgrades, frame budgets, notices
 *
 * Every method takes the caller's identity as the Worker verified it from the token. Nothing here
 * trusts a peer name from tool input except as the *target* of an action.
 */
import { DurableObject } from "cloudflare:workers";
import { KEEPALIVE_PING, KEEPALIVE_PONG } from "../../contract/frames.ts";
import type { UnreadSummary } from "../../contract/unread.ts";
import { settingsFrom, type RelayVars } from "./settings.ts";
import type { NameRole } from "../../contract/token.ts";
import type { ChainInfo, ChainList } from "../../contract/chains.ts";
import { Board } from "./board/board.ts";
import { ClaimCalls, type ClaimsView } from "./claims/calls.ts";
import type { ClaimGrant, ClaimRelease } from "./claims/claims.ts";
import type { Claim, ClaimPathsRequest, ListClaimsRequest } from "../../contract/claims.ts";
import type { BoardCursor, BoardPage } from "./board/pages.ts";
import type { StateEntry } from "./board/schemas.ts";
import { Housekeeping } from "./housekeeping.ts";
import { type InviteRecord, Invites } from "./invites/invites.ts";
import { type NameReservation, reserveName } from "./invites/reserved-names.ts";
import { Mail } from "./mail/mail.ts";
import type { Answer, AskInput, HistoryPage, HistoryQuery, Inbox, SendInput, Sent } from "./mail/schemas.ts";
import { Peers } from "./peers/peers.ts";
import type { PeerInfo, Profile } from "./peers/schemas.ts";
import { EndedSessions } from "./peers/sessions.ts";
import type { FeedPage, FeedQuery } from "./room/feed.ts";
import type { PauseInfo, RoomSnapshot } from "./room-frames.ts";
import { Pause } from "./room/pause.ts";
import { Room } from "./room/room.ts";
import { migrate } from "./schema.ts";
import { SocketHub } from "./sockets/hub.ts";
import { upgradeIdentity } from "./sockets/upgrade.ts";
import type { MessageStatus, PressingMail } from "../../contract/receipts.ts";
import { Receipts } from "./receipts/receipts.ts";
import { type Caller, type Message, ok, type Outcome, type Problem } from "./types.ts";
import { Webhooks } from "./webhooks/webhooks.ts";
import type { WebhookAdd, WebhookInfo } from "./webhooks/schemas.ts";
import { type AnswerPageState, answerPageState, answerByLink } from "./webhooks/answers.ts";

export class GroupObject extends DurableObject<RelayVars> {
  private readonly peers: Peers;
  private readonly endedSessions: EndedSessions;
  private readonly sockets: SocketHub;
  private readonly mail: Mail;
  private readonly board: Board;
  private readonly room: Room;
  private readonly invites: Invites;
  private readonly housekeeping: Housekeeping;
  private readonly claimCalls: ClaimCalls;
  private readonly receipts: Receipts;
  private readonly webhooks: Webhooks;

  constructor(ctx: DurableObjectState, env: RelayVars) {
    super(ctx, env);
    const settings = settingsFrom(env);
    const sql = ctx.storage.sql;
    // The constructor also runs after every hibernation or eviction: every feature rebuilds what
    // it keeps in memory from SQLite here. Synchronous SQL needs no blockConcurrencyWhile. The
    // features call each other only once a call arrives, so the arrows below may name features
    // constructed after them.
    migrate(ctx.storage);
    this.endedSessions = new EndedSessions(sql);
    this.peers = new Peers(sql, { count: settings.rateLimitCount, windowMs: settings.rateLimitWindowMs }, (peer, now) => this.sockets.isOnline(peer, now));
    const pause = new Pause(sql);
    const writeRefusal = (caller: Caller) => pause.refusal(caller);
    this.sockets = new SocketHub(ctx, {
      latestSeq: () => this.mail.store.latestSeq(),
      cursors: (peer) => this.peers.store.peer(peer),
      noticesAfter: (listener, after, limit) => this.mail.store.noticesAfter(listener, after, limit),
      setAcked: (peer, seq) => this.ackedWithReceipts(peer, seq),
      listener: (peer) => this.peers.listener(peer),
      invalidReason: (token, now) => this.peers.invalidReason(token, now),
    });
    this.webhooks = new Webhooks({ sql, storage: ctx.storage, relaySecret: env.RELAY_SECRET });
    this.mail = new Mail({ sql, settings, peers: this.peers, sockets: this.sockets, writeRefusal, ensureAlarm: () => this.housekeeping.ensureAlarm(), receiptsRead: (peer, seqs, now) => this.receipts.read(peer, seqs, now), webhooks: this.webhooks });
    this.board = new Board({ sql, peers: this.peers, pages: this.sockets.pages, writeRefusal });
    this.room = new Room({ sql, peers: this.peers, mail: this.mail.store, board: this.board, sockets: this.sockets }, pause);
    this.invites = new Invites(sql, this.peers);
    this.housekeeping = new Housekeeping(ctx.storage, settings, this.mail.store, this.sockets);
    this.claimCalls = new ClaimCalls({ storage: ctx.storage, peers: this.peers, online: (peer, now) => this.sockets.isOnline(peer, now), writeRefusal });
    this.receipts = new Receipts(sql, {
      listener: (peer) => this.peers.listener(peer),
      readCursor: (peer) => this.peers.store.peer(peer)?.read_cursor,
      isObserver: (peer) => this.peers.isObserver(peer),
    });
    // Answered by the runtime itself, so a keep-alive never wakes a hibernating group.
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair(KEEPALIVE_PING, KEEPALIVE_PONG));
  }

  /** Parked calls, counted by tests; not part of the RPC surface. */
  get waits() {
    return this.mail.waits;
  }

  /**
   * The one identity check: runs `call` for a caller whose token is still good (and, for a page,
   * whose session was not signed out), or answers why not.
   */
  private async checked<T>(caller: Caller, call: () => Outcome<T> | Promise<Outcome<T>>): Promise<Outcome<T>> {
    const refused = this.identityProblem(caller);
    return refused ? { ok: false, problem: refused } : call();
  }

  private identityProblem(caller: Caller): Problem | null {
    return this.peers.revokedProblem(caller) ?? this.endedSessions.problem(caller);
  }

  // Identity and peers ---------------------------------------------------------------------------

  /** For MCP requests that touch no data (initialize, tools/list): is this token still good? */
  async authorize(caller: Caller): Promise<Outcome<null>> {
    return this.checked(caller, () => {
      this.peers.touch(caller, Date.now());
      return ok(null);
    });
  }

  async revoke(peer: string, before: number): Promise<{ closed: number }> {
    this.peers.revoke(peer, before);
    // Nobody is left to release a revoked peer's claims.
    this.claimCalls.claims.releaseAllOf(peer);
    // Parked calls of a revoked token end now; they re-check revocation and return its error.
    this.mail.waits.endFor(peer, before);
    return { closed: this.sockets.closeRevoked(peer, before) };
  }

  async register(caller: Caller, profile: Profile): Promise<Outcome<PeerInfo>> {
    return this.checked(caller, () => this.peers.register(caller, profile));
  }

  /** The peers who have not left, and whether a lead has paused the group. */
  async listPeers(caller: Caller): Promise<Outcome<{ peers: PeerInfo[]; paused: PauseInfo | null }>> {
    return this.checked(caller, () => ok({ peers: this.peers.list(caller), paused: this.room.pause.current }));
  }

  async leave(caller: Caller): Promise<Outcome<null>> {
    return this.checked(caller, () => {
      this.peers.leave(caller);
      return ok(null);
    });
  }

  // Mail -----------------------------------------------------------------------------------------

  async send(caller: Caller, input: SendInput): Promise<Outcome<Sent>> {
    return this.checked(caller, () => this.mail.send(caller, input));
  }

  async ask(caller: Caller, input: AskInput & { id: string }): Promise<Outcome<Answer>> {
    return this.checked(caller, () => this.mail.ask(caller, input));
  }

  async readNew(caller: Caller, limit: number, ack?: number): Promise<Outcome<Inbox>> {
    return this.checked(caller, () => this.mail.readNew(caller, limit, ack));
  }

  /** The response that carried these seqs reached the client: they are read now. */
  async confirmRead(caller: Caller, seqs: number[]): Promise<void> {
    this.mail.confirmRead(caller, seqs);
  }

  /** The response that carried these seqs never reached the client: they are unread again now. */
  async releaseRead(caller: Caller, seqs: number[]): Promise<void> {
    this.mail.releaseRead(caller, seqs);
  }

  async waitForMail(caller: Caller, timeoutMs: number): Promise<Outcome<boolean>> {
    return this.checked(caller, () => this.mail.waitForMail(caller, timeoutMs));
  }

  async history(caller: Caller, query: HistoryQuery): Promise<Outcome<HistoryPage>> {
    return this.checked(caller, () => this.mail.history(caller, query));
  }

  async unreadSummary(caller: Caller): Promise<Outcome<UnreadSummary>> {
    return this.checked(caller, () => ok(this.mail.unreadSummary(caller)));
  }

  // The shared board ------------------------------------------------------------------------------

  /** `valueJson` is already-serialised JSON; `null` as a value removes the key. */
  async setState(caller: Caller, key: string, valueJson: string): Promise<Outcome<StateEntry>> {
    return this.checked(caller, () => this.board.set(caller, key, valueJson));
  }

  async getState(caller: Caller, key: string | undefined, prefix: string | undefined): Promise<Outcome<StateEntry[]>> {
    return this.checked(caller, () => this.board.get(caller, key, prefix));
  }

  // The web room and the feed ---------------------------------------------------------------------

  async webFeed(caller: Caller, query: FeedQuery): Promise<Outcome<FeedPage>> {
    return this.checked(caller, () => this.room.feed(caller, query));
  }

  async webRoom(caller: Caller, limit: number): Promise<Outcome<RoomSnapshot>> {
    return this.checked(caller, () => this.room.snapshot(caller, limit));
  }

  /** The feed behind `relay-bridge tail`: webFeed's messages after `after`, and the newest seq. */
  async feed(caller: Caller, after: number | undefined, limit: number): Promise<Outcome<{ messages: Message[]; latest_seq: number }>> {
    return this.checked(caller, () => this.room.tail(caller, after, limit));
  }

  async groupPause(caller: Caller): Promise<Outcome<PauseInfo | null>> {
    return this.checked(caller, () => ok(this.room.pause.current));
  }

  async setGroupPause(caller: Caller, reason: string | null): Promise<Outcome<PauseInfo | null>> {
    return this.checked(caller, () => this.room.setPause(caller, reason));
  }

  /**
   * Ends the caller's page session (signing out): every later call with it is refused, and the
   * page sockets opened with it close now. The peer's other sessions and its token carry on.
   * `until` is when the session's cookie expires anyway.
   */
  async endSession(caller: Caller, until: number): Promise<{ closed: number }> {
    if (caller.session === undefined) return { closed: 0 };
    this.endedSessions.end(caller.session, until, Date.now());
    return { closed: this.sockets.pages.closeSession(caller.session) };
  }

  /** A page of the board for the room: entries after `after`, values cut to a preview. */
  async webBoard(caller: Caller, after: BoardCursor | null, limit: number): Promise<Outcome<BoardPage>> {
    return this.checked(caller, () => ok(this.board.page(after, limit)));
  }

  // Invites: called by the Worker once the secret holder's proof or the invite's signature checked out

  async addInvite(invite: { id: string; maxUses: number; observer: boolean; expiresAt: number }): Promise<InviteRecord> {
    return this.invites.add(invite);
  }

  async listInvites(): Promise<InviteRecord[]> {
    return this.invites.all();
  }

  async revokeInvite(id: string): Promise<Outcome<InviteRecord>> {
    return this.invites.revoke(id);
  }

  async redeemInvite(group: string, id: string, peer: string): Promise<Outcome<{ observer: boolean; issuedAfter: number }>> {
    return this.invites.redeem(group, id, peer);
  }

  /** Why this invite cannot be used now, or null if it can (the invite page asks before showing its form). */
  async checkInvite(id: string): Promise<Problem | null> {
    return this.invites.problem(id, Date.now());
  }

  /** Minting a token through the relay reserves its name from invites (invites/reserved-names.ts). */
  async reserveName(group: string, name: string, role: NameRole, tokenExpiresAt: number | null): Promise<NameReservation> {
    return reserveName(this.ctx.storage.sql, group, name, role, tokenExpiresAt, Date.now());
  }

  // Sockets and the alarm ------------------------------------------------------------------------

  /** Reached only through the Worker, which has verified the token and set the identity headers. */
  override async fetch(request: Request): Promise<Response> {
    const upgrade = upgradeIdentity(request);
    if (!upgrade) return Response.json({ error: "bad_request", message: "Expected a WebSocket upgrade." }, { status: 426 });
    const { caller, page } = upgrade;
    const revoked = this.identityProblem(caller);
    if (revoked) return Response.json({ error: "token_revoked", message: revoked.message }, { status: 401 });
    const now = Date.now();
    const refusal = this.sockets.refusal(caller.peer, page, now);
    if (refusal) return Response.json({ error: "too_many_sockets", message: refusal }, { status: 429 });
    this.peers.touch(caller, now);
    this.housekeeping.ensureAlarm();
    return this.sockets.accept(caller, page, now);
  }

  override async webSocketMessage(ws: WebSocket, data: string | ArrayBuffer): Promise<void> {
    await this.sockets.onMessage(ws, data);
  }

  override async webSocketClose(ws: WebSocket, code: number, reason: string): Promise<void> {
    this.sockets.onClose(ws, code, reason);
  }

  override async webSocketError(ws: WebSocket): Promise<void> {
    this.sockets.onError(ws);
  }

  override async alarm(): Promise<void> {
    await this.webhooks.deliverDue();
    await this.housekeeping.run();
    await this.claimCalls.onAlarm(Date.now());
    // After housekeeping, which sets the alarm for its own next sweep: a retry due sooner wins.
    await this.webhooks.scheduleNext();
  }

  // Path claims (claims/calls.ts) ------------------------------------------------------------------

  async claimPaths(caller: Caller, input: ClaimPathsRequest): Promise<Outcome<ClaimGrant>> {
    return this.checked(caller, () => this.claimCalls.claim(caller, input));
  }

  /** The caller's claims on `patterns` (all when omitted); `peer` names another peer's, for a lead. */
  async releasePaths(caller: Caller, patterns?: string[], peer?: string): Promise<Outcome<ClaimRelease>> {
    return this.checked(caller, () => this.claimCalls.release(caller, patterns, peer));
  }

  async listClaims(caller: Caller, filter: ListClaimsRequest): Promise<Outcome<Claim[]>> {
    return this.checked(caller, () => this.claimCalls.list(caller, filter));
  }

  /** What the bridge's guards decide with: the caller's name and every live claim. */
  async claimsView(caller: Caller): Promise<Outcome<ClaimsView>> {
    return this.checked(caller, () => this.claimCalls.view(caller));
  }

  /** The room's claims panel: every live claim, and the holders quiet enough for a lead to release. */
  async webClaims(caller: Caller): Promise<Outcome<{ claims: Claim[]; quiet: string[] }>> {
    return this.checked(caller, () => this.claimCalls.roomView());
  }

  // Webhooks and one-click answers (group/webhooks/) ---------------------------------------------

  /** `origin`: the relay's origin as the lead reached it (answer links point there; localhost allows http). */
  async addWebhook(caller: Caller, input: WebhookAdd, origin: string): Promise<Outcome<WebhookInfo & { secret: string }>> {
    return this.checked(caller, () => this.webhooks.add(caller, input, origin));
  }

  async listWebhooks(caller: Caller): Promise<Outcome<WebhookInfo[]>> {
    return this.checked(caller, () => this.webhooks.list(caller));
  }

  async removeWebhook(caller: Caller, id: string): Promise<Outcome<{ removed: string }>> {
    return this.checked(caller, () => this.webhooks.remove(caller, id));
  }

  /** What the answer page shows for a question (the Worker verified the link's signature). */
  async answerPage(questionId: string, asked: string, asker: string): Promise<Outcome<AnswerPageState>> {
    return answerPageState(this.mail.store, questionId, asked, asker);
  }

  /** Answers a question through its link, as the peer asked, once; a second use changes nothing. */
  async answerByLink(group: string, questionId: string, asked: string, asker: string, text: string): Promise<Outcome<AnswerPageState>> {
    return answerByLink({ mail: this.mail, peers: this.peers }, group, questionId, asked, asker, text);
  }

  // Read receipts and mid-turn mail (receipts/receipts.ts) ---------------------------------------

  /** A bridge acked notices through `seq`: the unread mail it newly covers was announced. */
  private ackedWithReceipts(peer: string, seq: number): void {
    const before = this.peers.store.peer(peer)?.acked_seq ?? seq;
    this.peers.store.setAcked(peer, seq);
    this.receipts.announcedRange(peer, before, seq, Date.now());
  }

  /** message_status: who has read the caller's message `id`. */
  async messageStatus(caller: Caller, id: string): Promise<Outcome<MessageStatus>> {
    return this.checked(caller, () => this.receipts.status(caller, id));
  }

  /** A hook announced mail to the caller's session: these seqs, or all unread through `through_seq`. */
  async markAnnounced(caller: Caller, report: { seqs?: number[]; through_seq?: number }): Promise<Outcome<{ recorded: boolean }>> {
    return this.checked(caller, () => this.receipts.announcedByHook(caller, report, Date.now()));
  }

  /** Unread urgent mail and questions to the caller (the PostToolUse hook's question); reads only. */
  async pressingMail(caller: Caller): Promise<Outcome<PressingMail[]>> {
    return this.checked(caller, () => ok(this.receipts.pressing(caller)));
  }

  /** Read marks for the web room: receipts of the caller's own messages among `seqs`. */
  async readMarks(caller: Caller, seqs: number[]): Promise<Outcome<Record<number, { read: string[]; announced: string[] }>>> {
    return this.checked(caller, () => ok(this.receipts.ownMarks(caller, seqs)));
  }

  // Chains and budgets (group/chains/, docs/chains.md) --------------------------------------------

  /** Open chains, held ones first, with the last few messages of each held one the caller may see. */
  async chains(caller: Caller): Promise<Outcome<ChainList>> {
    return this.checked(caller, () => this.mail.chains.list(caller));
  }

  /** A lead's yes: the chain gets a fresh budget. */
  async continueChain(caller: Caller, id: number): Promise<Outcome<ChainInfo>> {
    return this.checked(caller, () => this.mail.chains.continueChain(caller, id));
  }

  /** A lead's no: the chain is closed. */
  async endChain(caller: Caller, id: number): Promise<Outcome<ChainInfo>> {
    return this.checked(caller, () => this.mail.chains.endChain(caller, id));
  }

  /** A person typed a prompt into the caller's own Claude Code session (the UserPromptSubmit hook). */
  async personSpoke(caller: Caller): Promise<Outcome<{ renewed: number[] }>> {
    return this.checked(caller, () => this.mail.chains.personSpoke(caller));
  }
}

/**
 * The mail feature: sending (with its rules, rules.ts), reading (handed over on a lease, marked
 * read once the Worker confirms it arrived, handovers.ts), waiting for mail or a reply (waits.ts),
 * and history. What happens when a message is sent: post() checks it, stores it in one statement,
 * then wakes the calls parked for it and tells the sockets of its audience.
 *
 * Every method here is called by the object after the caller's token was checked.
 */
import type { ReadFrame } from "../../../contract/frames.ts";
import type { UnreadSummary } from "../../../contract/unread.ts";
import type { Settings } from "../settings.ts";
import { type Caller, fail, type Message, newMessageId, ok, type Outcome, type Problem } from "../types.ts";
import type { Peers } from "../peers/peers.ts";
import type { SocketHub } from "../sockets/hub.ts";
import { type HeldChain, Chains } from "../chains/chains.ts";
import { Handovers } from "./handovers.ts";
import type { ChainNote } from "../chains/schemas.ts";
import { IdempotencyKeys, type KeyedSend } from "./idempotency.ts";
import type { Answer, AskInput, HistoryPage, HistoryQuery, Inbox, SendInput, Sent } from "./schemas.ts";
import { sendProblem } from "./rules.ts";
import { historyRequest, page } from "./search.ts";
import { SearchIndexer } from "./search-index.ts";
import { MailStore } from "./store.ts";
import { ParkedWaits } from "./waits.ts";

export interface MailDeps {
  sql: SqlStorage;
  settings: Settings;
  peers: Peers;
  sockets: SocketHub;
  /** Why the caller may not write now (an observer, or the group is paused), or null. */
  writeRefusal(caller: Caller): Problem | null;
  /** Stored mail must be swept by retention: makes sure the alarm is set. */
  ensureAlarm(): void;
  /** Records read receipts for `seqs`, in the same transaction as the cursor move. */
  receiptsRead?(peer: string, seqs: number[], now: number): void;
  /** Questions and DMs a webhook is for are queued for it (webhooks/webhooks.ts). */
  webhooks: { onMessage(message: Message, ask?: { default_answer?: string; deadline?: number }): void; onChainHeld(held: HeldChain): void };
}

/**
 * A page read (history, the feed), where a search SQLite cannot run comes back as an answer the
 * caller can act on, never as an internal error.
 */
export function readPage<T>(read: () => T): Outcome<T> {
  try {
    return ok(read());
  } catch (error) {
    console.error("page read failed", error instanceof Error ? error.message : error);
    return fail("invalid_input", "The relay could not run this search. Try a shorter query, or leave query out and page back through the messages with before.");
  }
}

/** What a retry with the same idempotency_key must repeat. */
function keyedSend(input: SendInput): KeyedSend {
  return { to: input.to ?? null, kind: input.kind, text: input.text, reply_to: input.reply_to ?? null, urgent: input.urgent === true, tags: input.tags ?? [] };
}

export class Mail {
  readonly store: MailStore;
  readonly waits = new ParkedWaits();
  readonly chains: Chains;
  private readonly handovers = new Handovers();
  private readonly deps: MailDeps;
  private readonly keys: IdempotencyKeys;
  private readonly searchIndex: SearchIndexer;

  constructor(deps: MailDeps) {
    this.deps = deps;
    this.store = new MailStore(deps.sql);
    this.keys = new IdempotencyKeys(deps.sql);
    this.chains = new Chains(deps.sql, deps.settings, (held) => deps.webhooks.onChainHeld(held));
    this.searchIndex = new SearchIndexer(deps.sql);
  }

  // Sending ----------------------------------------------------------------------------------------

  send(caller: Caller, input: SendInput): Outcome<Sent> {
    const refused = this.deps.writeRefusal(caller);
    if (refused) return { ok: false, problem: refused };
    const posted = this.post(caller, input, newMessageId());
    if (!posted.ok) return posted;
    const { message, recipientLeft, chain } = posted.value;
    const sent: Sent = { id: message.id, seq: message.seq, time: message.time };
    if (recipientLeft) sent.recipient_left = true;
    if (chain) sent.chain = chain;
    return ok(sent);
  }

  /**
   * Checks a send against the group's rules, stores it, and tells whoever hears about it: the
   * calls parked for it and the sockets of its audience. Nothing is stored when a rule refuses.
   */
  private post(caller: Caller, input: SendInput, id: string, ask?: { default_answer?: string; deadline?: number }): Outcome<{ message: Message; recipientLeft: boolean; chain?: ChainNote | undefined }> {
    const { peers, sockets } = this.deps;
    const now = Date.now();
    // A send that repeats an idempotency_key answers with the first message and stores nothing.
    const key = input.idempotency_key;
    const replay = key === undefined ? null : this.keys.firstSend(caller.peer, key, id, keyedSend(input), now, (peer, first) => this.store.sentBy(peer, first));
    if (replay) return replay;
    const checked = sendProblem(this.store, this.deps.settings, caller, input, now, () => peers.store.presentPeers().map((p) => p.name));
    // A refused send gives its key back, so a corrected retry with the same key goes through.
    const refuse = (problem: Problem): Outcome<never> => {
      if (key !== undefined) this.keys.release(caller.peer, key, id);
      return { ok: false, problem };
    };
    if (checked.problem) return refuse(checked.problem);
    // The last rule, and the first write: an agent's send past its chain's budget is refused (chains/).
    const chained = this.chains.admit(caller, { id, to: input.to ?? null, kind: input.kind, replyTo: input.reply_to ?? null }, now);
    if (chained.problem) return refuse(chained.problem);
    // No await between these writes: the runtime commits them as one atomic transaction.
    peers.seen(caller, now, true);
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
    this.waits.deliver(message, (peer) => peers.listener(peer));
    sockets.bridges.notify(message);
    sockets.pages.pushMessage(message);
    this.searchIndex.soon();
    this.deps.ensureAlarm();
    // After ensureAlarm: webhooks may set the alarm sooner, and the later setAlarm wins.
    this.deps.webhooks.onMessage(message, ask);
    return ok({ message, recipientLeft: checked.recipientLeft, chain: chained.note });
  }

  /**
   * ask_peer in one call: refuse if the caller cannot park another wait, send the question, wait
   * for its reply, and return it still unread: the Worker confirms it (confirmRead) once the
   * response carrying it reached the caller, and only then is it read. `input.id` is chosen by
   * the tool, so the tool can call again after an object restart without asking twice: a question
   * already stored under that id is not sent again, and a reply already stored is returned at once.
   */
  async ask(caller: Caller, input: AskInput & { id: string }): Promise<Outcome<Answer>> {
    const refused = this.deps.writeRefusal(caller);
    if (refused) return { ok: false, problem: refused };
    const full = this.waits.capacityProblem(caller.peer);
    if (full) return { ok: false, problem: full };
    let question = this.store.sentBy(caller.peer, input.id);
    if (!question) {
      const ask = { ...(input.default_answer !== undefined && { default_answer: input.default_answer }), ...(input.deadline !== undefined && { deadline: input.deadline }) };
      const posted = this.post(caller, { to: input.to, text: input.question, kind: "question", idempotency_key: input.idempotency_key }, input.id, ask);
      if (!posted.ok) return posted;
      question = posted.value.message;
    }
    const asked = { id: question.id, seq: question.seq };
    let reply = this.store.replyTo(question.id, input.to, caller.peer) ?? null;
    if (!reply && input.timeoutMs > 0) {
      const parked = this.waits.forReply(caller.peer, caller.iat, question.id, input.to, input.timeoutMs);
      if (!parked.ok) return parked;
      reply = await parked.value;
      // The token may have been revoked while this call was parked.
      const revokedSince = this.deps.peers.revokedProblem(caller);
      if (revokedSince) return { ok: false, problem: revokedSince };
    }
    if (reply) this.chains.handed(caller, [reply.id]);
    // Not leased, unlike readNew: if the Worker's request was cancelled while this call waited,
    // nobody would release the lease, and the reply should be plain unread mail at once.
    return ok({ question: asked, reply });
  }

  // Reading ----------------------------------------------------------------------------------------

  /**
   * The caller's unread mail, oldest first, handed over but NOT marked read: the Worker calls
   * confirmRead once the response carrying it reached the client, or releaseRead if it did not.
   * Until then the mail is kept out of the peer's other reads; unconfirmed, it is unread again
   * after HANDOVER_LEASE_MS.
   */
  readNew(caller: Caller, limit: number, ack?: number): Outcome<Inbox> {
    const { peers } = this.deps;
    // A client that acks says exactly what it holds: its previous batch is read now.
    const acked = ack === undefined ? [] : this.handovers.leasedThrough(caller.peer, ack);
    if (acked.length > 0) this.confirmRead(caller, acked);
    const now = Date.now();
    const peer = peers.touch(caller, now);
    const listener = peers.listener(caller.peer);
    const inFlight = this.handovers.leased(caller.peer, now);
    const messages = this.store.unread(listener, peer.read_cursor, limit, inFlight);
    const seqs = messages.map((m) => m.seq);
    this.handovers.lease(caller.peer, seqs, now);
    this.chains.handed(caller, messages.map((m) => m.id));
    return ok({ messages, remaining: this.store.countUnread(listener, peer.read_cursor, [...inFlight, ...seqs]) });
  }

  /** The response that carried these seqs reached the client: they are read now. */
  confirmRead(caller: Caller, seqs: number[]): void {
    this.handovers.end(caller.peer, seqs);
    if (!this.deps.peers.store.peer(caller.peer)) return;
    const cursor = this.store.markRead(this.deps.peers.listener(caller.peer), seqs);
    this.deps.receiptsRead?.(caller.peer, seqs, Date.now());
    // Tell the peer's bridges, so a notice still waiting for Claude to go idle is dropped.
    const aheadOfCursor = seqs.filter((seq) => seq > cursor);
    const frame: ReadFrame = aheadOfCursor.length > 0 ? { type: "read", through_seq: cursor, seqs: aheadOfCursor } : { type: "read", through_seq: cursor };
    this.deps.sockets.bridges.announceRead(caller.peer, frame);
  }

  /** The response that carried these seqs never reached the client: they are unread again now. */
  releaseRead(caller: Caller, seqs: number[]): void {
    this.handovers.end(caller.peer, seqs);
  }

  /**
   * Resolves with true as soon as the caller has unread mail, or false at the timeout. Takes
   * nothing: the tool reads the mail with readNew once this returns, so mail is never marked read
   * for a client that gave up while waiting.
   */
  async waitForMail(caller: Caller, timeoutMs: number): Promise<Outcome<boolean>> {
    const { peers } = this.deps;
    const now = Date.now();
    const peer = peers.touch(caller, now);
    const inFlight = this.handovers.leased(caller.peer, now);
    if (this.store.countUnread(peers.listener(caller.peer), peer.read_cursor, inFlight) > 0) return ok(true);
    if (timeoutMs <= 0) return ok(false);
    const parked = this.waits.forMail(caller.peer, caller.iat, timeoutMs);
    if (!parked.ok) return parked;
    const woken = await parked.value;
    // The token may have been revoked while this call was parked.
    const revokedSince = peers.revokedProblem(caller);
    if (revokedSince) return { ok: false, problem: revokedSince };
    return ok(woken !== null);
  }

  /**
   * What the caller has waiting, for Claude Code hooks (GET /groups/:group/unread). Reads only and
   * touches nothing: a hook running on every prompt neither marks mail read nor counts as the
   * peer being active. A peer the group has never seen has nothing unread.
   */
  unreadSummary(caller: Caller): UnreadSummary {
    const row = this.deps.peers.store.peer(caller.peer);
    if (!row) return { total: 0, dms: 0, questions: [], question_count: 0, dm_from: [], urgent: 0, highest_seq: 0, attention_seq: 0 };
    return this.store.unreadSummary(this.deps.peers.listener(caller.peer), row.read_cursor);
  }

  history(caller: Caller, query: HistoryQuery): Outcome<HistoryPage> {
    // Refuse before touch(): a refused call changes nothing, not even last_seen.
    if (query.peer !== undefined && !this.deps.peers.store.peer(query.peer)) {
      return fail("unknown_peer", `No peer named '${query.peer}' in this group. list_peers shows who is here.`);
    }
    this.deps.peers.touch(caller, Date.now());
    return readPage(() => {
      const { messages, next } = page(this.deps.sql, historyRequest(caller.peer, query));
      return { messages, next_before: next };
    });
  }
}

/**
 * The room's browser script: signs in (token from the URL fragment or the form), then draws the
 * room and keeps it live over the group's WebSocket. Every piece of message text goes into the
 * page through textContent, never innerHTML, so no message can become markup or script.
 */
import { startReadMarks } from "./receipts.ts";
import { startChains } from "./chains.ts";
import type { BoardEntry, PauseInfo, RoomFrame, RoomMessage, RoomPeer, RoomSnapshot } from "../frames.ts";
import { startClaims } from "./claims.ts";
import { Attention, foldInto } from "./attention.ts";
import { openWebhooksPanel } from "./webhooks-panel.ts";

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;
const group = document.body.dataset.group ?? "";
const api = (path: string) => `/g/${group}/api/${path}`;

type Child = Node | string | null | false;
function el<K extends keyof HTMLElementTagNameMap>(tag: K, props: Partial<Record<string, string>> = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) if (value !== undefined) node.setAttribute(key, value);
  for (const child of children) if (child) node.append(child);
  return node;
}

/**
 * Direction controls (an RTL override and friends) would reorder what follows them on screen, so
 * one could make a message pass for another: they are shown as visible codes instead.
 */
export function literal(text: string): string {
  return text.replace(/[\u202A-\u202E\u2066-\u2069\u200E\u200F\u061C]/g, (c) => `[U+${c.charCodeAt(0).toString(16).toUpperCase().padStart(4, "0")}]`);
}

async function call<T>(path: string, body?: unknown): Promise<{ ok: true; value: T } | { ok: false; status: number; message: string }> {
  let response: Response;
  try {
    response = await fetch(path, body === undefined ? { credentials: "same-origin" } : { method: "POST", credentials: "same-origin", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
  } catch {
    return { ok: false, status: 0, message: "The relay cannot be reached. Is it running?" };
  }
  const data = (await response.json().catch(() => ({}))) as T & { message?: string };
  if (response.ok) return { ok: true, value: data };
  if (response.status === 401 && path.startsWith(`/g/${group}/api/`)) showSignIn(data.message ?? "Signed out.");
  return { ok: false, status: response.status, message: data.message ?? `HTTP ${response.status}` };
}

// ---------------------------------------------------------------------------------------------
// Sign in
// ---------------------------------------------------------------------------------------------

async function exchange(token: string): Promise<void> {
  const signed = await call<{ room: string }>("/session", { token: token.trim() });
  if (!signed.ok) {
    showSignIn(signed.message);
    return;
  }
  // A room already drawn is someone else's: load it afresh rather than mix two people's state.
  if (signed.value.room === location.pathname && !roomOpened) void openRoom();
  else location.replace(signed.value.room);
}

/** Ends this browser's session in group `g` on the relay, so no copy of its cookie works afterwards. */
async function signOut(g = group): Promise<void> {
  await call(`/g/${g}/session/end`, {});
}

/**
 * The group, peer and role a sign-in link's token names, read without checking its signature: only
 * to ask the person before switching. The relay checks the token itself when it is exchanged.
 */
function namedIn(token: string): { g: string; p: string; r?: string } | null {
  try {
    const claims = JSON.parse(atob((token.split(".")[1] ?? "").replace(/-/g, "+").replace(/_/g, "/"))) as { g?: unknown; p?: unknown; r?: unknown };
    if (typeof claims.g !== "string" || typeof claims.p !== "string") return null;
    return { g: claims.g, p: claims.p, ...(typeof claims.r === "string" && { r: claims.r }) };
  } catch {
    return null;
  }
}

/** Who this browser is signed in as in group `g`, or null (not signed in, or the session ended). */
async function signedInAs(g: string): Promise<{ peer: string; role: string | null } | null> {
  try {
    const response = await fetch(`/g/${encodeURIComponent(g)}/api/whoami`, { credentials: "same-origin" });
    return response.ok ? ((await response.json()) as { peer: string; role: string | null }) : null;
  } catch {
    return null;
  }
}

/**
 * A sign-in link was opened. If this browser is already signed in to the link's group as someone
 * else, the person chooses: a link pasted by another (or a mistake) must not silently change who
 * they speak as.
 */
async function arrive(token: string): Promise<void> {
  const named = namedIn(token);
  const current = named ? await signedInAs(named.g) : null;
  if (!named || !current || (current.peer === named.p && current.role === (named.r ?? null))) return exchange(token);
  const who = (peer: string, role: string | null) => (role ? `${peer} (${role})` : peer);
  const now = who(current.peer, current.role);
  const next = who(named.p, named.r ?? null);
  $("switch-text").textContent = `This browser is signed in to group ${named.g} as ${now}. The link you opened signs in as ${next}.`;
  const stay = $<HTMLButtonElement>("switch-stay");
  const go = $<HTMLButtonElement>("switch-go");
  stay.textContent = `Stay ${now}`;
  go.textContent = `Switch to ${next}`;
  document.getElementById("signin")?.setAttribute("hidden", "");
  $("switch").hidden = false;
  stay.focus();
  const choose = (switching: boolean) => {
    stay.onclick = go.onclick = null;
    $("switch").hidden = true;
    document.getElementById("signin")?.removeAttribute("hidden");
    if (switching) void signOut(named.g).then(() => exchange(token));
    else if (location.pathname !== `/g/${named.g}`) location.replace(`/g/${named.g}`);
    else if (!roomOpened) void openRoom();
  };
  // Assigned, not added: a later link's prompt replaces this one's choices rather than adding to them.
  stay.onclick = () => choose(false);
  go.onclick = () => choose(true);
}

function showSignIn(message: string): void {
  socket?.close(1000, "signed out");
  socket = null;
  const slot = document.getElementById("signin-slot");
  slot?.removeAttribute("hidden");
  $("room")?.setAttribute("hidden", "");
  $("signout")?.setAttribute("hidden", "");
  $("signin-error").textContent = message;
  if ($("connection")) $("connection").textContent = "";
}

$<HTMLFormElement>("signin-form").addEventListener("submit", (event) => {
  event.preventDefault();
  void exchange($<HTMLInputElement>("token").value);
});

// ---------------------------------------------------------------------------------------------
// The room's state
// ---------------------------------------------------------------------------------------------

const messages = new Map<number, RoomMessage>();
const byId = new Map<string, RoomMessage>();
const openQuestions = new Map<string, RoomMessage>();
const board = new Map<string, BoardEntry>();
/** Where the board's next page starts (null: every key is shown), and how many keys it has. */
let boardNext: { updated_at: string; key: string } | null = null;
let boardTotal = 0;
let me = "";
let observer = false;
let lead = false;
let latest = 0;
let nextBefore: number | null = null;
let socket: WebSocket | null = null;
let searching = false;

// Built once: toLocale*String() builds a new formatter per call, which dominated drawing 200 messages.
const clock = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });
const full = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "medium" });

function time(iso: string): HTMLTimeElement {
  const d = new Date(iso);
  return el("time", { datetime: iso, title: full.format(d) }, clock.format(d));
}

function messageItem(m: RoomMessage): HTMLLIElement {
  const head = el(
    "div",
    { class: "head" },
    el("strong", { class: "from" }, m.from),
    m.to ? el("span", { class: "muted" }, ` → ${m.to}`) : null,
    " ",
    time(m.time),
    m.kind === "question" ? el("span", { class: "badge" }, "question") : null,
    m.urgent ? el("span", { class: "badge urgent" }, "urgent") : null,
    ...m.tags.map((t) => el("span", { class: "tag" }, `#${literal(t)}`)),
  );
  const item = el("li", { id: `m-${m.seq}`, class: m.urgent ? "message urgent" : "message" }, head);
  if (m.reply_to) {
    const parent = byId.get(m.reply_to);
    item.append(
      parent
        ? el("a", { class: "reply", href: `#m-${parent.seq}` }, `↩ reply to ${parent.from}: ${literal(parent.text.slice(0, 80))}`)
        : el("span", { class: "reply muted" }, `↩ reply to ${m.reply_to}`),
    );
  }
  item.append(foldInto(el("p", { class: "text", dir: "auto" }), literal(m.text)));
  return item;
}

/** Where a message belongs: the channel, or the thread with the other party. */
function threadOf(m: RoomMessage): string | null {
  if (m.to === null) return null;
  if (m.from === me) return m.to;
  if (m.to === me) return m.from;
  return [m.from, m.to].sort().join(" ↔ ");
}

function drawChannel(list: RoomMessage[] = [...messages.values()]): void {
  const scroller = $("channel-scroll");
  const atBottom = scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 40;
  const items = list.filter((m) => m.to === null).sort((a, b) => a.seq - b.seq).map(messageItem);
  $("channel").replaceChildren(...items);
  if (items.length === 0) $("channel").append(el("li", { class: "muted" }, searching ? "No message matches." : "No messages yet."));
  $("older").hidden = searching || nextBefore === null;
  if (atBottom) scroller.scrollTop = scroller.scrollHeight;
}

/** A live broadcast is the newest message: add its one item instead of redrawing the channel. */
function appendToChannel(m: RoomMessage): void {
  const scroller = $("channel-scroll");
  const atBottom = scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 40;
  $("channel").querySelector("li.muted")?.remove();
  $("channel").append(messageItem(m));
  if (atBottom) scroller.scrollTop = scroller.scrollHeight;
}

function drawThreads(): void {
  const threads = new Map<string, RoomMessage[]>();
  for (const m of [...messages.values()].sort((a, b) => a.seq - b.seq)) {
    const key = threadOf(m);
    if (key !== null) threads.set(key, [...(threads.get(key) ?? []), m]);
  }
  const sections = [...threads].map(([who, list]) =>
    el("details", { class: "thread", open: "" }, el("summary", {}, `${who} (${list.length})`), el("ol", { class: "messages" }, ...list.map(messageItem))),
  );
  $("threads").replaceChildren(...(sections.length ? sections : [el("p", { class: "muted" }, "No direct messages.")]));
}

function drawQuestions(): void {
  const items = [...openQuestions.values()].map((q) => {
    const id = `answer-${q.seq}`;
    const form = el(
      "form",
      { class: "answer" },
      el("label", { for: id }, "Answer"),
      el("textarea", { id, rows: "2", required: "", "aria-keyshortcuts": "Control+Enter" }),
      el("button", { type: "submit" }, `Send answer to ${q.from}`),
      el("p", { class: "status", role: "status" }),
    );
    form.querySelector("textarea")!.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) form.requestSubmit();
    });
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const box = form.querySelector("textarea")!;
      void send({ to: q.from, text: box.value, reply_to: q.id }, form.querySelector(".status")!).then((sent) => {
        if (sent) openQuestions.delete(q.id), drawQuestions();
      });
    });
    const item = messageItem(q);
    if (!observer) item.append(form);
    return item;
  });
  $("questions").replaceChildren(...(items.length ? items : [el("li", { class: "muted" }, "No open questions.")]));
  attention.setQuestions(observer ? 0 : openQuestions.size);
}

const attention = new Attention({
  list: $("needs-you"),
  card: $("needs-you-card"),
  item: messageItem,
  reply: (peer) => {
    $<HTMLSelectElement>("to").value = peer;
    $("message").focus();
  },
});

const knownPeers = new Set<string>();

function drawPeers(peers: RoomPeer[]): void {
  knownPeers.clear();
  for (const p of peers) knownPeers.add(p.name);
  $("peers").replaceChildren(
    ...peers.map((p) => {
      const facts = [p.profile.client, p.profile.summary, p.profile.hostname, p.profile.cwd, p.profile.branch && `branch ${p.profile.branch}`].filter(Boolean).join(" · ");
      return el(
        "li",
        { class: p.left ? "peer left" : "peer" },
        el("span", { class: p.online ? "dot on" : "dot", "aria-hidden": "true" }),
        el("strong", {}, p.name),
        p.name === me ? " (you)" : "",
        p.observer ? el("span", { class: "badge" }, "observer") : null,
        el("span", { class: "muted" }, ` ${p.online ? "online" : "offline"}${p.left ? ", left" : ""}, seen `, time(p.last_seen)),
        facts ? el("div", { class: "muted small" }, literal(facts)) : null,
      );
    }),
  );
  const to = $<HTMLSelectElement>("to");
  const chosen = to.value;
  to.replaceChildren(el("option", { value: "" }, "Everyone (group channel)"), ...peers.filter((p) => p.name !== me && !p.left).map((p) => el("option", { value: p.name }, `${p.name} (direct)`)));
  to.value = chosen;
}

function drawBoard(): void {
  const entries = [...board.values()].sort((a, b) => a.key.localeCompare(b.key));
  $("board").replaceChildren(
    ...entries.flatMap((e) => {
      const value = el("code", {}, literal(e.value_json ?? ""), e.truncated ? "…" : "");
      const whole = e.truncated ? el("button", { type: "button", class: "link" }, `Show all of ${e.key}`) : null;
      whole?.addEventListener("click", () => void loadBoardValue(e.key));
      return [el("dt", {}, e.key), el("dd", {}, value, whole, el("div", { class: "muted small" }, `${e.updated_by}, `, time(e.updated_at)))];
    }),
  );
  if (entries.length === 0) $("board").append(el("dd", { class: "muted" }, "The board is empty."));
  $("board-more").hidden = boardNext === null;
  $("board-count").textContent = boardNext === null ? "" : `Showing ${board.size} of ${boardTotal} keys, the most recently changed.`;
}

/** The board's next page: previews of the entries changed before the last one shown. */
async function loadMoreBoard(): Promise<void> {
  if (boardNext === null) return;
  const page = await call<{ entries: BoardEntry[]; next: typeof boardNext; total: number }>(api(`board?after=${encodeURIComponent(boardNext.updated_at)}&key=${encodeURIComponent(boardNext.key)}`));
  if (!page.ok) return;
  // A key already shown may be newer (a live change): keep that.
  for (const entry of page.value.entries) if (!board.has(entry.key)) board.set(entry.key, entry);
  boardNext = page.value.next;
  boardTotal = page.value.total;
  drawBoard();
}

/** One key's whole value, for an entry the board showed cut short. */
async function loadBoardValue(key: string): Promise<void> {
  const found = await call<{ entry: BoardEntry }>(api(`board/value?key=${encodeURIComponent(key)}`));
  if (!found.ok) return;
  board.set(key, found.value.entry);
  drawBoard();
}

function drawPause(pause: PauseInfo | null): void {
  const banner = $("pause-banner");
  banner.hidden = pause === null;
  banner.textContent = pause ? `The group is paused by ${pause.by}: ${literal(pause.reason)}` : "";
  $("pause-form").hidden = !lead || pause !== null;
  $("resume").hidden = !lead || pause === null;
}

function add(m: RoomMessage): void {
  messages.set(m.seq, m);
  byId.set(m.id, m);
  latest = Math.max(latest, m.seq);
  if (m.kind === "question" && m.to === me) openQuestions.set(m.id, m);
  if (m.from === me && m.reply_to) openQuestions.delete(m.reply_to);
  if (m.from === me && m.to !== null) attention.answered(m.to);
}

// ---------------------------------------------------------------------------------------------
// Reading marks mail read, as read_new_messages does
// ---------------------------------------------------------------------------------------------

let readTimer: number | undefined;
function markReadSoon(): void {
  if (document.visibilityState !== "visible") return;
  clearTimeout(readTimer);
  // Only what this page holds: mail it has not drawn yet (arrived since, or missed while the
  // socket was down) stays unread.
  readTimer = window.setTimeout(() => void call(api("read"), { through: latest }), 300);
}

// ---------------------------------------------------------------------------------------------
// Sending
// ---------------------------------------------------------------------------------------------

/** Per status line, the latest send: an older send's answer arriving late must not overwrite it. */
const latestSend = new WeakMap<HTMLElement, number>();
let sends = 0;

/**
 * Per status line, the message sent from it and not yet acknowledged, with its idempotency key:
 * the key is made once per message and reused by every retry, automatic or the person pressing
 * Send again after a dropped connection, so the relay stores the message once however often it
 * went out. An answer from the relay (sent, or refused) acknowledges it.
 */
const unacknowledged = new WeakMap<HTMLElement, { body: string; key: string }>();

function idempotencyKeyFor(status: HTMLElement, body: object): string {
  const same = JSON.stringify(body);
  const pending = unacknowledged.get(status);
  if (pending?.body === same) return pending.key;
  // getRandomValues, not randomUUID: the room may be served over plain http on a LAN.
  const key = `web-${Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, "0")).join("")}`;
  unacknowledged.set(status, { body: same, key });
  return key;
}

/** Tries a send a few times while the relay cannot be reached or fails (status 0 or 5xx), with the same key. */
async function sendWithRetries(body: object, key: string): Promise<Awaited<ReturnType<typeof call<{ seq: number }>>>> {
  for (let attempt = 0; ; attempt++) {
    const sent = await call<{ seq: number }>(api("send"), { ...body, idempotency_key: key });
    if (sent.ok || (sent.status !== 0 && sent.status < 500) || attempt === 2) return sent;
    await new Promise((resolve) => window.setTimeout(resolve, 500 * 2 ** attempt));
  }
}

async function send(body: { to?: string; text: string; reply_to?: string; urgent?: boolean; tags?: string[] }, status: HTMLElement): Promise<boolean> {
  const mine = ++sends;
  latestSend.set(status, mine);
  status.textContent = "Sending…";
  const key = idempotencyKeyFor(status, body);
  const sent = await sendWithRetries(body, key);
  // Answered either way: the next message gets a new key. Unanswered, Send again reuses this one.
  if ((sent.ok || (sent.status !== 0 && sent.status < 500)) && unacknowledged.get(status)?.key === key) unacknowledged.delete(status);
  if (latestSend.get(status) === mine) {
    status.textContent = sent.ok ? `Sent (#${sent.value.seq}).` : sent.message;
    status.classList.toggle("error", !sent.ok);
  }
  return sent.ok;
}

/** The composer and the lead's controls; the room page only (the sign-in page has none of them). */
function wireControls(): void {
  $<HTMLFormElement>("composer").addEventListener("submit", (event) => {
    event.preventDefault();
    const box = $<HTMLTextAreaElement>("message");
    const to = $<HTMLSelectElement>("to").value;
    const tags = $<HTMLInputElement>("tags").value.split(",").map((t) => t.trim()).filter(Boolean);
    const urgent = $<HTMLInputElement>("urgent").checked;
    const body = { text: box.value, ...(to && { to }), ...(urgent && { urgent }), ...(!to && tags.length && { tags }) };
    void send(body, $("composer-status")).then((ok) => {
      // Only if the box still holds what was sent: the person may have typed the next message.
      if (ok && box.value === body.text) box.value = "";
    });
  });
  // Ctrl/Cmd+Enter sends from the message box, as in most chat tools; Enter alone is a new line.
  $("message").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) $<HTMLFormElement>("composer").requestSubmit();
  });

  $<HTMLFormElement>("pause-form").addEventListener("submit", (event) => {
    event.preventDefault();
    void call<{ pause: PauseInfo | null }>(api("pause"), { reason: $<HTMLInputElement>("pause-reason").value }).then((r) => r.ok && drawPause(r.value.pause));
  });
  $("resume").addEventListener("click", () => void call<{ pause: PauseInfo | null }>(api("resume"), {}).then((r) => r.ok && drawPause(r.value.pause)));
  $("signout").addEventListener("click", () => void signOut().then(() => showSignIn("Signed out.")));
}

// ---------------------------------------------------------------------------------------------
// Older pages and search
// ---------------------------------------------------------------------------------------------

async function loadOlder(): Promise<void> {
  if (nextBefore === null || searching) return;
  const scroller = $("channel-scroll");
  const fromBottom = scroller.scrollHeight - scroller.scrollTop;
  const page = await call<{ messages: RoomMessage[]; next_before: number | null }>(api(`feed?before=${nextBefore}&limit=100`));
  if (!page.ok) return;
  page.value.messages.forEach(add);
  nextBefore = page.value.next_before;
  drawChannel();
  drawThreads();
  scroller.scrollTop = scroller.scrollHeight - fromBottom;
}
function clearSearch(): void {
  searching = false;
  $("search-clear").hidden = true;
  $<HTMLInputElement>("search").value = "";
  drawChannel();
}

/** Scrolling back, search, and the board's pages; the room page only. */
function wireChannel(): void {
  $("older").addEventListener("click", () => void loadOlder());
  $("channel-scroll").addEventListener("scroll", () => {
    if ($("channel-scroll").scrollTop < 20) void loadOlder();
  });
  $<HTMLFormElement>("search-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const q = $<HTMLInputElement>("search").value.trim();
    if (!q) return clearSearch();
    void call<{ messages: RoomMessage[] }>(api(`feed?q=${encodeURIComponent(q)}&limit=200`)).then((found) => {
      if (!found.ok) return;
      searching = true;
      $("search-clear").hidden = false;
      drawChannel(found.value.messages);
    });
  });
  $("search-clear").addEventListener("click", clearSearch);
  $("board-more").addEventListener("click", () => void loadMoreBoard());
}

// ---------------------------------------------------------------------------------------------
// Live
// ---------------------------------------------------------------------------------------------

let retry = 0;
let presenceTimer: number | undefined;
function connect(): void {
  const ws = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/g/${group}/ws`);
  socket = ws;
  const keepAlive = window.setInterval(() => ws.readyState === WebSocket.OPEN && ws.send("ping"), 30_000);
  ws.addEventListener("open", () => {
    retry = 0;
    $("connection").textContent = "Live.";
    void catchUp();
  });
  ws.addEventListener("message", (event) => {
    if (event.data === "pong") return;
    const frame = JSON.parse(String(event.data)) as RoomFrame;
    if (frame.type === "message") {
      const fresh = frame.message.seq > latest;
      add(frame.message);
      if (fresh && frame.message.to === me && !observer) attention.note(frame.message);
      if (frame.message.to !== null) drawThreads();
      else if (fresh && !searching) appendToChannel(frame.message);
      else if (!searching) drawChannel();
      if (frame.message.kind === "question" || frame.message.reply_to) drawQuestions();
      if (frame.message.from !== me) markReadSoon();
      // A newcomer's first message: show them in the peer list now rather than at the next poll.
      if (!knownPeers.has(frame.message.from)) void refreshPeers();
    } else if (frame.type === "board") {
      if (frame.entry.value_json === null) board.delete(frame.entry.key);
      else board.set(frame.entry.key, frame.entry);
      drawBoard();
    } else if (frame.type === "presence") {
      // Several bridges may come and go at once (a relay restart): one refresh for the burst.
      clearTimeout(presenceTimer);
      presenceTimer = window.setTimeout(() => void refreshPeers(), 250);
    } else if (frame.type === "pause") {
      drawPause(frame.pause);
    } else if (frame.type === "signed_out") {
      showSignIn(frame.message);
    }
  });
  ws.addEventListener("close", (event) => {
    clearInterval(keepAlive);
    if (socket !== ws) return;
    socket = null;
    if (event.code === 4401) return showSignIn("Your session ended (token revoked or expired). Ask your team for a new sign-in link.");
    $("connection").textContent = "Reconnecting…";
    // Jittered backoff, so a relay restart is not met by every page at the same instant.
    window.setTimeout(connect, Math.min(30_000, 500 * 2 ** retry++) * (0.5 + Math.random()));
  });
}

/** After a reconnect: whatever arrived meanwhile, from the one feed. */
async function catchUp(): Promise<void> {
  const page = await call<{ messages: RoomMessage[] }>(api(`feed?after=${latest}&limit=200`));
  if (!page.ok || page.value.messages.length === 0) return;
  page.value.messages.forEach(add);
  drawChannel();
  drawThreads();
  drawQuestions();
  markReadSoon();
}

async function refreshPeers(): Promise<void> {
  const room = await call<RoomSnapshot>(api("room?limit=1"));
  if (room.ok) drawPeers(room.value.peers);
}

let roomOpened = false;
async function openRoom(): Promise<void> {
  roomOpened = true;
  const started = performance.now();
  const room = await call<RoomSnapshot>(api("room"));
  if (!room.ok) return;
  const r = room.value;
  me = r.me;
  observer = r.role === "observer";
  lead = r.role === "lead";
  nextBefore = r.next_before;
  latest = r.latest_seq;
  r.messages.forEach(add);
  r.open_questions.forEach(add);
  (r.needs_you ?? []).forEach(add);
  for (const entry of r.board) board.set(entry.key, entry);
  boardNext = r.board_next;
  boardTotal = r.board_total;
  $("signin-slot").hidden = true;
  $("room").hidden = false;
  $("signout").hidden = false;
  $("whoami").textContent = `signed in as ${me}${observer ? " (observer)" : lead ? " (lead)" : ""}`;
  $("composer").hidden = observer;
  $("observer-note").hidden = !observer;
  // An observer is asked nothing and can answer nothing.
  $("questions-card").hidden = observer;
  for (const m of r.needs_you ?? []) attention.note(m);
  drawPeers(r.peers);
  drawChannel();
  drawThreads();
  drawQuestions();
  drawBoard();
  drawPause(r.pause);
  startReadMarks(group, me);
  if (lead) void openWebhooksPanel(call, api);
  $("channel-scroll").scrollTop = $("channel-scroll").scrollHeight;
  // Read by the bench and the tests: how long the first render took, fetch included.
  document.body.dataset.renderedMs = String(Math.round(performance.now() - started));
  document.body.dataset.renderedAt = String(Math.round(performance.now()));
  markReadSoon();
  startChains(group, lead);
  connect();
  window.setInterval(() => void refreshPeers(), 20_000);
  startClaims({ list: $("claims"), status: $("claims-status"), api, lead, literal });
  const left = r.session_ends ? Date.parse(r.session_ends) - Date.now() : Number.POSITIVE_INFINITY;
  // setTimeout holds at most ~24.8 days; a session is far shorter (12 h at most).
  if (left < 2 ** 31 - 1) window.setTimeout(() => showSignIn("Your session has ended (the token expired, or 12 hours passed). Sign in again with your link."), Math.max(0, left));
}

// The token may arrive in the fragment, which browsers never send to a server. Take it, and wipe
// it from the address bar and history at once, before anything else can read or share it.
function takeToken(): string | null {
  const token = new URLSearchParams(location.hash.slice(1)).get("t");
  if (token) history.replaceState(null, "", location.pathname + location.search);
  return token;
}
const token = takeToken();
// A link pasted into the address bar of this very page changes only the fragment: no new load.
window.addEventListener("hashchange", () => {
  const pasted = takeToken();
  if (pasted) void arrive(pasted);
});
if (group) {
  wireControls();
  wireChannel();
  document.addEventListener("visibilitychange", markReadSoon);
}
if (token) void arrive(token);
else if (group) void openRoom();

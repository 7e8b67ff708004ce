/**
 * The people's room, served by the relay itself: `/` signs in, `/g/<group>` is the room, with its
 * JSON API under /g/<group>/api and its live socket at /g/<group>/ws.
 *
 * Who is calling: the page carries the session cookie (worker/web/session.ts); a script may send
 * its peer token as a Bearer header instead (e.g. to pause from CI). A cookie rides along with any
 * request the browser makes, so every cookie-authenticated write, and the socket, must come from
 * this very origin; SameSite=Strict already keeps other sites' requests from carrying it.
 */
import { Hono } from "hono";
import { getCookie } from "hono/cookie";
import { createMiddleware } from "hono/factory";
import { z } from "zod";
import { bearerToken, verifyToken } from "../../contract/token.ts";
import { isValidName, NAME_RULE } from "../../contract/names.ts";
import { READ_MAX_LIMIT } from "../../contract/limits.ts";
import type { Env } from "../env.ts";
import { BOARD_PAGE_MAX } from "../group/board/pages.ts";
import type { Caller, Outcome, Problem } from "../types.ts";
import { SendDmInput, SendMessageInput } from "../group/mail/schemas.ts";
import { ChainId } from "../group/chains/schemas.ts";
import { nameSchema } from "../group/peers/schemas.ts";
import { ReleasePathsInput } from "../../contract/claims.ts";
import { ASSETS } from "./assets.gen.ts";
import { setUpgradeIdentity } from "../group/sockets/upgrade.ts";
import { openSession, sealSession, type Session, SESSION_COOKIE, sessionCookie } from "./session.ts";
import { roomPage, SECURITY_HEADERS, signInPage } from "./page.ts";
import { readMarksRoute } from "../receipt-routes.ts";
import { webhookApi } from "./webhook-api.ts";

type Vars = { caller: Caller; viaCookie: boolean; sessionEnds?: number };
export const webApp = new Hono<{ Bindings: Env; Variables: Vars }>();

/** Messages the room shows at first; older ones load on scroll. */
export const ROOM_FIRST_PAGE = 200;
/** The longest pause reason accepted. */
export const MAX_PAUSE_REASON = 200;

function refuse(status: 400 | 401 | 403 | 404 | 429, error: string, message: string): Response {
  return Response.json({ error, message }, { status, headers: { "Cache-Control": "no-store" } });
}

const STATUS: Partial<Record<Problem["code"], 401 | 403 | 404 | 429>> = {
  revoked: 401,
  read_only: 403,
  paused: 403,
  forbidden: 403,
  rate_limited: 429,
  unknown_peer: 404,
  unknown_message: 404,
  not_found: 404,
};

function answer<T>(outcome: Outcome<T>, render: (value: T) => unknown = (v) => v): Response {
  if (outcome.ok) return Response.json(render(outcome.value), { headers: { "Cache-Control": "no-store" } });
  return refuse(STATUS[outcome.problem.code] ?? 400, outcome.problem.code, outcome.problem.message);
}

/**
 * Is the request from a page of this very origin? The Origin's host must be the Host the request
 * was addressed to (what the browser's address bar showed), with the same scheme.
 */
function sameOrigin(c: { req: { url: string; header(name: string): string | undefined } }): boolean {
  const origin = c.req.header("Origin");
  if (!origin) return false;
  try {
    const from = new URL(origin);
    const to = new URL(c.req.url);
    return from.host === (c.req.header("Host") ?? to.host) && from.protocol === to.protocol;
  } catch {
    return false;
  }
}

function groupStub(env: Env, group: string) {
  return env.GROUPS.get(env.GROUPS.idFromName(group));
}

// ---------------------------------------------------------------------------------------------
// Pages and assets
// ---------------------------------------------------------------------------------------------

webApp.get("/", (c) => c.html(signInPage(), 200, SECURITY_HEADERS));

webApp.get("/g/:group", (c) => {
  const group = c.req.param("group");
  if (!isValidName(group)) return refuse(404, "invalid_group", `Group name must be ${NAME_RULE}.`);
  return c.html(roomPage(group), 200, SECURITY_HEADERS);
});

// Browsers ask for it on their own; an empty answer keeps a 404 out of every page's console.
webApp.get("/favicon.ico", (c) => c.body(null, 204, { "Cache-Control": "public, max-age=86400" }));

webApp.get(`/assets/:file`, (c) => {
  const asset = ASSETS.files[c.req.param("file")];
  if (!asset) return refuse(404, "not_found", "No such asset; reload the page.");
  // Names carry a hash of their content: a new deploy serves new names, so caching forever is safe.
  return c.body(asset.body, 200, { "Content-Type": asset.type, "Cache-Control": "public, max-age=31536000, immutable", "X-Content-Type-Options": "nosniff" });
});

// ---------------------------------------------------------------------------------------------
// Sign in and out
// ---------------------------------------------------------------------------------------------

const SessionBody = z.object({ token: z.string().min(1).max(2048) });

webApp.post("/session", async (c) => {
  if (!sameOrigin(c)) return refuse(403, "origin_mismatch", "Sign in from the relay's own page.");
  const parsed = SessionBody.safeParse(await c.req.json().catch(() => null));
  if (!parsed.success) return refuse(400, "invalid_body", 'Send JSON: {"token": "<your peer token>"}.');
  const verdict = await verifyToken(c.env.RELAY_SECRET!, parsed.data.token);
  if (!verdict.ok) return refuse(401, "invalid_token", `Token refused: ${verdict.reason}. Ask your team for a new sign-in link.`);
  const claims = verdict.claims;
  const caller: Caller = { group: claims.g, peer: claims.p, iat: claims.iat, ...(claims.exp !== undefined && { exp: claims.exp }), ...(claims.r && { role: claims.r }) };
  const allowed = await groupStub(c.env, claims.g).authorize(caller);
  if (!allowed.ok) return refuse(401, "token_revoked", allowed.problem.message);
  const { value, session } = await sealSession(c.env.RELAY_SECRET!, claims);
  c.header("Set-Cookie", sessionCookie(claims.g, value, session.sx - Date.now(), new URL(c.req.url).protocol === "https:"));
  c.header("Cache-Control", "no-store");
  return c.json({ group: claims.g, peer: claims.p, role: claims.r ?? null, room: `/g/${claims.g}` });
});

/**
 * Signs out: the group object records the session as ended, so the cookie is refused from now on
 * wherever a copy of it is, and the page sockets opened with it close. The browser drops it too.
 */
webApp.post("/g/:group/session/end", async (c) => {
  if (!sameOrigin(c)) return refuse(403, "origin_mismatch", "Sign out from the relay's own page.");
  const group = c.req.param("group");
  // The name goes into the Set-Cookie header's Path: a decoded "; Path=/" must never get there.
  if (!isValidName(group)) return refuse(404, "invalid_group", `Group name must be ${NAME_RULE}.`);
  c.header("Set-Cookie", sessionCookie(group, "", 0, new URL(c.req.url).protocol === "https:"));
  c.header("Cache-Control", "no-store");
  const opened = await openSession(c.env.RELAY_SECRET!, getCookie(c, SESSION_COOKIE));
  // No valid session of this group: nothing to end but the cookie in this browser.
  if (!opened.ok || opened.session.g !== group) return c.json({ signed_out: true, sockets_closed: 0 });
  const { closed } = await groupStub(c.env, group).endSession(callerOf(opened.session), opened.session.sx);
  return c.json({ signed_out: true, sockets_closed: closed });
});

// ---------------------------------------------------------------------------------------------
// Who is calling: the session cookie, or a Bearer token (scripts)
// ---------------------------------------------------------------------------------------------

/** The caller a page session speaks as; its id travels along, so the group can refuse an ended one. */
function callerOf(s: Session): Caller {
  return { group: s.g, peer: s.p, iat: s.iat, ...(s.exp !== undefined && { exp: s.exp }), ...(s.r && { role: s.r }), session: s.sid };
}

const requirePerson = createMiddleware<{ Bindings: Env; Variables: Vars }>(async (c, next) => {
  const group = c.req.param("group") ?? "";
  if (!isValidName(group)) return refuse(404, "invalid_group", `Group name must be ${NAME_RULE}.`);
  const bearer = bearerToken(c.req.header("Authorization"));
  if (bearer) {
    const verdict = await verifyToken(c.env.RELAY_SECRET!, bearer);
    if (!verdict.ok) return refuse(401, "invalid_token", `Token refused: ${verdict.reason}. Ask your team for a new token.`);
    const { g, p, iat, exp, r } = verdict.claims;
    c.set("caller", { group: g, peer: p, iat, ...(exp !== undefined && { exp }), ...(r && { role: r }) });
    c.set("viaCookie", false);
  } else {
    const opened = await openSession(c.env.RELAY_SECRET!, getCookie(c, SESSION_COOKIE));
    if (!opened.ok) return refuse(401, "signed_out", opened.reason);
    c.set("caller", callerOf(opened.session));
    c.set("viaCookie", true);
    c.set("sessionEnds", opened.session.sx);
  }
  if (c.get("caller").group !== group) {
    return refuse(403, "wrong_group", `You are signed in to group '${c.get("caller").group}', not '${group}'.`);
  }
  await next();
});

/** A write with the cookie must come from this origin (no other site can make the browser send it). */
const requireSameOriginWrite = createMiddleware<{ Bindings: Env; Variables: Vars }>(async (c, next) => {
  if (c.get("viaCookie") && !sameOrigin(c)) return refuse(403, "origin_mismatch", "Writes are accepted only from the relay's own page.");
  await next();
});

webApp.use("/g/:group/api/*", requirePerson);
webApp.post("/g/:group/api/*", requireSameOriginWrite);

// ---------------------------------------------------------------------------------------------
// The API
// ---------------------------------------------------------------------------------------------

const optionalInt = (text: string | undefined) => (text === undefined || text === "" || !/^\d{1,15}$/.test(text) ? undefined : Number(text));

webApp.get("/g/:group/api/room", async (c) => {
  const limit = optionalInt(c.req.query("limit")) ?? ROOM_FIRST_PAGE;
  const ends = c.get("sessionEnds");
  // The page signs itself out when the session ends, rather than at its next request.
  return answer(await groupStub(c.env, c.req.param("group")).webRoom(c.get("caller"), Math.min(limit, ROOM_FIRST_PAGE)), (room) =>
    ends === undefined ? room : { ...room, session_ends: new Date(ends).toISOString() },
  );
});

/** Who this browser (or script) is signed in as here: the page asks before a link switches it. */
webApp.get("/g/:group/api/whoami", async (c) => {
  const caller = c.get("caller");
  return answer(await groupStub(c.env, caller.group).authorize(caller), () => ({ group: caller.group, peer: caller.peer, role: caller.role ?? null }));
});

webApp.get("/g/:group/api/feed", async (c) => {
  const after = optionalInt(c.req.query("after"));
  const before = optionalInt(c.req.query("before"));
  const query = c.req.query("q");
  const limit = optionalInt(c.req.query("limit")) ?? 100;
  return answer(
    await groupStub(c.env, c.req.param("group")).webFeed(c.get("caller"), {
      limit,
      ...(after !== undefined && { after }),
      ...(before !== undefined && { before }),
      ...(query && { query }),
    }),
  );
});

/** The board after the entry named by `after` (its change time) and `key`: each value a preview. */
webApp.get("/g/:group/api/board", async (c) => {
  const after = c.req.query("after");
  const key = c.req.query("key");
  const cursor = after !== undefined && key !== undefined && Number.isFinite(Date.parse(after)) ? { updated_at: after, key } : null;
  const limit = optionalInt(c.req.query("limit")) ?? BOARD_PAGE_MAX;
  const caller = c.get("caller");
  return answer(await groupStub(c.env, caller.group).webBoard(caller, cursor, limit));
});

/** One key's whole value, for an entry the board showed cut short. */
webApp.get("/g/:group/api/board/value", async (c) => {
  const key = c.req.query("key") ?? "";
  if (!isValidName(key)) return refuse(400, "invalid_input", `A board key is ${NAME_RULE}.`);
  const caller = c.get("caller");
  return answer(await groupStub(c.env, caller.group).getState(caller, key, undefined), (entries) => ({ entry: entries[0] }));
});

/** One body for both kinds of send; validated by the very schemas the tools use, for the same errors. */
const PageSend = z.object({ to: z.string().optional() }).passthrough();

webApp.post("/g/:group/api/send", async (c) => {
  const body = PageSend.safeParse(await c.req.json().catch(() => null));
  if (!body.success) return refuse(400, "invalid_body", 'Send JSON: {"text": "...", "to"?: "<peer>", "urgent"?: true, "tags"?: [...], "reply_to"?: "<id>", "idempotency_key"?: "<key>"}.');
  const { to, ...rest } = body.data;
  // The room's send route speaks for a person, whether from the page or a script's token (docs/chains.md).
  const caller: Caller = { ...c.get("caller"), person: "room" };
  const parsed = to ? SendDmInput.safeParse({ ...rest, to }) : SendMessageInput.safeParse(rest);
  if (!parsed.success) return refuse(400, "invalid_input", parsed.error.issues.map((i) => `${i.path.join(".") || "input"}: ${i.message}`).join("; "));
  return answer(await groupStub(c.env, caller.group).send(caller, { ...parsed.data, kind: to ? "dm" : "group" }));
});

const ReadBody = z.object({ through: z.number().int().min(0).optional() }).catch({});

/**
 * Marks the person's mail read, as read_new_messages does, because they have seen it on the page:
 * the page says `through`, the newest seq it has shown, and mail after that (arrived since, or
 * missed while its socket was down) stays unread. Without `through` (a script), all of it.
 */
webApp.post("/g/:group/api/read", async (c) => {
  const { through = Number.MAX_SAFE_INTEGER } = ReadBody.parse(await c.req.json().catch(() => ({})));
  const caller = c.get("caller");
  const stub = groupStub(c.env, caller.group);
  let read = 0;
  // A handful of rounds covers any backlog the page can have shown; the rest stays unread.
  for (let round = 0; round < 5; round++) {
    const inbox = await stub.readNew(caller, READ_MAX_LIMIT);
    if (!inbox.ok) return answer(inbox);
    const seqs = inbox.value.messages.map((m) => m.seq);
    const shown = seqs.filter((seq) => seq <= through);
    // The page has shown this mail already: this request is its confirmation. The rest goes back.
    await stub.confirmRead(caller, shown);
    if (shown.length < seqs.length) await stub.releaseRead(caller, seqs.filter((seq) => seq > through));
    read += shown.length;
    if (inbox.value.remaining === 0 || shown.length < seqs.length) break;
  }
  return c.json({ read });
});

// Read marks on the person's own messages (worker/receipt-routes.ts).
webApp.get("/g/:group/api/read-marks", readMarksRoute);

const PauseBody = z.object({
  reason: z.string().trim().min(1, "reason must not be empty: say why the group is paused").max(MAX_PAUSE_REASON, `reason is at most ${MAX_PAUSE_REASON} characters`),
});

webApp.post("/g/:group/api/pause", async (c) => {
  const parsed = PauseBody.safeParse(await c.req.json().catch(() => null));
  if (!parsed.success) return refuse(400, "invalid_input", parsed.error.issues.map((i) => i.message).join("; ") || 'Send JSON: {"reason": "..."}.');
  const caller = c.get("caller");
  return answer(await groupStub(c.env, caller.group).setGroupPause(caller, parsed.data.reason), (pause) => ({ pause }));
});

webApp.post("/g/:group/api/resume", async (c) => {
  const caller = c.get("caller");
  return answer(await groupStub(c.env, caller.group).setGroupPause(caller, null), (pause) => ({ pause }));
});

// Path claims (web/client/claims.ts): the panel's list, and a lead releasing a quiet peer's claims.

webApp.get("/g/:group/api/claims", async (c) => {
  const caller = c.get("caller");
  return answer(await groupStub(c.env, caller.group).webClaims(caller));
});

const PageRelease = ReleasePathsInput.extend({ peer: nameSchema("peer") });

webApp.post("/g/:group/api/claims/release", async (c) => {
  const parsed = PageRelease.safeParse(await c.req.json().catch(() => null));
  if (!parsed.success) return refuse(400, "invalid_input", parsed.error.issues.map((i) => i.message).join("; ") || 'Send JSON: {"peer": "<name>", "paths"?: ["<pattern>"]}.');
  const caller = c.get("caller");
  return answer(await groupStub(c.env, caller.group).releasePaths(caller, parsed.data.paths, parsed.data.peer));
});
// A lead's webhooks panel (webhook-api.ts), under the same sign-in and same-origin checks.
webApp.route("/", webhookApi);

// ---------------------------------------------------------------------------------------------
// The live socket
// ---------------------------------------------------------------------------------------------

webApp.get("/g/:group/ws", async (c) => {
  if (c.req.header("Upgrade")?.toLowerCase() !== "websocket") return refuse(400, "upgrade_required", "This endpoint speaks WebSocket only.");
  // Browsers always send Origin on a WebSocket; a missing or foreign one is not our page.
  if (!sameOrigin(c)) return refuse(403, "origin_mismatch", "The room's socket accepts only the relay's own page.");
  const group = c.req.param("group");
  if (!isValidName(group)) return refuse(404, "invalid_group", `Group name must be ${NAME_RULE}.`);
  const opened = await openSession(c.env.RELAY_SECRET!, getCookie(c, SESSION_COOKIE));
  if (!opened.ok) return refuse(401, "signed_out", opened.reason);
  const s = opened.session;
  if (s.g !== group) return refuse(403, "wrong_group", `You are signed in to group '${s.g}', not '${group}'.`);
  const headers = new Headers({ Upgrade: "websocket" });
  // The socket ends when the session does (the token's expiry caps the session's).
  // Signing out of this session closes this socket, and an ended session cannot open another.
  setUpgradeIdentity(headers, { group: s.g, peer: s.p, iat: s.iat, exp: s.sx, ...(s.r && { role: s.r }), session: s.sid }, { page: true });
  return groupStub(c.env, group).fetch(new Request(c.req.url, { headers }));
});

// ---------------------------------------------------------------------------------------------
// Chains (group/chains/, docs/chains.md): the page's held-chains panel, `relay-bridge chains` and
// `continue` (a Bearer token), and the UserPromptSubmit hook saying a person spoke.
// ---------------------------------------------------------------------------------------------

webApp.get("/g/:group/api/chains", async (c) => {
  const caller = c.get("caller");
  return answer(await groupStub(c.env, caller.group).chains(caller));
});

webApp.post("/g/:group/api/chains/:id/:action{continue|end}", async (c) => {
  const id = ChainId.safeParse(c.req.param("id"));
  if (!id.success) return refuse(400, "invalid_input", id.error.issues.map((i) => i.message).join("; "));
  const caller = c.get("caller");
  const stub = groupStub(c.env, caller.group);
  const outcome = c.req.param("action") === "continue" ? await stub.continueChain(caller, id.data) : await stub.endChain(caller, id.data);
  return answer(outcome, (chain) => ({ chain }));
});

webApp.post("/g/:group/api/chains/person-spoke", async (c) => {
  const caller = c.get("caller");
  return answer(await groupStub(c.env, caller.group).personSpoke(caller));
});

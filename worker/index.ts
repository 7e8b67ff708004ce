/**
 * The relay Worker: routes requests, checks tokens, and hands each request to its group's
 * Durable Object. Reading order for a newcomer: this file, then mcp/route.ts (the MCP endpoint)
 * and mcp/tools.ts (the tools), then group/object.ts (where everything is stored and delivered).
 */
import { type Context, Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { createMiddleware } from "hono/factory";
import { z } from "zod";
import { bearerToken, secretProblem, verifyAdminProof } from "../contract/token.ts";
import { verifyTokenRemembered } from "./verified-tokens.ts";
import type { Env } from "./env.ts";
import type { Caller } from "./types.ts";
import { hostGuard } from "./host-guard.ts";
import { nameSchema } from "./group/peers/schemas.ts";
import { MCP_PATH, serveMcp } from "./mcp/route.ts";
import { isValidName, NAME_RULE } from "../contract/names.ts";
import { MAX_MCP_BODY_BYTES } from "../contract/limits.ts";
import { PERSON_CLIENT_HEADER, PERSON_CLIENT_VALUE } from "../contract/chains.ts";
import { webApp } from "./web/routes.ts";
import { FEED_MAX_LIMIT } from "./group/room/feed.ts";
import { setUpgradeIdentity } from "./group/sockets/upgrade.ts";
import { bridgeDownload } from "./bridge-download.ts";
import { pluginMarketplace } from "./plugin-marketplace.ts";
import { invites } from "./invite/routes.ts";
import { nameReservations } from "./invite/reserve-name.ts";
import { announcedRoute, pressingRoute } from "./receipt-routes.ts";
import { webhookRoutes } from "./webhooks/routes.ts";
import { answerPages } from "./web/answer-page.ts";

export { GroupObject } from "./group/object.ts";

type Vars = { caller: Caller };
const app = new Hono<{ Bindings: Env; Variables: Vars }>();

function refuse(status: 400 | 401 | 403 | 404 | 413 | 503, error: string, message: string): Response {
  return Response.json({ error, message }, { status });
}

// First, before every route including /health: a page that re-pointed its DNS at a developer's
// machine must not even learn that a relay runs there.
app.use("*", hostGuard);

app.get("/health", (c) =>
  c.json({ ok: secretProblem(c.env.RELAY_SECRET) === null, service: "claude-relay", time: new Date().toISOString() }),
);

// A relay must never run open: without a usable secret every other route says how to fix it.
app.use("*", async (c, next) => {
  const problem = secretProblem(c.env.RELAY_SECRET);
  if (problem) {
    return refuse(
      503,
      "relay_not_configured",
      `${problem}. Set it with \`npx wrangler secret put RELAY_SECRET\` (use \`openssl rand -hex 32\`), then mint tokens with the same secret.`,
    );
  }
  await next();
});

// Every other route reads its body whole (c.req.json(), parseBody()), some before any token or
// proof is checked: one cap for all, the one /mcp has, far above any legitimate body, so no request
// can make an isolate buffer a body of the platform's size limit. The MCP paths keep their own
// capped reader (mcp/route.ts), which answers in MCP's words.
const MCP_PATHS = new Set([MCP_PATH, `${MCP_PATH}/`, "/"]);
const cappedBody = bodyLimit({
  maxSize: MAX_MCP_BODY_BYTES,
  onError: () =>
    refuse(413, "body_too_large", `The request body is over ${MAX_MCP_BODY_BYTES} bytes, the most the relay reads. Nothing was done. Send less: a message's text has its own, much smaller limit.`),
});
app.use("*", (c, next) => (MCP_PATHS.has(c.req.path) ? next() : cappedBody(c, next)));

/** The caller a request's bearer token names, or the 401 that says what to do. */
async function callerOf(authorization: string | undefined, secret: string): Promise<Caller | Response> {
  const token = bearerToken(authorization);
  if (!token) {
    return refuse(
      401,
      "missing_token",
      "Send your peer token as `Authorization: Bearer <token>`. Mint one with `npm run -s token -- --group <group> --peer <name>`.",
    );
  }
  const verdict = await verifyTokenRemembered(secret, token);
  if (!verdict.ok) return refuse(401, "invalid_token", `Token refused: ${verdict.reason}. Ask your team for a new token.`);
  const { g: group, p: peer, iat, exp, r: role } = verdict.claims;
  return { group, peer, iat, ...(exp !== undefined && { exp }), ...(role !== undefined && { role }) };
}

/** Verifies the bearer token and stores the caller. */
const requireToken = createMiddleware<{ Bindings: Env; Variables: Vars }>(async (c, next) => {
  const caller = await callerOf(c.req.header("Authorization"), c.env.RELAY_SECRET!);
  if (caller instanceof Response) return caller;
  c.set("caller", caller);
  await next();
});

/** A group route's name must be valid and the caller's own group. */
function refuseOtherGroup(caller: Caller, group: string): Response | null {
  if (!isValidName(group)) return refuse(400, "invalid_group", `Group name must be ${NAME_RULE}.`);
  if (group !== caller.group) {
    return refuse(403, "wrong_group", `Your token is for group '${caller.group}', not '${group}': ask for a token for '${group}'.`);
  }
  return null;
}

function groupStub(env: Env, group: string) {
  return env.GROUPS.get(env.GROUPS.idFromName(group));
}

// ---------------------------------------------------------------------------------------------
// MCP (streamable HTTP, stateless; worker/mcp/route.ts). Served at /mcp, and also where a person
// is likely to point a client by mistake: /mcp/ and the bare origin (a POST; a GET of / in a
// browser is the room's sign-in page).
// ---------------------------------------------------------------------------------------------

async function mcp(c: Context<{ Bindings: Env; Variables: Vars }>): Promise<Response> {
  const verified = await callerOf(c.req.header("Authorization"), c.env.RELAY_SECRET!);
  if (verified instanceof Response) return verified;
  // relay-bridge's verbs mark themselves: a person typed them (trust: docs/chains.md).
  const caller: Caller = c.req.header(PERSON_CLIENT_HEADER) === PERSON_CLIENT_VALUE ? { ...verified, person: "cli" } : verified;
  return serveMcp({
    request: c.req.raw,
    env: c.env,
    caller,
    authorize: () => groupStub(c.env, caller.group).authorize(caller),
    waitUntil: (p) => c.executionCtx.waitUntil(p),
  });
}

/** A client's request to the bare origin, not a browser's: it posts, or asks only for an event stream. */
function isMcpAtRoot(request: Request): boolean {
  if (request.method === "POST" || request.method === "DELETE") return true;
  const accept = request.headers.get("Accept") ?? "";
  return request.method === "GET" && accept.includes("text/event-stream") && !accept.includes("text/html");
}

app.all(MCP_PATH, mcp);
app.all(`${MCP_PATH}/`, mcp);
app.on(["GET", "POST", "DELETE"], "/", async (c, next) => (isMcpAtRoot(c.req.raw) ? mcp(c) : next()));

// ---------------------------------------------------------------------------------------------
// Bridge sockets
// ---------------------------------------------------------------------------------------------

/**
 * Peers whose last upgrade the group object refused (too many sockets, or opened too fast), and
 * until when: their next tries in that second are refused here, without a trip to the object, so
 * a client reconnecting in a tight loop costs the group nothing. Per isolate, so best effort; the
 * object's own limit is the rule.
 */
const refusedUpgrades = new Map<string, { until: number; body: string }>();
const REFUSAL_MEMORY_MS = 1_000;

app.get("/groups/:group/ws", requireToken, async (c) => {
  const caller = c.get("caller");
  const group = c.req.param("group");
  const refused = refuseOtherGroup(caller, group);
  if (refused) return refused;
  const who = `${group}/${caller.peer}`;
  const remembered = refusedUpgrades.get(who);
  if (remembered && remembered.until > Date.now()) {
    return new Response(remembered.body, { status: 429, headers: { "Content-Type": "application/json", "Retry-After": "1" } });
  }
  if (c.req.header("Upgrade")?.toLowerCase() !== "websocket") {
    return c.json({ error: "upgrade_required", message: "This endpoint speaks WebSocket only." }, 426);
  }
  const headers = new Headers(c.req.raw.headers);
  // Replaces any identity header the client sent: a bridge can never pass itself off as a page or another role.
  setUpgradeIdentity(headers, caller, { page: false });
  headers.delete("Authorization");
  const response = await groupStub(c.env, group).fetch(new Request(c.req.url, { headers }));
  if (response.status === 429) {
    const body = await response.text();
    if (refusedUpgrades.size > 10_000) refusedUpgrades.clear();
    refusedUpgrades.set(who, { until: Date.now() + REFUSAL_MEMORY_MS, body });
    return new Response(body, { status: 429, headers: { "Content-Type": "application/json", "Retry-After": "1" } });
  }
  return response;
});

// ---------------------------------------------------------------------------------------------
// Unread summary: counts only, marks nothing read (Claude Code hooks ask it on every prompt/stop)
// ---------------------------------------------------------------------------------------------

app.get("/groups/:group/unread", requireToken, async (c) => {
  const caller = c.get("caller");
  const group = c.req.param("group");
  const refused = refuseOtherGroup(caller, group);
  if (refused) return refused;
  const outcome = await groupStub(c.env, group).unreadSummary(caller);
  if (!outcome.ok) return refuse(401, "token_revoked", outcome.problem.message);
  return c.json({ group, peer: caller.peer, ...outcome.value });
});

// Mid-turn mail and read receipts for hooks (worker/receipt-routes.ts)
app.get("/groups/:group/pressing", requireToken, pressingRoute);
app.post("/groups/:group/announced", requireToken, announcedRoute);

// ---------------------------------------------------------------------------------------------
// Path claims for the bridge's guards (local-bridge/guard/relay-source.ts): the caller and every
// live claim, one small GET a PreToolUse hook or git hook can afford
// ---------------------------------------------------------------------------------------------

app.get("/groups/:group/claims", requireToken, async (c) => {
  const caller = c.get("caller");
  const group = c.req.param("group");
  const refused = refuseOtherGroup(caller, group);
  if (refused) return refused;
  const outcome = await groupStub(c.env, group).claimsView(caller);
  if (!outcome.ok) return refuse(401, "token_revoked", outcome.problem.message);
  return c.json(outcome.value);
});

// ---------------------------------------------------------------------------------------------
// Admin: revocation, proven with the team secret (see scripts/token.ts --revoke)
// ---------------------------------------------------------------------------------------------

const RevokeBody = z.object({ peer: nameSchema("peer"), proof: z.string().max(200) });

app.post("/groups/:group/revoke", async (c) => {
  const group = c.req.param("group");
  if (!isValidName(group)) return refuse(400, "invalid_group", `Group name must be ${NAME_RULE}.`);
  let body: unknown;
  try {
    body = await c.req.json();
  } catch {
    return refuse(400, "invalid_body", 'Send JSON: {"peer": "<name>", "proof": "<admin proof>"}.');
  }
  const parsed = RevokeBody.safeParse(body);
  if (!parsed.success) return refuse(400, "invalid_body", parsed.error.issues.map((i) => i.message).join("; "));
  const { peer, proof } = parsed.data;
  const signedAt = await verifyAdminProof(c.env.RELAY_SECRET!, "revoke", `${group}/${peer}`, proof);
  if (signedAt === null) {
    return refuse(401, "invalid_proof", "Revocation needs the team secret: run `npm run -s token -- --revoke` with RELAY_SECRET set.");
  }
  // The cut-off is the moment the proof was signed, on the clock that also mints the peer's next
  // token, not the relay's clock: a token minted right after revoking works even if the clocks
  // differ, and a replayed proof changes nothing.
  const before = signedAt;
  const { closed } = await groupStub(c.env, group).revoke(peer, before);
  return c.json({ revoked: true, group, peer, before: new Date(before).toISOString(), sockets_closed: closed });
});

// The people's room: sign-in page, room page, its API and its socket (worker/web/routes.ts).
app.route("/", webApp);

// ---------------------------------------------------------------------------------------------
// Joining without a checkout: invites (worker/invite/routes.ts), the bridge bundle, and the
// read-only feed behind `relay-bridge tail`
// ---------------------------------------------------------------------------------------------

app.route("/", invites);
app.route("/", nameReservations);
app.route("/", bridgeDownload);
app.route("/", pluginMarketplace);
// Webhooks (a lead's) and the one-click answer pages their questions link to.
app.route("/", webhookRoutes);
app.route("/", answerPages);

/** What the caller may see after `after` (broadcasts, DMs to or from them), text included; marks nothing read. */
app.get("/groups/:group/feed", requireToken, async (c) => {
  const caller = c.get("caller");
  const group = c.req.param("group");
  const refused = refuseOtherGroup(caller, group);
  if (refused) return refused;
  const afterText = c.req.query("after");
  const limitText = c.req.query("limit") ?? "50";
  const after = afterText === undefined ? undefined : Number(afterText);
  const limit = Number(limitText);
  if ((after !== undefined && !(Number.isSafeInteger(after) && after >= 0)) || !(Number.isSafeInteger(limit) && limit >= 1 && limit <= FEED_MAX_LIMIT)) {
    return refuse(400, "invalid_query", `after must be a seq (a whole number, 0 or more); limit 1 to ${FEED_MAX_LIMIT}.`);
  }
  const outcome = await groupStub(c.env, group).feed(caller, after, limit);
  if (!outcome.ok) return refuse(401, "token_revoked", outcome.problem.message);
  return c.json(outcome.value);
});

app.notFound((c) =>
  refuse(404, "not_found", `No route ${c.req.method} ${new URL(c.req.url).pathname}. The relay serves /mcp, /groups/<group>/ws, /groups/<group>/feed, /invite/<code>, /bridge.mjs and /health.`),
);

app.onError((error, c) => {
  // Log the failure, never the request: headers carry tokens.
  console.error("unhandled error", c.req.method, new URL(c.req.url).pathname, error instanceof Error ? error.message : error);
  return Response.json({ error: "internal", message: "The relay hit an unexpected error; it has been logged. Try again." }, { status: 500 });
});

export default app satisfies ExportedHandler<Env>;

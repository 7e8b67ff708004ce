/**
 * Invites, end to end on the relay:
 *
 *   admin (proven with the team secret, see scripts/invite.ts):
 *     POST /groups/:group/invites              record an invite the secret holder signed
 *     POST /groups/:group/invites/list         every invite, with who joined with it
 *     POST /groups/:group/invites/:id/revoke   refuse it from now on
 *   the person invited:
 *     GET  /invite/:code                       the page: pick a name
 *     POST /invite/:code                       (its form) join, see the token once and the commands
 *     POST /invite/:code/join                  the same as JSON, for `relay-bridge join`
 *
 * The code's signature and expiry are checked here; uses, revocation and the name's availability
 * are decided by the group object, in one call that also reserves the name.
 */
import { Hono, type Context } from "hono";
import { z } from "zod";
import { verifyInvite, type InviteClaims } from "../../contract/invite.ts";
import { isValidName, NAME_RULE } from "../../contract/names.ts";
import { signToken, verifyAdminProof } from "../../contract/token.ts";
import { BRIDGE_FILE } from "../bridge-download.ts";
import { BRIDGE_SHA256 } from "../bridge-bundle.gen.ts";
import type { Env } from "../env.ts";
import { formPage, INVITE_CSP, INVITE_CSS, joinedPage, refusedPage, type Joined } from "./page.ts";

export const invites = new Hono<{ Bindings: Env }>();

function group(env: Env, name: string) {
  return env.GROUPS.get(env.GROUPS.idFromName(name));
}

function problem(status: 400 | 401 | 403 | 404 | 409, error: string, message: string): Response {
  return Response.json({ error, message }, { status });
}

async function jsonBody(c: Context): Promise<unknown> {
  try {
    return await c.req.json();
  } catch {
    return undefined;
  }
}

/** Downloads this relay's bridge: one file, runs on Node 20+, no checkout. */
function installCommand(base: string): string {
  return `mkdir -p ~/.local/bin && curl -fsSL ${base}/bridge.mjs -o ~/.local/bin/${BRIDGE_FILE} && chmod +x ~/.local/bin/${BRIDGE_FILE}`;
}

/**
 * Checks the downloaded bridge against the checksum of the one this relay serves, built in the
 * same build: it prints "OK", or fails and says the file differs. The checksum is written into the
 * command, so a copy of the page or a teammate's message pins exactly this bridge.
 */
function verifyCommand(): string {
  return `echo "${BRIDGE_SHA256}  $HOME/.local/bin/${BRIDGE_FILE}" | sha256sum -c`;
}

/** The commands a new peer runs, the same on the page and in the JSON answer `relay-bridge join` gets. */
export function commandsFor(base: string, token: string) {
  return {
    mcp_add: `claude mcp add --transport http relay ${base}/mcp --header "Authorization: Bearer ${token}"`,
    install: installCommand(base),
    verify: verifyCommand(),
    setup: `~/.local/bin/relay-bridge setup --url ${base} --token ${token}`,
  };
}

/** The relay's own base URL as the person reached it (the page's commands must point back here). */
function baseOf(c: Context): string {
  return new URL(c.req.url).origin;
}

// Admin ------------------------------------------------------------------------------------------

const AddBody = z.object({ invite: z.string().max(1000), proof: z.string().max(200) });
const ProofBody = z.object({ proof: z.string().max(200) });

async function adminProof(c: Context<{ Bindings: Env }>, action: string, target: string, proof: string): Promise<boolean> {
  return (await verifyAdminProof(c.env.RELAY_SECRET!, action, target, proof)) !== null;
}

const NEEDS_SECRET = "This needs the team secret: run `npm run -s invite -- …` with RELAY_SECRET set (the one this relay uses).";

invites.post("/groups/:group/invites", async (c) => {
  const name = c.req.param("group");
  const parsed = AddBody.safeParse(await jsonBody(c));
  if (!parsed.success) return problem(400, "invalid_body", 'Send JSON: {"invite": "<code>", "proof": "<admin proof>"}.');
  const verdict = await verifyInvite(c.env.RELAY_SECRET!, parsed.data.invite);
  if (!verdict.ok) return problem(400, "invalid_invite", verdict.reason);
  const claims = verdict.claims;
  if (claims.g !== name) return problem(400, "wrong_group", `The invite is for group '${claims.g}', not '${name}'.`);
  if (!(await adminProof(c, "invite", `${name}/${claims.i}`, parsed.data.proof))) return problem(401, "invalid_proof", NEEDS_SECRET);
  const record = await group(c.env, name).addInvite({ id: claims.i, maxUses: claims.n, observer: claims.o === 1, expiresAt: claims.exp });
  return c.json({ invite: record });
});

invites.post("/groups/:group/invites/list", async (c) => {
  const name = c.req.param("group");
  if (!isValidName(name)) return problem(400, "invalid_group", `Group name must be ${NAME_RULE}.`);
  const parsed = ProofBody.safeParse(await jsonBody(c));
  if (!parsed.success || !(await adminProof(c, "invite-list", name, parsed.data.proof))) return problem(401, "invalid_proof", NEEDS_SECRET);
  return c.json({ group: name, invites: await group(c.env, name).listInvites() });
});

invites.post("/groups/:group/invites/:id/revoke", async (c) => {
  const { group: name, id } = c.req.param();
  if (!isValidName(name)) return problem(400, "invalid_group", `Group name must be ${NAME_RULE}.`);
  const parsed = ProofBody.safeParse(await jsonBody(c));
  if (!parsed.success || !(await adminProof(c, "invite-revoke", `${name}/${id}`, parsed.data.proof))) return problem(401, "invalid_proof", NEEDS_SECRET);
  const outcome = await group(c.env, name).revokeInvite(id);
  if (!outcome.ok) return problem(404, outcome.problem.code, outcome.problem.message);
  return c.json({ invite: outcome.value });
});

// The person invited -----------------------------------------------------------------------------

/** Refusals of the name, not of the invite: the person may try again with another name. */
const NAME_REFUSALS: ReadonlySet<string> = new Set(["name_taken", "name_confusable"]);

type Redeemed =
  | { ok: true; joined: Joined & { base: string } }
  | { ok: false; status: 400 | 403 | 409; error: string; message: string; claims?: InviteClaims };

/** Checks the code, takes one use for `name` and signs the new peer's token. */
async function redeem(c: Context<{ Bindings: Env }>, code: string, name: unknown): Promise<Redeemed> {
  const verdict = await verifyInvite(c.env.RELAY_SECRET!, code);
  if (!verdict.ok) return { ok: false, status: 403, error: "invite_refused", message: `${verdict.reason[0]!.toUpperCase()}${verdict.reason.slice(1)}.` };
  const claims = verdict.claims;
  if (typeof name !== "string" || !isValidName(name)) {
    return { ok: false, status: 400, error: "invalid_name", message: `A peer name must be ${NAME_RULE}.`, claims };
  }
  const outcome = await group(c.env, claims.g).redeemInvite(claims.g, claims.i, name);
  if (!outcome.ok) {
    const status = NAME_REFUSALS.has(outcome.problem.code) ? 409 : 403;
    return { ok: false, status, error: outcome.problem.code, message: outcome.problem.message, claims };
  }
  const observer = outcome.value.observer;
  const iat = Math.max(Date.now(), outcome.value.issuedAfter);
  const token = await signToken(c.env.RELAY_SECRET!, { g: claims.g, p: name, iat, ...(observer ? { r: "observer" as const } : {}) });
  const base = baseOf(c);
  const commands = commandsFor(base, token);
  return {
    ok: true,
    joined: { base, group: claims.g, peer: name, observer, token, mcpAdd: commands.mcp_add, install: commands.install, verify: commands.verify, sha256: BRIDGE_SHA256, setup: commands.setup },
  };
}

function pageHeaders(c: Context): void {
  c.header("Content-Security-Policy", INVITE_CSP);
  // The URL holds the invite and the page may hold a token: never cached, never sent as a referrer
  // to another site. Not "no-referrer": with it, browsers send the form POST with `Origin: null`,
  // which the DNS-rebinding guard rightly refuses.
  c.header("Cache-Control", "no-store");
  c.header("Referrer-Policy", "same-origin");
  c.header("X-Content-Type-Options", "nosniff");
}

/** What the form page offers for a terminal: install the bridge, then join with this very link. */
function terminalCommands(c: Context): { install: string; verify: string; join: string } {
  const url = new URL(c.req.url);
  return { install: installCommand(url.origin), verify: verifyCommand(), join: `'${url.origin}${url.pathname}'` };
}

invites.get("/invite.css", (c) => {
  c.header("Cache-Control", "public, max-age=3600");
  return c.body(INVITE_CSS, 200, { "Content-Type": "text/css; charset=utf-8" });
});

invites.get("/invite/:code", async (c) => {
  pageHeaders(c);
  const verdict = await verifyInvite(c.env.RELAY_SECRET!, c.req.param("code"));
  if (!verdict.ok) return c.html(refusedPage("This invite cannot be used", `${verdict.reason}.`), 403);
  const refused = await group(c.env, verdict.claims.g).checkInvite(verdict.claims.i);
  if (refused) return c.html(refusedPage("This invite cannot be used", refused.message), 403);
  return c.html(formPage(verdict.claims.g, verdict.claims.o === 1, terminalCommands(c)));
});

invites.post("/invite/:code", async (c) => {
  pageHeaders(c);
  const form = await c.req.parseBody().catch(() => ({}) as Record<string, unknown>);
  const name = typeof form.name === "string" ? form.name.trim() : "";
  const result = await redeem(c, c.req.param("code"), name);
  if (result.ok) return c.html(joinedPage(result.joined));
  // A bad or taken name: the form again, saying why. A refused invite: only why.
  if (result.claims && (result.error === "invalid_name" || NAME_REFUSALS.has(result.error))) {
    return c.html(formPage(result.claims.g, result.claims.o === 1, terminalCommands(c), result.message, name), result.status);
  }
  return c.html(refusedPage("This invite cannot be used", result.message), result.status);
});

invites.post("/invite/:code/join", async (c) => {
  c.header("Cache-Control", "no-store");
  const body = (await jsonBody(c)) as { name?: unknown } | undefined;
  const result = await redeem(c, c.req.param("code"), body?.name);
  if (!result.ok) return problem(result.status, result.error, result.message);
  const j = result.joined;
  return c.json({
    relay_url: j.base,
    group: j.group,
    peer: j.peer,
    observer: j.observer,
    token: j.token,
    bridge_sha256: j.sha256,
    ...commandsFor(j.base, j.token),
  });
});

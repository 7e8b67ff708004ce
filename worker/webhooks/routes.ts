/**
 * /groups/:group/webhooks: a lead adds, lists and removes the group's webhooks (the CLI's
 * `relay-bridge webhook`). Authorised by the peer token as every group route is; the group object
 * refuses anyone but a lead with a sentence that says how to get a lead's token.
 */
import { type Context, Hono } from "hono";
import { bearerToken, verifyToken } from "../../contract/token.ts";
import { isValidName, NAME_RULE } from "../../contract/names.ts";
import type { Env } from "../env.ts";
import type { Caller, Problem } from "../types.ts";
import { WebhookAddInput } from "../group/webhooks/schemas.ts";

export const webhookRoutes = new Hono<{ Bindings: Env }>();

function refuse(status: 400 | 401 | 403 | 404 | 429, error: string, message: string): Response {
  return Response.json({ error, message }, { status });
}

const STATUS_OF: Partial<Record<Problem["code"], 400 | 401 | 403 | 404 | 429>> = {
  forbidden: 403,
  revoked: 401,
  not_found: 404,
  invalid_input: 400,
  quota_exceeded: 429,
};

function problemResponse(problem: Problem): Response {
  return refuse(STATUS_OF[problem.code] ?? 400, problem.code, problem.message);
}

/** The caller for this group's route, or the refusal. */
async function callerFor(c: Context<{ Bindings: Env }>): Promise<Caller | Response> {
  const token = bearerToken(c.req.header("Authorization"));
  if (!token) return refuse(401, "missing_token", "Send a lead's token as `Authorization: Bearer <token>`.");
  const verdict = await verifyToken(c.env.RELAY_SECRET!, token);
  if (!verdict.ok) return refuse(401, "invalid_token", `Token refused: ${verdict.reason}. Ask your team for a new token.`);
  const { g: group, p: peer, iat, exp, r: role } = verdict.claims;
  const wanted = c.req.param("group")!;
  if (!isValidName(wanted)) return refuse(400, "invalid_group", `Group name must be ${NAME_RULE}.`);
  if (wanted !== group) return refuse(403, "wrong_group", `Your token is for group '${group}', not '${wanted}': ask for a token for '${wanted}'.`);
  return { group, peer, iat, ...(exp !== undefined && { exp }), ...(role !== undefined && { role }) };
}

function stub(env: Env, group: string) {
  return env.GROUPS.get(env.GROUPS.idFromName(group));
}

webhookRoutes.post("/groups/:group/webhooks", async (c) => {
  const caller = await callerFor(c);
  if (caller instanceof Response) return caller;
  const body: unknown = await c.req.json().catch(() => undefined);
  const parsed = WebhookAddInput.safeParse(body);
  if (!parsed.success) {
    return refuse(400, "invalid_body", `${parsed.error.issues.map((i) => i.message).join("; ")}. Send JSON: {"url": "https://...", "peers": ["name"], "events": ["question"], "format": "json"}.`);
  }
  const added = await stub(c.env, caller.group).addWebhook(caller, parsed.data, new URL(c.req.url).origin);
  return added.ok ? c.json(added.value, 201) : problemResponse(added.problem);
});

webhookRoutes.get("/groups/:group/webhooks", async (c) => {
  const caller = await callerFor(c);
  if (caller instanceof Response) return caller;
  const listed = await stub(c.env, caller.group).listWebhooks(caller);
  return listed.ok ? c.json({ webhooks: listed.value }) : problemResponse(listed.problem);
});

webhookRoutes.delete("/groups/:group/webhooks/:id", async (c) => {
  const caller = await callerFor(c);
  if (caller instanceof Response) return caller;
  const removed = await stub(c.env, caller.group).removeWebhook(caller, c.req.param("id"));
  return removed.ok ? c.json(removed.value) : problemResponse(removed.problem);
});

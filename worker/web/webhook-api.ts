/**
 * The room's webhooks panel, for leads: the same add, list and remove as `relay-bridge webhook`,
 * under /g/:group/api/ (mounted on the room's app, so its sign-in and same-origin checks apply).
 * The group object refuses anyone but a lead.
 */
import { Hono } from "hono";
import type { Env } from "../env.ts";
import { WebhookAddInput } from "../group/webhooks/schemas.ts";
import type { Caller, Outcome, Problem } from "../types.ts";

export const webhookApi = new Hono<{ Bindings: Env; Variables: { caller: Caller } }>();

const STATUS: Partial<Record<Problem["code"], 400 | 401 | 403 | 404 | 429>> = { revoked: 401, forbidden: 403, not_found: 404, quota_exceeded: 429 };

function answer<T>(outcome: Outcome<T>, status: 200 | 201 = 200): Response {
  const headers = { "Cache-Control": "no-store" };
  if (outcome.ok) return Response.json(outcome.value, { status, headers });
  return Response.json({ error: outcome.problem.code, message: outcome.problem.message }, { status: STATUS[outcome.problem.code] ?? 400, headers });
}

function stub(env: Env, group: string) {
  return env.GROUPS.get(env.GROUPS.idFromName(group));
}

webhookApi.get("/g/:group/api/webhooks", async (c) => {
  const caller = c.get("caller");
  return answer(await stub(c.env, caller.group).listWebhooks(caller));
});

webhookApi.post("/g/:group/api/webhooks", async (c) => {
  const caller = c.get("caller");
  const parsed = WebhookAddInput.safeParse(await c.req.json().catch(() => null));
  if (!parsed.success) return Response.json({ error: "invalid_input", message: parsed.error.issues.map((i) => i.message).join("; ") }, { status: 400 });
  return answer(await stub(c.env, caller.group).addWebhook(caller, parsed.data, new URL(c.req.url).origin), 201);
});

webhookApi.post("/g/:group/api/webhooks/remove", async (c) => {
  const caller = c.get("caller");
  const body = (await c.req.json().catch(() => null)) as { id?: unknown } | null;
  if (typeof body?.id !== "string") return Response.json({ error: "invalid_input", message: 'Send JSON: {"id": "wh_..."}.' }, { status: 400 });
  return answer(await stub(c.env, caller.group).removeWebhook(caller, body.id));
});

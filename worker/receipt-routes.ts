/**
 * The HTTP side of read receipts and mid-turn mail, for hooks and the web room:
 *
 * - GET  /groups/:group/pressing  unread urgent mail and questions to the caller (ids, names,
 *   kinds, never text): what the PostToolUse hook asks, marks nothing read.
 * - POST /groups/:group/announced a hook printed a line about this mail: `{"seqs":[..]}` and/or
 *   `{"through_seq":N}`; recorded as announced for the caller.
 * - GET  /g/:group/api/read-marks?seqs=1,2,3  the web room's read marks on the person's own messages.
 *
 * The token routes are mounted behind index.ts's requireToken, the page route behind the room's
 * requirePerson; each handler checks only what is its own.
 */
import type { Context } from "hono";
import { MAX_RECEIPT_RECIPIENTS } from "../contract/limits.ts";
import type { Env } from "./env.ts";
import type { Caller } from "./types.ts";
import { AnnouncedReport } from "./group/receipts/schemas.ts";

type Ctx = Context<{ Bindings: Env; Variables: { caller: Caller } }>;

function refuse(status: 400 | 401 | 403, error: string, message: string): Response {
  return Response.json({ error, message }, { status, headers: { "Cache-Control": "no-store" } });
}

function groupOf(c: Ctx): { caller: Caller; stub: ReturnType<Env["GROUPS"]["get"]> } | Response {
  const caller = c.get("caller");
  const group = c.req.param("group") ?? "";
  if (group !== caller.group) return refuse(403, "wrong_group", `Your token is for group '${caller.group}', not '${group}': ask for a token for '${group}'.`);
  return { caller, stub: c.env.GROUPS.get(c.env.GROUPS.idFromName(group)) };
}

export async function pressingRoute(c: Ctx): Promise<Response> {
  const found = groupOf(c);
  if (found instanceof Response) return found;
  const outcome = await found.stub.pressingMail(found.caller);
  if (!outcome.ok) return refuse(401, "token_revoked", outcome.problem.message);
  return Response.json({ peer: found.caller.peer, pressing: outcome.value }, { headers: { "Cache-Control": "no-store" } });
}

export async function announcedRoute(c: Ctx): Promise<Response> {
  const found = groupOf(c);
  if (found instanceof Response) return found;
  const parsed = AnnouncedReport.safeParse(await c.req.json().catch(() => null));
  if (!parsed.success) return refuse(400, "invalid_body", `Send JSON {"seqs":[N,...]} and/or {"through_seq":N}: ${parsed.error.issues.map((i) => i.message).join("; ")}.`);
  const outcome = await found.stub.markAnnounced(found.caller, parsed.data);
  if (!outcome.ok) return refuse(outcome.problem.code === "revoked" ? 401 : 400, outcome.problem.code, outcome.problem.message);
  return Response.json(outcome.value);
}

export async function readMarksRoute(c: Ctx): Promise<Response> {
  const caller = c.get("caller");
  const text = c.req.query("seqs") ?? "";
  const seqs = text === "" ? [] : text.split(",").map(Number);
  if (seqs.length > MAX_RECEIPT_RECIPIENTS || !seqs.every((s) => Number.isSafeInteger(s) && s >= 0)) {
    return refuse(400, "invalid_query", `seqs is a comma-separated list of at most ${MAX_RECEIPT_RECIPIENTS} message seqs.`);
  }
  const outcome = await c.env.GROUPS.get(c.env.GROUPS.idFromName(caller.group)).readMarks(caller, seqs);
  if (!outcome.ok) return refuse(401, outcome.problem.code, outcome.problem.message);
  return Response.json({ marks: outcome.value }, { headers: { "Cache-Control": "no-store" } });
}

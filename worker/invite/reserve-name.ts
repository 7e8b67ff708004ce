/**
 * Reserving a name from invites, for the secret holder's token script:
 *
 *   POST /groups/:group/names   {"name", "role": "peer"|"observer"|"lead", "expires_at": ms|null, "proof"}
 *
 * scripts/token.ts calls it whenever it mints with --url, so that no invite can take the name
 * (and void the token) before the token's holder first uses it. The proof covers the group, the
 * name, the role and the expiry (contract/token.ts, nameReservationTarget). The rules are the
 * group's: worker/group/invites/reserved-names.ts.
 */
import { Hono } from "hono";
import { z } from "zod";
import { isValidName, NAME_RULE } from "../../contract/names.ts";
import { NAME_ROLES, nameReservationTarget, verifyAdminProof } from "../../contract/token.ts";
import type { Env } from "../env.ts";

export const nameReservations = new Hono<{ Bindings: Env }>();

const ReserveBody = z.object({
  name: z.string().refine(isValidName, `name must be ${NAME_RULE}`),
  role: z.enum(NAME_ROLES),
  // At most the last moment a Date can show, so the answer can always print it.
  expires_at: z.number().int().positive().max(8.64e15).nullable(),
  proof: z.string().max(200),
});

function problem(status: 400 | 401, error: string, message: string): Response {
  return Response.json({ error, message }, { status });
}

nameReservations.post("/groups/:group/names", async (c) => {
  const group = c.req.param("group");
  if (!isValidName(group)) return problem(400, "invalid_group", `Group name must be ${NAME_RULE}.`);
  const parsed = ReserveBody.safeParse(await c.req.json().catch(() => undefined));
  if (!parsed.success) {
    return problem(400, "invalid_body", 'Send JSON: {"name": "<peer>", "role": "peer" | "observer" | "lead", "expires_at": <epoch ms> | null, "proof": "<admin proof>"}.');
  }
  const { name, role, expires_at: expiresAt, proof } = parsed.data;
  if ((await verifyAdminProof(c.env.RELAY_SECRET!, "reserve-name", nameReservationTarget(group, name, role, expiresAt), proof)) === null) {
    return problem(401, "invalid_proof", "Reserving a name needs the team secret: mint with `npm run -s token -- … --url <relay>` and RELAY_SECRET set (the one this relay uses).");
  }
  const reservation = await c.env.GROUPS.get(c.env.GROUPS.idFromName(group)).reserveName(group, name, role, expiresAt);
  return c.json({ reservation });
});

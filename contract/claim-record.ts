/**
 * A claim and the guards' view of the group's claims as they cross the wire (the relay's answer
 * to GET /groups/:group/claims, the bridge's cache file). zod's "mini" build, like frames.ts: the
 * bridge's guards load it on every edit and commit.
 */
import * as z from "zod/mini";
import type { Claim } from "./claim-rules.ts";

export const ClaimRecord = z.object({
  peer: z.string(),
  repo: z.nullable(z.string()),
  pattern: z.string(),
  exclusive: z.boolean(),
  reason: z.optional(z.string()),
  claimed_at: z.string(),
  expires_at: z.string(),
});

/** Who is asking (the token's peer: its own claims never block it) and the group's live claims. */
export const ClaimsViewRecord = z.object({ peer: z.string(), claims: z.array(ClaimRecord) });

// The record and claim-rules' Claim describe one shape; this stops them drifting apart.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const sameShape: Same<z.infer<typeof ClaimRecord>, Claim> = true;
void sameShape;

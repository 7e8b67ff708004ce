/**
 * Path claims: claim_paths, release_paths and list_claims. A claim tells the other sessions (and
 * the bridge's guards on their machines) that these files are being changed; the guards then
 * refuse their edits, discarding git commands and commits there, naming the holder.
 *
 * When a claim is refused, `notify: true` sends each holder a DM saying who ran into which of
 * their claims and why, so the holder hears of it without the asker writing the message; without
 * it the result tells the model how to ask them itself.
 */
import { z } from "zod";
import { type ClaimConflict, ClaimPathsInput, compactClaim, describeClaim, ListClaimsInput, ReleasePathsInput } from "../../contract/claims.ts";
import { NAME_PATTERN, NAME_RULE } from "../../contract/names.ts";
import type { Caller } from "../types.ts";
import { plural, problem, result, settle } from "./render.ts";
import { defineTool, type GroupStub, READ_ONLY, RELAY, WRITES } from "./tool.ts";

const ClaimPathsToolInput = ClaimPathsInput.extend({
  notify: z
    .boolean()
    .default(false)
    .describe("DM each holder whose claim refused you"),
});

const ReleasePathsToolInput = ReleasePathsInput.extend({
  peer: z
    .string()
    .regex(NAME_PATTERN, `peer must be ${NAME_RULE}`)
    .optional()
    .describe("lead only: a peer quiet for 30 min"),
});

const compactConflict = (c: ClaimConflict) => ({ requested: c.requested, ...compactClaim(c.claim) });

/** One DM per holder: which of their claims the caller ran into, and with what purpose. */
async function notifyHolders(group: GroupStub, caller: Caller, conflicts: readonly ClaimConflict[], reason: string | undefined): Promise<string[]> {
  const byHolder = new Map<string, string[]>();
  for (const { requested, claim } of conflicts) {
    const wanted = byHolder.get(claim.peer) ?? [];
    wanted.push(`${requested} (inside your ${claim.pattern})`);
    byHolder.set(claim.peer, wanted);
  }
  const told: string[] = [];
  for (const [holder, wanted] of byHolder) {
    const text = `[claims] ${caller.peer} tried to claim ${wanted.join(", ")}${reason ? ` to ${JSON.stringify(reason)}` : ""} and was refused because of your claim. If you are done there, release it with release_paths; otherwise tell ${caller.peer} when it will be free.`;
    const sent = await group.send(caller, { text, to: holder, kind: "dm" });
    if (sent.ok) told.push(holder);
  }
  return told;
}

export const claimPaths = defineTool({
  name: "claim_paths",
  description: `${RELAY} Claim files before editing files another session may touch: their guards then refuse edits, discarding git commands and commits there. Exclusive, 60 min by default; claiming again renews. Returns what was granted and every claim in the way (holder, reason, expiry). release_paths when done.`,
  inputSchema: ClaimPathsToolInput,
  annotations: { ...WRITES, idempotentHint: true },
  observers: false,
  handler: async ({ caller, group }, { notify, ...input }) => {
    const stub = group();
    const outcome = await stub.claimPaths(caller, input);
    if (!outcome.ok) return problem(outcome.problem.message, outcome.problem.code);
    const { granted, conflicts, advice } = outcome.value;
    const told = notify && conflicts.length > 0 ? await notifyHolders(stub, caller, conflicts, input.reason) : [];
    const head = granted.length === 0 ? "Nothing was claimed." : `Claimed ${granted.map((c) => c.pattern).join(", ")} until ${granted[0]!.expires_at}.`;
    const tail = told.length > 0 ? ` ${told.join(" and ")} ${told.length === 1 ? "was" : "were"} sent a DM saying you need it.` : conflicts.length > 0 ? " (notify: true would DM the holders for you.)" : "";
    return result(`${head}${advice ? ` ${advice}` : ""}${tail}`, {
      granted: granted.map(compactClaim),
      ...(conflicts.length > 0 && { conflicts: conflicts.map(compactConflict), advice }),
      ...(told.length > 0 && { notified: told }),
    });
  },
});

export const releasePaths = defineTool({
  name: "release_paths",
  description: `${RELAY} Release your path claims when done: patterns as claimed, or all of yours without paths. A lead may name a quiet peer.`,
  inputSchema: ReleasePathsToolInput,
  annotations: { ...WRITES, idempotentHint: true },
  observers: false,
  handler: async ({ caller, group }, { paths, peer }) =>
    settle(await group().releasePaths(caller, paths, peer), ({ released, not_held }) =>
      result(
        `Released ${released.length === 0 ? "nothing (no live claims were held)" : released.map((c) => c.pattern).join(", ")}${peer && peer !== caller.peer ? ` held by ${peer}` : ""}.${not_held ? ` Not held: ${not_held.join(", ")}.` : ""}`,
        { released: released.map(compactClaim), ...(not_held && { not_held }) },
      ),
    ),
});

export const listClaims = defineTool({
  name: "list_claims",
  description: `${RELAY} Who holds which files, until when and why: check before editing files another session may touch.`,
  inputSchema: ListClaimsInput,
  annotations: READ_ONLY,
  observers: true,
  handler: async ({ caller, group }, filter) =>
    settle(await group().listClaims(caller, filter), (claims) => {
      const now = Date.now();
      const text = claims.length === 0 ? "No live claims." : `${plural(claims.length, "live claim")}:\n${claims.map((c) => describeClaim(c, now)).join("\n")}`;
      return result(text, { claims: claims.map(compactClaim) });
    }),
});

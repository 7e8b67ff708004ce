/**
 * Path claims: the inputs of claim_paths, release_paths and list_claims, declared once with zod,
 * and the shape of a claim as the relay answers it. The rules themselves (globs, overlap, repository
 * names, conflicts, renewal) live in claim-rules.ts and claim-globs.ts, which import nothing but
 * each other and limits.ts, so the bridge's guards can load them alone; they are re-exported here
 * for the relay's side. The limits are in limits.ts.
 *
 * A path is a glob relative to the repository root (see claim-globs.ts for what `*`, `**`, `?` and
 * `[…]` mean and how a directory covers what is under it). `repo` is the normalised origin
 * (`git remote get-url origin`, e.g. `github.com/acme/app`); a claim without one covers that path
 * in every repository of the group.
 */
import { z } from "zod";
import { claimPatternProblem, normaliseRepo } from "./claim-rules.ts";
import { DEFAULT_CLAIM_TTL_MINUTES, MAX_CLAIM_PATHS, MAX_CLAIM_REASON_LENGTH, MAX_CLAIM_TTL_MINUTES, MAX_REPO_LENGTH } from "./limits.ts";
import { NAME_PATTERN, NAME_RULE } from "./names.ts";

export * from "./claim-rules.ts";
export { ClaimRecord, ClaimsViewRecord } from "./claim-record.ts";

/** One glob, checked with a message that says how to write it instead. */
export const ClaimPattern = z.string().superRefine((text, ctx) => {
  const problem = claimPatternProblem(text);
  if (problem !== null) ctx.addIssue({ code: "custom", message: problem });
});

export const RepoName = z
  .string()
  .max(MAX_REPO_LENGTH, `repo is at most ${MAX_REPO_LENGTH} characters`)
  .refine((text) => normaliseRepo(text) !== null, "repo must name a repository: the output of `git remote get-url origin`, or its short form like github.com/acme/app")
  .describe("`git remote get-url origin`; omit for every repository");

const paths = (what: string) =>
  z
    .array(ClaimPattern)
    .min(1, `paths must name at least one path; ${what}`)
    .max(MAX_CLAIM_PATHS, `at most ${MAX_CLAIM_PATHS} paths per call: claim a directory that holds them instead`);

export const ClaimPathsInput = z.object({
  paths: paths("for example [\"src/api/**\"]").describe("globs from the repository root (src/api/**, docs/*.md); a directory covers its contents"),
  ttl_minutes: z
    .number()
    .int("ttl_minutes must be a whole number")
    .min(1, "ttl_minutes is at least 1")
    .max(MAX_CLAIM_TTL_MINUTES, `ttl_minutes is at most ${MAX_CLAIM_TTL_MINUTES} (a day); claim again later to renew`)
    .default(DEFAULT_CLAIM_TTL_MINUTES)
    .describe("claiming again renews"),
  exclusive: z.boolean().default(true).describe("false: shared with other shared claims"),
  reason: z.string().max(MAX_CLAIM_REASON_LENGTH, `reason is at most ${MAX_CLAIM_REASON_LENGTH} characters`).optional().describe("shown to whoever runs into the claim"),
  repo: RepoName.optional(),
});

export const ReleasePathsInput = z.object({
  paths: paths("leave paths out to release all of your claims").optional().describe("patterns as claimed; omit for all of yours"),
});

export const ListClaimsInput = z.object({
  repo: RepoName.optional(),
  peer: z.string().regex(NAME_PATTERN, `peer must be ${NAME_RULE}`).optional(),
});

export type ClaimPathsRequest = z.output<typeof ClaimPathsInput>;
export type ReleasePathsRequest = z.output<typeof ReleasePathsInput>;
export type ListClaimsRequest = z.output<typeof ListClaimsInput>;

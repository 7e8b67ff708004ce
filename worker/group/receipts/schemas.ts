/** Inputs of the receipts feature: message_status, and what a hook reports it announced. */
import { z } from "zod";
import { MAX_ANNOUNCED_SEQS, MAX_ID_LENGTH } from "../../../contract/limits.ts";

export const MessageStatusInput = z.object({
  id: z
    .string()
    .min(1, "an id must not be empty")
    .max(MAX_ID_LENGTH, `ids are at most ${MAX_ID_LENGTH} characters`)
    .describe("id of a message you sent (m_...), as your send returned it"),
});

const seq = z.int().check(z.nonnegative());

/** POST /groups/:group/announced: what a hook just told its session about. */
export const AnnouncedReport = z
  .object({
    seqs: z.array(seq).max(MAX_ANNOUNCED_SEQS).optional(),
    through_seq: seq.optional(),
  })
  .refine((r) => r.seqs !== undefined || r.through_seq !== undefined, "name seqs, through_seq or both");

/**
 * The peers feature's inputs, declared once with zod (the tools validate with these), and the
 * values it answers with. Every bound carries a message that says what to do, not zod's generic one.
 */
import { z } from "zod";
import { MAX_PROFILE_FIELD_LENGTH } from "../../../contract/limits.ts";
import { NAME_PATTERN, NAME_RULE } from "../../../contract/names.ts";

/** The naming rule as a schema, with an error message that quotes it. */
export function nameSchema(what: string) {
  return z.string().regex(NAME_PATTERN, `${what} must be ${NAME_RULE}`);
}

const profileField = z.string().max(MAX_PROFILE_FIELD_LENGTH, `must be at most ${MAX_PROFILE_FIELD_LENGTH} characters`).optional();

export const RegisterInput = z.object({
  summary: profileField.describe("what you are working on"),
  hostname: profileField,
  cwd: profileField,
  branch: profileField,
  client: z
    .string()
    .regex(/^[a-z0-9][a-z0-9.-]{0,31}$/, "client must be a short lowercase word such as claude-code, codex or gemini")
    .optional()
    .describe("the agent program this session runs (set by the relay's setup; kept when a later register leaves it out)"),
});

/** What a peer says about itself; the register tool's input. */
export type Profile = z.output<typeof RegisterInput>;

export interface PeerInfo {
  name: string;
  profile: Profile;
  online: boolean;
  first_seen: string;
  last_seen: string;
  /** Present (true) when this peer is an observer: it reads every message, DMs included. */
  observer?: true;
}

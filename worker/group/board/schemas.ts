/** The shared board's inputs, declared once with zod (see peers/schemas.ts), and its entries. */
import { z } from "zod";
import { MAX_STATE_KEY_PREFIX_LENGTH } from "../../../contract/limits.ts";
import { nameSchema } from "../peers/schemas.ts";

/**
 * z.json() with a message: z.json()'s own union says only "Invalid input" when the value is
 * missing, which does not tell a model what to do. Same JSON Schema as z.json().
 */
const jsonValue: z.ZodType<z.core.util.JSONType> = z.lazy(() =>
  z.union([z.string(), z.number(), z.boolean(), z.null(), z.array(jsonValue), z.record(z.string(), jsonValue)], {
    error: "value is required: any JSON value (null removes the key)",
  }),
);

export const SetStateInput = z.object({ key: nameSchema("key"), value: jsonValue });

export const GetStateInput = z.object({
  key: nameSchema("key").optional(),
  prefix: z.string().max(MAX_STATE_KEY_PREFIX_LENGTH, `prefix is at most ${MAX_STATE_KEY_PREFIX_LENGTH} characters`).optional(),
});

export interface StateEntry {
  key: string;
  /** The value as JSON text (kept as text so it crosses the RPC boundary untouched). */
  value_json?: string;
  updated_by: string;
  updated_at: string;
}

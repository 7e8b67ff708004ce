/** Chains' values as the tools, the room's routes and the CLI take and return them. */
import { z } from "zod";

/** A chain id as a person types it (`relay-bridge continue 12`) or a route carries it. */
export const ChainId = z.coerce
  .number({ error: "a chain id is a whole number, as `relay-bridge chains` lists it" })
  .int("a chain id is a whole number, as `relay-bridge chains` lists it")
  .positive("a chain id is 1 or more")
  .max(Number.MAX_SAFE_INTEGER);

/** Added to a send's result when its chain is near its budget, so a model stops before the hold. */
export interface ChainNote {
  chain: number;
  agent_messages: number;
  budget: number;
  note: string;
}

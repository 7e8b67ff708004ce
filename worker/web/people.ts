/**
 * What a role or a pause forbids: an observer reads everything and sends nothing; while a lead has
 * paused the group, everyone but a lead is refused writes (messages and board changes).
 */
import type { Caller, Problem } from "../types.ts";
import type { PauseInfo } from "./frames.ts";

export function writeRefusal(pause: PauseInfo | null, who: Caller): Problem | null {
  if (who.role === "observer") {
    return {
      code: "read_only",
      message: `You are an observer in group '${who.group}': observers read everything and send nothing. Ask for a peer token to take part.`,
    };
  }
  if (pause && who.role !== "lead") {
    return { code: "paused", message: `the group is paused by ${pause.by}: ${pause.reason}` };
  }
  return null;
}

/**
 * What one relay tool is: its name, what the model reads about it, its input (a zod schema from
 * inputs.ts), its annotations, who may call it, and a handler that turns a validated input into a
 * tool result. The SDK server (server.ts) and the fast lane (fast-lane.ts) both serve this one
 * table, so the two cannot offer different tools or answer differently.
 */
import type { z } from "zod";
import type { Env } from "../env.ts";
import type { Caller } from "../types.ts";
import type { Handover } from "./handover.ts";
import type { ToolResult } from "./render.ts";

/** A stub for the caller's group object. */
export type GroupStub = ReturnType<Env["GROUPS"]["get"]>;

export interface ToolContext {
  caller: Caller;
  /** A fresh stub per call: a stub that saw its object restart can stay broken. */
  group: () => GroupStub;
  /** Collects the seqs of mail this request hands to its client (handover.ts). */
  handover: Handover;
}

export interface RelayTool<Input extends z.ZodObject = z.ZodObject> {
  name: string;
  description: string;
  inputSchema: Input;
  annotations: ToolAnnotations;
  /** Observer tokens are offered only the tools that read. */
  observers: boolean;
  handler: (ctx: ToolContext, input: z.output<Input>) => Promise<ToolResult>;
}

interface ToolAnnotations {
  readOnlyHint: boolean;
  destructiveHint: boolean;
  idempotentHint?: boolean;
  openWorldHint: boolean;
}

/** Keeps each entry's handler typed by its own schema while the table holds them all. */
export function defineTool<Input extends z.ZodObject>(tool: RelayTool<Input>): RelayTool {
  return tool as unknown as RelayTool;
}

/** Prepended where a model might confuse these tools with Claude Code's own agent messaging. */
export const RELAY = "Team relay (other Claude Code sessions on other machines; not Claude Code's built-in SendMessage).";

/** Tools that only read: Claude Code may run them without asking, and in parallel. */
export const READ_ONLY = { readOnlyHint: true, destructiveHint: false, openWorldHint: false } as const;
/** Tools that write to the group but never destroy anything already there. */
export const WRITES = { readOnlyHint: false, destructiveHint: false, openWorldHint: false } as const;

export function toolContext(env: Env, caller: Caller, handover: Handover): ToolContext {
  return { caller, group: () => env.GROUPS.get(env.GROUPS.idFromName(caller.group)), handover };
}

/**
 * Every tool's input. Each is declared once, with zod, by the group feature that owns it (the
 * group's types derive from the same schemas); the MCP server validates with them. Built once per
 * isolate: the stateless handler builds a fresh server for every request, and constructing these
 * schemas was most of that cost.
 */
import { z } from "zod";

export { nameSchema, RegisterInput } from "../group/peers/schemas.ts";
export { AskPeerInput, GetHistoryInput, ReadNewMessagesInput, SendDmInput, SendMessageInput, WaitForMessagesInput } from "../group/mail/schemas.ts";
export { GetStateInput, SetStateInput } from "../group/board/schemas.ts";

export const NoInput = z.object({});

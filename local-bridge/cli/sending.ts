/**
 * How the CLI sends and reads so that neither a lost answer nor a killed process costs a message
 * or doubles one.
 *
 * Sending: every send, dm and ask carries an idempotency_key made once per invocation. If the
 * connection fails before the relay's answer arrives (the send may be stored already), the CLI
 * tries again with the same key, and the relay answers with the first result instead of storing
 * the message twice. Running the command again is a new message with a new key.
 *
 * Reading: `read` asks for mail with `ack`, so the relay does not count it as read when its answer
 * is written; once the mail is printed, a second call (limit 0, ack = the batch's `through`)
 * confirms it. A CLI killed before confirming leaves the mail unread: it comes again (the relay
 * keeps it out of other reads for a short lease first).
 */
import { randomUUID } from "node:crypto";
import type { RelayTarget } from "../core/config.ts";
import { callTool, RelayUnreachable, type ToolResult } from "../core/relay-api.ts";

/** Waits before the second and third attempt of a send whose answer did not arrive. */
export const SEND_RETRY_DELAYS_MS = [1_000, 3_000];

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** One send (send_message, send_dm, ask_peer) under one idempotency key, retried while the relay cannot be reached. */
export async function sendIdempotently<T>(target: RelayTarget, tool: string, args: Record<string, unknown>, note: (line: string) => void): Promise<ToolResult<T>> {
  const keyed = { ...args, idempotency_key: randomUUID() };
  for (let attempt = 0; ; attempt++) {
    try {
      return await callTool<T>(target, tool, keyed);
    } catch (error) {
      const delay = SEND_RETRY_DELAYS_MS[attempt];
      if (!(error instanceof RelayUnreachable) || !error.transient || delay === undefined) throw error;
      note(`${error.message}; trying again in ${delay / 1000} s with the same idempotency key (the relay stores the message once)`);
      await sleep(delay);
    }
  }
}

export interface Inbox<M> {
  messages: M[];
  remaining: number;
  through?: number;
}

/** Unread mail, handed over but not yet read: call `confirm` once it has been shown. */
export async function readUnconfirmed<M>(target: RelayTarget, limit: number | undefined): Promise<Inbox<M>> {
  // ack 0 confirms nothing; it says this client confirms for itself.
  const inbox = await callTool<Inbox<M>>(target, "read_new_messages", { ack: 0, ...(limit === undefined ? {} : { limit }) });
  return inbox.structured;
}

/** Confirms the mail of a batch this client has shown (limit 0: nothing new is handed over). */
export async function confirm(target: RelayTarget, through: number): Promise<void> {
  await callTool(target, "read_new_messages", { limit: 0, ack: through });
}

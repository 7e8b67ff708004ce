/**
 * The commit point of a read. A tool that returns mail (read_new_messages, wait_for_messages, an
 * ask_peer reply) notes its seqs here; the /mcp route then passes the response body through
 * `confirmWhenWritten`, which tells the group object the mail was read only after the client has
 * taken the last byte of the response, and releases it at once if the client goes away first. If
 * the relay dies in between, neither happens and the object's lease lapses: the mail is unread
 * again. A message can therefore be read twice (the client got it, the confirmation was lost), but
 * never lost.
 */
import type { Caller } from "../types.ts";

export interface ReadReceipts {
  confirmRead(caller: Caller, seqs: number[]): Promise<void>;
  releaseRead(caller: Caller, seqs: number[]): Promise<void>;
}

/** The tools whose results carry mail (read_new_messages, wait_for_messages, an ask_peer reply). */
const MAIL_TOOLS = new Set(["read_new_messages", "wait_for_messages", "ask_peer"]);

/** Whether a parsed JSON-RPC body (one message or a batch) calls a tool that hands over mail. */
export function handsOverMail(body: unknown): boolean {
  const messages = Array.isArray(body) ? body : [body];
  return messages.some((m) => {
    const call = m as { method?: unknown; params?: { name?: unknown } } | null;
    return call?.method === "tools/call" && typeof call.params?.name === "string" && MAIL_TOOLS.has(call.params.name);
  });
}

/** The seqs of mail one request handed to its client. */
export class Handover {
  private seqs: number[] = [];
  /** Set once the client has gone: mail handed over after that is released straight away. */
  private abandoned: ((seqs: number[]) => void) | null = null;

  add(seqs: readonly number[]): void {
    this.seqs.push(...seqs);
    if (this.abandoned && this.seqs.length > 0) this.abandoned(this.take());
  }

  abandon(release: (seqs: number[]) => void): void {
    this.abandoned = release;
    if (this.seqs.length > 0) release(this.take());
  }

  take(): number[] {
    const seqs = this.seqs;
    this.seqs = [];
    return seqs;
  }
}

/**
 * Returns `response` with a body that confirms `handover` once the client has pulled all of it.
 * The stream has no buffer of its own (highWaterMark 0): the runtime asks it for the next chunk
 * only after writing the previous one to the client, so reaching the end means every byte went out.
 */
export function confirmWhenWritten(
  response: Response,
  handover: Handover,
  caller: Caller,
  receipts: () => ReadReceipts,
  waitUntil: (promise: Promise<unknown>) => void,
): Response {
  const source = response.body;
  if (!source) return response;
  const settle = (how: "confirmRead" | "releaseRead", seqs: number[]): Promise<void> => {
    if (seqs.length === 0) return Promise.resolve();
    // A failed confirmation leaves the mail unread (read again later); never fail the response.
    return receipts()[how](caller, seqs).catch((error: unknown) => {
      console.warn(`could not ${how === "confirmRead" ? "confirm" : "release"} mail handed to a client`, error instanceof Error ? error.message : error);
    });
  };
  const reader = source.getReader();
  const body = new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        const { done, value } = await reader.read();
        if (!done) {
          controller.enqueue(value);
          return;
        }
        await settle("confirmRead", handover.take());
        controller.close();
      },
      async cancel(reason) {
        // The tool may still be running (a parked ask): whatever it hands over later is released too.
        handover.abandon((seqs) => waitUntil(settle("releaseRead", seqs)));
        await reader.cancel(reason);
      },
    },
    { highWaterMark: 0 },
  );
  return new Response(body, { status: response.status, statusText: response.statusText, headers: response.headers });
}

/**
 * A send's result near its chain's budget (group/chains/): the note goes in the text and, as
 * `chain`, in the structured content the model reads, so a well-behaved model wraps up before
 * the relay holds the chain.
 */
import type { Sent } from "../types.ts";

export function withChainNote(text: string, sent: Sent): string {
  return sent.chain ? `${text}\n${sent.chain.note}` : text;
}

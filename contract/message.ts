/**
 * A message as every reader gets it: the tools' structured results, and the people's room (the
 * browser script imports this too, so it stays plain TypeScript with no runtime imports).
 */
import type { MessageKind } from "./frames.ts";

export interface Message {
  id: string;
  seq: number;
  from: string;
  /** The recipient for a DM or question; null for a broadcast. */
  to: string | null;
  kind: MessageKind;
  text: string;
  reply_to: string | null;
  urgent: boolean;
  tags: string[];
  time: string;
}

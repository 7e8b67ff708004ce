/**
 * Read receipts as the relay reports them to a message's sender: per recipient, whether the mail
 * was handed to the recipient's model (read), only announced to its session (a notice typed into
 * its pane, a hook line), or neither yet. Shared by the relay, the CLI (`relay-bridge status`) and
 * the web room's read marks.
 */
export type ReceiptState = "read" | "announced" | "not_yet";

export interface RecipientReceipt {
  peer: string;
  state: ReceiptState;
  /** When it reached that state (ISO), when the relay knows: mail read before receipts were kept has none. */
  at?: string;
}

export interface MessageStatus {
  id: string;
  seq: number;
  /** The recipient of a DM or question; absent for a broadcast. */
  to?: string;
  recipients: RecipientReceipt[];
}

/** Unread mail that may interrupt a turn: urgent mail, or a question addressed to this peer. No text. */
export interface PressingMail {
  seq: number;
  id: string;
  from: string;
  kind: "dm" | "group" | "question";
  urgent: boolean;
}

/** "read 10:42" / "announced 10:40" / "not yet", times in UTC. */
export function describeReceipt(receipt: RecipientReceipt): string {
  const at = receipt.at ? ` ${receipt.at.slice(11, 16)}` : "";
  if (receipt.state === "read") return `read${at}`;
  if (receipt.state === "announced") return `announced${at}`;
  return "not yet";
}

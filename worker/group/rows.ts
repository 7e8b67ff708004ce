/**
 * What every feature's SQL shares: the message row and its mapping to the value tools see, how
 * times are shown, and the group's newest seq as an SQL expression.
 */
import type { MessageKind } from "../../contract/frames.ts";
import type { Message } from "./types.ts";

/** What a notice needs of a message: no text, so a replay reads a few bytes per message. */
export type NoticeFacts = Pick<Message, "seq" | "id" | "from" | "kind" | "urgent">;

export interface MessageRow extends Record<string, SqlStorageValue> {
  seq: number;
  id: string;
  sender: string;
  recipient: string | null;
  kind: string;
  text: string;
  reply_to: string | null;
  urgent: number;
  tags: string;
  created_at: number;
}

/** A UTC day as the quota counts it: whole days since the epoch. */
export const DAY_MS = 86_400_000;

/** The start of the minute `ms` falls in. */
export function toMinute(ms: number): number {
  return ms - (ms % 60_000);
}

export function iso(ms: number): string {
  return new Date(ms).toISOString();
}

export function toMessage(row: MessageRow): Message {
  return {
    id: row.id,
    seq: row.seq,
    from: row.sender,
    to: row.recipient,
    kind: row.kind as MessageKind,
    text: row.text,
    reply_to: row.reply_to,
    urgent: row.urgent === 1,
    tags: JSON.parse(row.tags) as string[],
    time: iso(row.created_at),
  };
}

/**
 * The highest seq the group has ever issued, as an SQL expression: AUTOINCREMENT's own counter,
 * not MAX(seq). Once retention has emptied the table MAX(seq) would go back to 0, and a bridge
 * comparing its last ack with it would decide the relay had been reset.
 */
export const LATEST_SEQ = `COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'messages'), 0)`;

export function latestSeq(sql: SqlStorage): number {
  return sql.exec<{ seq: number }>(`SELECT ${LATEST_SEQ} AS seq`).one().seq;
}

/**
 * The WebSocket frames a bridge exchanges with its group.
 *
 * Part of contract/, which the worker and the local bridge (Node) both import, so it stays free of
 * Workers-only and Node-only imports: zod and plain TypeScript only. It uses zod's "mini" build:
 * the same schemas, but the bridge's bundle does not carry zod's whole method-chaining API, which
 * keeps an idle bridge's memory down.
 */
import * as z from "zod/mini";

export const MESSAGE_KINDS = ["group", "dm", "question"] as const;
export type MessageKind = (typeof MESSAGE_KINDS)[number];

// ---------------------------------------------------------------------------------------------
// Relay -> bridge frames
// ---------------------------------------------------------------------------------------------

/**
 * Sent once right after the socket is accepted: who the relay thinks you are, and the newest seq
 * in the group at that moment.
 */
export const WelcomeFrame = z.object({
  type: z.literal("welcome"),
  group: z.string(),
  peer: z.string(),
  latest_seq: z.int().check(z.nonnegative()),
});

/**
 * One piece of mail the peer should hear about. Carries no message text on purpose: the text
 * reaches Claude through the MCP tools, never through a terminal.
 */
export const NoticeFrame = z.object({
  type: z.literal("notice"),
  seq: z.int().check(z.positive()),
  id: z.string(),
  from: z.string(),
  kind: z.enum(MESSAGE_KINDS),
  urgent: z.boolean(),
});

/**
 * Sent after the replay that follows a `hello`: every notice after `after_seq` up to `through_seq`
 * has now been sent. Live notices follow.
 */
export const ReplayDoneFrame = z.object({
  type: z.literal("replay_done"),
  after_seq: z.int().check(z.nonnegative()),
  through_seq: z.int().check(z.nonnegative()),
});

/**
 * The peer has read its mail up to `through_seq` (through read_new_messages or wait_for_messages,
 * from any of its sessions), and also the single messages in `seqs`. A bridge drops notices it
 * has not typed yet for any of them: a reminder for mail already read is noise.
 */
export const ReadFrame = z.object({
  type: z.literal("read"),
  through_seq: z.int().check(z.nonnegative()),
  /** Single messages read out of order (an ask_peer reply the asker already holds). */
  seqs: z.optional(z.array(z.int().check(z.positive()))),
});

/** A frame the relay could not accept. The socket stays open unless the code says otherwise. */
export const ErrorFrame = z.object({
  type: z.literal("error"),
  code: z.string(),
  message: z.string(),
});

export const ServerFrame = z.discriminatedUnion("type", [
  WelcomeFrame,
  NoticeFrame,
  ReplayDoneFrame,
  ReadFrame,
  ErrorFrame,
]);

// ---------------------------------------------------------------------------------------------
// Bridge -> relay frames
// ---------------------------------------------------------------------------------------------

/**
 * First frame after every (re)connect. `last_acked` is the highest seq this bridge has handled;
 * the relay replays every notice after it (or after the peer's read cursor, whichever is newer,
 * since mail already read needs no notice). `null` means "no local record": the relay then uses
 * the last seq it saw acked for this peer.
 */
export const HelloFrame = z.object({
  type: z.literal("hello"),
  last_acked: z.nullable(z.int().check(z.nonnegative())),
});

/** The bridge has handled every notice up to and including `seq`. */
export const AckFrame = z.object({
  type: z.literal("ack"),
  seq: z.int().check(z.nonnegative()),
});

export const ClientFrame = z.discriminatedUnion("type", [HelloFrame, AckFrame]);

/**
 * Keep-alive. The bridge sends the bare text `ping`; the group object answers `pong` through the
 * platform's auto-response, without waking from hibernation, and records when it last did so,
 * which is how dead sockets are told from quiet ones.
 */
export const KEEPALIVE_PING = "ping";
export const KEEPALIVE_PONG = "pong";

/** Close codes the relay uses; 4xxx codes are final and a bridge must not retry them. */
export const CLOSE_CODES = {
  /** The token was revoked while the socket was open. */
  revoked: 4401,
  /** A frame was too large or not JSON at all, repeatedly, or a second hello on one socket. */
  protocolError: 4400,
  /** More frames than any bridge sends: the socket is closed and not to be reopened in a loop. */
  tooManyFrames: 4429,
  /** Swept: no keep-alive for too long. The bridge should reconnect. */
  stale: 4408,
} as const;

export type WelcomeFrame = z.infer<typeof WelcomeFrame>;
export type NoticeFrame = z.infer<typeof NoticeFrame>;
export type ReplayDoneFrame = z.infer<typeof ReplayDoneFrame>;
export type ReadFrame = z.infer<typeof ReadFrame>;
export type ErrorFrame = z.infer<typeof ErrorFrame>;
export type ServerFrame = z.infer<typeof ServerFrame>;
export type HelloFrame = z.infer<typeof HelloFrame>;
export type AckFrame = z.infer<typeof AckFrame>;
export type ClientFrame = z.infer<typeof ClientFrame>;

/** Parse a text frame; returns null for anything that is not a well-formed frame. */
export function parseFrame<T>(schema: z.ZodMiniType<T>, data: string): T | null {
  let json: unknown;
  try {
    json = JSON.parse(data);
  } catch {
    return null;
  }
  const result = schema.safeParse(json);
  return result.success ? result.data : null;
}

/**
 * The rules a send must pass before anything is stored, in the order a sender is told about them:
 * size, address, the message it answers, the rate limit, then the group's and the sender's quotas.
 * Everything they read comes from one statement (MailStore.sendFacts).
 */
import type { Settings } from "../settings.ts";
import type { Caller, Problem } from "../types.ts";
import type { SendInput } from "./schemas.ts";
import { DAY_MS } from "../rows.ts";
import { MailStore } from "./store.ts";

const utf8 = new TextEncoder();

/** Why this send is refused, or null; `recipientLeft` says a DM's recipient has left the group. */
export function sendProblem(
  store: MailStore,
  settings: Settings,
  caller: Caller,
  input: SendInput,
  now: number,
  knownPeers: () => string[],
): { problem: Problem; recipientLeft?: never } | { problem: null; recipientLeft: boolean } {
  const refuse = (code: Problem["code"], message: string) => ({ problem: { code, message } });
  const textBytes = utf8.encode(input.text).length;
  if (textBytes > settings.maxMessageBytes) {
    return refuse(
      "too_large",
      `Message text is ${textBytes} bytes; the limit is ${settings.maxMessageBytes}. Split it into parts, or put bulky content in a file and send its path.`,
    );
  }
  if (input.to === caller.peer) return refuse("self_dm", "You cannot send a DM to yourself. Use set_state for notes to self.");

  const day = Math.floor(now / DAY_MS);
  const facts = store.sendFacts(caller.peer, {
    since: now - settings.rateLimitWindowMs,
    rateLimit: settings.rateLimitCount,
    day,
    to: input.to ?? null,
    replyTo: input.reply_to ?? null,
  });
  if (input.to !== undefined && !facts.recipient) {
    return refuse(
      "unknown_peer",
      `No peer named '${input.to}' in group '${caller.group}'. Known peers: ${knownPeers().join(", ") || "(none yet)"}. A peer appears once its Claude Code session connects to the relay or its bridge connects; use send_message to reach everyone.`,
    );
  }
  if (input.reply_to !== undefined && !facts.replyVisible) {
    return refuse("unknown_message", `No message with id '${input.reply_to}' that you can see. Take ids from read_new_messages or get_history.`);
  }
  if (facts.recent >= settings.rateLimitCount) {
    return refuse(
      "rate_limited",
      `Slow down: at most ${settings.rateLimitCount} messages per ${settings.rateLimitWindowMs / 1000} s per peer. Nothing was sent; try again in a few seconds, or combine messages.`,
    );
  }

  // Quotas: a message of `bytes` may not take the group past what it may hold, nor the sender
  // past what one peer may send in a UTC day.
  const bytes = MailStore.messageBytes(input.text, input.tags ?? []);
  if (facts.stored + bytes > settings.maxGroupBytes) {
    return refuse(
      "quota_exceeded",
      // The group's exact total is not named: it counts DMs between others, whose sizes it
      // would give away to anyone who asks twice.
      `Group '${caller.group}' is full: this message (${bytes} bytes) would take the messages it holds past its limit of ${settings.maxGroupBytes} bytes. Nothing was sent. Space comes back as messages older than ${settings.retentionDays} days are deleted; to raise the limit, whoever runs the relay sets MAX_GROUP_BYTES in wrangler.toml [vars].`,
    );
  }
  if (facts.sentToday + bytes > settings.maxPeerBytesPerDay) {
    const minutes = Math.ceil(((day + 1) * DAY_MS - now) / 60_000);
    return refuse(
      "quota_exceeded",
      `You have sent ${facts.sentToday} bytes of messages today (UTC); each peer may send ${settings.maxPeerBytesPerDay} per day, and this one is ${bytes} bytes. Nothing was sent. The count starts again at 00:00 UTC, in ${Math.floor(minutes / 60)} h ${minutes % 60} min; meanwhile put bulky content in a file and send its path.`,
    );
  }
  return { problem: null, recipientLeft: facts.recipient?.left === true };
}

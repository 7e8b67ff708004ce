/**
 * The tools that send and read mail: send_message, send_dm, read_new_messages, get_history,
 * ask_peer, wait_for_messages. Those that return mail note its seqs on the handover, so the route
 * marks it read only once the response has been written (handover.ts).
 */
import { READ_DEFAULT_LIMIT } from "../../contract/limits.ts";
import { newMessageId } from "../types.ts";
import { AskPeerInput, GetHistoryInput, ReadNewMessagesInput, SendDmInput, SendMessageInput, WaitForMessagesInput } from "./inputs.ts";
import { compactMessage, compactPage, plural, problem, renderInbox, renderMessage, result, settle } from "./render.ts";
import { defineTool, READ_ONLY, RELAY, WRITES } from "./tool.ts";
import { deadlineFor, waitSurvivingRestarts } from "./waits.ts";

export const sendMessage = defineTool({
  name: "send_message",
  description: `${RELAY} Broadcast a message to everyone in your group.`,
  inputSchema: SendMessageInput,
  annotations: WRITES,
  observers: false,
  handler: async ({ caller, group }, input) =>
    settle(await group().send(caller, { ...input, kind: "group" }), (sent) => result(`Sent to group ${caller.group}: seq ${sent.seq}, id ${sent.id}.`, { ...sent })),
});

export const sendDm = defineTool({
  name: "send_dm",
  description: `${RELAY} Send a direct message to one peer; it waits until they read it. To answer a question, set reply_to to its id.`,
  inputSchema: SendDmInput,
  annotations: WRITES,
  observers: false,
  handler: async ({ caller, group }, input) =>
    settle(await group().send(caller, { ...input, kind: "dm" }), (sent) =>
      result(
        `Sent to ${input.to}: seq ${sent.seq}, id ${sent.id}.${sent.recipient_left ? ` Note: ${input.to} has left the group and may not read it soon.` : ""}`,
        { ...sent },
      ),
    ),
});

export const readNewMessages = defineTool({
  name: "read_new_messages",
  description: `${RELAY} Read your unread mail (peers' broadcasts and DMs to you), oldest first, and mark it read. Mail is marked read once this result reaches you; if it never does, the mail stays unread and comes again (so you may, rarely, see a message twice: same id).`,
  inputSchema: ReadNewMessagesInput,
  annotations: WRITES,
  observers: true,
  handler: async ({ caller, group, handover }, { limit, ack }) =>
    settle(await group().readNew(caller, limit, ack), (inbox) => {
      // A client that acks confirms for itself (the next read's ack); otherwise the response
      // being written is the confirmation.
      if (ack === undefined) handover.add(inbox.messages.map((m) => m.seq));
      return renderInbox(inbox);
    }),
});

export const getHistory = defineTool({
  name: "get_history",
  description: `${RELAY} Read past messages: the group channel, or with peer your DM thread with that peer. Newest page; page back with before=next_before.`,
  inputSchema: GetHistoryInput,
  annotations: READ_ONLY,
  observers: true,
  handler: async ({ caller, group }, input) =>
    settle(await group().history(caller, input), (page) => {
      const where = input.peer ? `DMs with ${input.peer}` : `group ${caller.group}`;
      const more = page.next_before !== null ? ` Older: before=${page.next_before}.` : "";
      const text = [`${plural(page.messages.length, "message")} in ${where}.${more}`, ...page.messages.map(renderMessage)];
      return result(text.join("\n\n"), compactPage(page));
    }),
});

export const askPeer = defineTool({
  name: "ask_peer",
  description: `${RELAY} DM a question to one peer and wait for their reply (up to timeout_seconds). On timeout the reply arrives later as unread mail.`,
  inputSchema: AskPeerInput,
  annotations: WRITES,
  observers: false,
  handler: async ({ caller, group, handover }, { to, question, timeout_seconds, idempotency_key }) => {
    // The id is chosen here, so a retry after an object restart finds the question already
    // asked instead of asking it again. A client's own retry (a new call) carries the same
    // idempotency_key instead, which leads the object back to the first question.
    const id = newMessageId();
    const deadline = deadlineFor(caller, timeout_seconds);
    const answer = await waitSurvivingRestarts(deadline, (timeoutMs) => group().ask(caller, { id, to, question, timeoutMs, idempotency_key }));
    if (answer.ok && answer.value.reply) handover.add([answer.value.reply.seq]);
    return settle(answer, ({ question: asked, reply }) =>
      reply
        ? result(`${to} replied:\n\n${renderMessage(reply)}`, { question: asked, reply: compactMessage(reply) })
        : result(
            `No reply from ${to} within ${timeout_seconds} s. Your question is id ${asked.id}; their reply will arrive as unread mail (read_new_messages or wait_for_messages).`,
            { question: asked, timed_out: true },
          ),
    );
  },
});

export const waitForMessages = defineTool({
  name: "wait_for_messages",
  description: `${RELAY} Wait until you have unread mail (or the timeout passes), then return it as read_new_messages does.`,
  inputSchema: WaitForMessagesInput,
  annotations: WRITES,
  observers: true,
  handler: async ({ caller, group, handover }, { timeout_seconds }) => {
    const deadline = deadlineFor(caller, timeout_seconds);
    for (;;) {
      const woken = await waitSurvivingRestarts(deadline, (timeoutMs) => group().waitForMail(caller, timeoutMs));
      if (!woken.ok) return problem(woken.problem.message, woken.problem.code);
      const inbox = await group().readNew(caller, READ_DEFAULT_LIMIT);
      if (inbox.ok) handover.add(inbox.value.messages.map((m) => m.seq));
      // Another session of the same peer may have taken the mail first: keep waiting.
      if (!inbox.ok || inbox.value.messages.length > 0 || Date.now() >= deadline) {
        return settle(inbox, (value) => renderInbox(value, true));
      }
    }
  },
});

/**
 * The relay's MCP tools. A fresh McpServer is built for every request (the stateless handler's
 * contract), bound to the caller the Worker verified from the token, so no tool input can name
 * the caller or its group. Each tool validates its input (inputs.ts), makes one call to the
 * group object (group/object.ts) and renders the outcome (render.ts).
 */
import { McpServer } from "@modelcontextprotocol/server";
import { MAX_STATE_VALUE_BYTES, READ_DEFAULT_LIMIT } from "../../contract/limits.ts";
import type { Env } from "../env.ts";
import { type Caller, newMessageId, type Outcome } from "../types.ts";
import {
  AskPeerInput,
  GetHistoryInput,
  GetStateInput,
  NoInput,
  ReadNewMessagesInput,
  RegisterInput,
  SendDmInput,
  SendMessageInput,
  SetStateInput,
  WaitForMessagesInput,
} from "./inputs.ts";
import type { Handover } from "./handover.ts";
import { compactMessage, compactPage, compactPeer, plural, problem, renderInbox, renderMessage, result, settle } from "./render.ts";

export const SERVER_INFO = { name: "claude-relay", version: "0.1.0" };

/** Prepended where a model might confuse these tools with Claude Code's own agent messaging. */
const RELAY = "Team relay (other Claude Code sessions on other machines; not Claude Code's built-in SendMessage).";

/** Tools that only read: Claude Code may run them without asking, and in parallel. */
const READ_ONLY = { readOnlyHint: true, destructiveHint: false, openWorldHint: false } as const;
/** Tools that write to the group but never destroy anything already there. */
const WRITES = { readOnlyHint: false, destructiveHint: false, openWorldHint: false } as const;

/** When a wait must end: at its timeout, or when the caller's token expires, whichever is first. */
function deadlineFor(caller: Caller, timeoutSeconds: number): number {
  return Math.min(Date.now() + timeoutSeconds * 1000, caller.exp ?? Number.POSITIVE_INFINITY);
}

/**
 * Errors the platform says a retry may fix: marked `retryable` (the object moved, a transient
 * fault) or `durableObjectReset` (the instance was reset: a deploy, an eviction, an abort), and
 * never `overloaded`, which a retry only makes worse. Our waits are safe to repeat: a mail wait
 * takes nothing, and an ask carries its question's id.
 */
function isRetryable(error: unknown): boolean {
  const flags = error as { retryable?: unknown; durableObjectReset?: unknown; overloaded?: unknown } | null;
  return (flags?.retryable === true || flags?.durableObjectReset === true) && flags.overloaded !== true;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Long waits run inside the group object. If the object restarts mid-wait (deploy, eviction) the
 * call throws an error marked retryable; we ask again with whatever time is left, backing off
 * exponentially, and the object re-checks storage first, so nothing that arrived in between is
 * missed. Any other error, an overload included, is not retried.
 */
async function waitSurvivingRestarts<T>(deadline: number, attempt: (remainingMs: number) => Promise<Outcome<T>>): Promise<Outcome<T>> {
  for (let failures = 0; ; failures++) {
    try {
      return await attempt(Math.max(0, deadline - Date.now()));
    } catch (error) {
      if (!isRetryable(error)) throw error;
      if (Date.now() >= deadline) return attempt(0);
      console.warn("group object restarted during a wait; retrying", error instanceof Error ? error.message : error);
      const backoff = Math.min(2_000, 50 * 2 ** Math.min(failures, 6));
      await sleep(Math.min(backoff / 2 + Math.random() * (backoff / 2), Math.max(0, deadline - Date.now())));
    }
  }
}

/** What an observer token is offered: reading, never writing to the group. */
const OBSERVER_TOOLS = new Set(["read_new_messages", "list_peers", "get_history", "wait_for_messages", "get_state"]);

/** An observer's server offers only OBSERVER_TOOLS: every other tool is removed as it is registered. */
function withholdWriteTools(server: McpServer): void {
  const register = server.registerTool.bind(server) as (name: string, ...rest: unknown[]) => { remove(): void };
  server.registerTool = ((name: string, ...rest: unknown[]) => {
    const tool = register(name, ...rest);
    if (!OBSERVER_TOOLS.has(name)) tool.remove();
    return tool;
  }) as typeof server.registerTool;
}

/**
 * `handover` collects the seqs of mail this request hands to its client; the /mcp route marks
 * them read once the response has been written (handover.ts).
 */
export function buildRelayServer(env: Env, caller: Caller, handover: Handover): McpServer {
  // A fresh stub per call: a stub that saw its object restart can stay broken.
  const group = () => env.GROUPS.get(env.GROUPS.idFromName(caller.group));
  const server = new McpServer(SERVER_INFO);
  if (caller.role === "observer") withholdWriteTools(server);

  server.registerTool(
    "register",
    {
      description: `${RELAY} Set your profile so peers know what this session works on. Optional: every tool works without it.`,
      inputSchema: RegisterInput,
      annotations: { ...WRITES, idempotentHint: true },
    },
    async (profile) =>
      settle(await group().register(caller, profile), (peer) => result(`Registered as ${peer.name} in group ${caller.group}.`, { peer: compactPeer(peer) })),
  );

  server.registerTool(
    "send_message",
    {
      description: `${RELAY} Broadcast a message to everyone in your group.`,
      inputSchema: SendMessageInput,
      annotations: WRITES,
    },
    async (input) =>
      settle(await group().send(caller, { ...input, kind: "group" }), (sent) =>
        result(`Sent to group ${caller.group}: seq ${sent.seq}, id ${sent.id}.`, { ...sent }),
      ),
  );

  server.registerTool(
    "send_dm",
    {
      description: `${RELAY} Send a direct message to one peer; it waits until they read it. To answer a question, set reply_to to its id.`,
      inputSchema: SendDmInput,
      annotations: WRITES,
    },
    async (input) =>
      settle(await group().send(caller, { ...input, kind: "dm" }), (sent) =>
        result(
          `Sent to ${input.to}: seq ${sent.seq}, id ${sent.id}.${sent.recipient_left ? ` Note: ${input.to} has left the group and may not read it soon.` : ""}`,
          { ...sent },
        ),
      ),
  );

  server.registerTool(
    "read_new_messages",
    {
      description: `${RELAY} Read your unread mail (peers' broadcasts and DMs to you), oldest first, and mark it read. Mail is marked read once this result reaches you; if it never does, the mail stays unread and comes again (so you may, rarely, see a message twice: same id).`,
      inputSchema: ReadNewMessagesInput,
      annotations: WRITES,
    },
    async ({ limit, ack }) =>
      settle(await group().readNew(caller, limit, ack), (inbox) => {
        // A client that acks confirms for itself (the next read's ack); otherwise the response
        // being written is the confirmation.
        if (ack === undefined) handover.add(inbox.messages.map((m) => m.seq));
        return renderInbox(inbox);
      }),
  );

  server.registerTool(
    "list_peers",
    {
      description: `${RELAY} List the peers in your group: name, profile, online (bridge connected), last seen, observers; and whether the group is paused.`,
      inputSchema: NoInput,
      annotations: READ_ONLY,
    },
    async () =>
      settle(await group().listPeers(caller), ({ peers, paused }) => {
        const lines = peers.map(
          (p) =>
            `${p.name}${p.name === caller.peer ? " (you)" : ""}${p.observer ? " (observer: reads every message, DMs included)" : ""}: ${p.online ? "online" : "offline"}, last seen ${p.last_seen}` +
            (p.profile.summary ? ` - ${JSON.stringify(p.profile.summary)}` : ""),
        );
        const head = paused ? `The group is paused by ${paused.by}: ${paused.reason}. Sending is refused until a lead resumes it.\n` : "";
        return result(`${head}${plural(peers.length, "peer")} in ${caller.group}:\n${lines.join("\n")}`, { you: caller.peer, peers: peers.map(compactPeer), ...(paused && { paused }) });
      }),
  );

  server.registerTool(
    "get_history",
    {
      description: `${RELAY} Read past messages: the group channel, or with peer your DM thread with that peer. Newest page; page back with before=next_before.`,
      inputSchema: GetHistoryInput,
      annotations: READ_ONLY,
    },
    async (input) =>
      settle(await group().history(caller, input), (page) => {
        const where = input.peer ? `DMs with ${input.peer}` : `group ${caller.group}`;
        const more = page.next_before !== null ? ` Older: before=${page.next_before}.` : "";
        const text = [`${plural(page.messages.length, "message")} in ${where}.${more}`, ...page.messages.map(renderMessage)];
        return result(text.join("\n\n"), compactPage(page));
      }),
  );

  server.registerTool(
    "ask_peer",
    {
      description: `${RELAY} DM a question to one peer and wait for their reply (up to timeout_seconds). On timeout the reply arrives later as unread mail.`,
      inputSchema: AskPeerInput,
      annotations: WRITES,
    },
    async ({ to, question, timeout_seconds }) => {
      // The id is chosen here, so a retry after an object restart finds the question already
      // asked instead of asking it again.
      const id = newMessageId();
      const deadline = deadlineFor(caller, timeout_seconds);
      const answer = await waitSurvivingRestarts(deadline, (timeoutMs) => group().ask(caller, { id, to, question, timeoutMs }));
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
  );

  server.registerTool(
    "wait_for_messages",
    {
      description: `${RELAY} Wait until you have unread mail (or the timeout passes), then return it as read_new_messages does.`,
      inputSchema: WaitForMessagesInput,
      annotations: WRITES,
    },
    async ({ timeout_seconds }) => {
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
  );

  server.registerTool(
    "set_state",
    {
      description: `${RELAY} Set a key on the group's shared board (any JSON up to 16 KiB; null removes the key).`,
      inputSchema: SetStateInput,
      annotations: { ...WRITES, destructiveHint: true, idempotentHint: true },
    },
    async ({ key, value }) => {
      const json = JSON.stringify(value ?? null);
      const size = new TextEncoder().encode(json).length;
      if (size > MAX_STATE_VALUE_BYTES) {
        return problem(`value is ${size} bytes of JSON; the limit is ${MAX_STATE_VALUE_BYTES}. Store a summary or a path instead.`, "too_large");
      }
      return settle(await group().setState(caller, key, json), ({ value_json: _, ...entry }) =>
        result(json === "null" ? `Removed ${key}.` : `Set ${key}.`, { ...entry, value }),
      );
    },
  );

  server.registerTool(
    "get_state",
    {
      description: `${RELAY} Read the group's shared board: one key's value, or without key the keys (optionally under prefix) with who set them when.`,
      inputSchema: GetStateInput,
      annotations: READ_ONLY,
    },
    async ({ key, prefix }) =>
      settle(await group().getState(caller, key, prefix), (entries) => {
        const shown = entries.map(({ value_json, ...entry }) =>
          value_json === undefined ? entry : { ...entry, value: JSON.parse(value_json) as unknown },
        ) as { key: string; updated_by: string; updated_at: string; value?: unknown }[];
        const first = shown[0];
        if (key !== undefined && first) {
          return result(`${key} = ${JSON.stringify(first.value)} (set by ${first.updated_by} at ${first.updated_at})`, first);
        }
        const lines = shown.map((e) => `${e.key} (set by ${e.updated_by} at ${e.updated_at})`);
        return result(lines.length === 0 ? "No keys." : lines.join("\n"), { keys: shown });
      }),
  );

  server.registerTool(
    "leave_group",
    {
      description: `${RELAY} Leave your group: you vanish from list_peers and get no broadcast notices until you send or register again. History stays.`,
      inputSchema: NoInput,
      annotations: { ...WRITES, idempotentHint: true },
    },
    async () => settle(await group().leave(caller), () => result(`Left ${caller.group}. Send or register to rejoin.`, { left: true })),
  );

  return server;
}

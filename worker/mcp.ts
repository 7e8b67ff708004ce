/**
 * The relay's MCP tools. A fresh McpServer is built for every request (the stateless handler's
 * contract), bound to the caller the Worker verified from the token, so no tool input can name
 * the caller or its group.
 */
import { McpServer } from "@modelcontextprotocol/server";
import { z } from "zod";
import {
  ASK_DEFAULT_TIMEOUT_S,
  type Env,
  HISTORY_DEFAULT_LIMIT,
  HISTORY_MAX_LIMIT,
  MAX_PROFILE_FIELD_LENGTH,
  MAX_STATE_VALUE_BYTES,
  MAX_TAG_LENGTH,
  MAX_TAGS,
  MAX_WAIT_TIMEOUT_S,
  READ_DEFAULT_LIMIT,
  READ_MAX_LIMIT,
  WAIT_DEFAULT_TIMEOUT_S,
} from "./env.ts";
import type { Caller, GroupObject, Inbox, Message, Outcome } from "./group.ts";
import { NAME_PATTERN, NAME_RULE } from "../contract/names.ts";

export const SERVER_INFO = { name: "claude-relay", version: "0.1.0" };

/** Prepended where a model might confuse these tools with Claude Code's own agent messaging. */
const RELAY = "Team relay (other Claude Code sessions on other machines; not Claude Code's built-in SendMessage).";

type ToolResult = {
  content: { type: "text"; text: string }[];
  structuredContent?: Record<string, unknown>;
  isError?: boolean;
};

function result(text: string, structured: Record<string, unknown>): ToolResult {
  return { content: [{ type: "text", text }], structuredContent: structured };
}

function problem(message: string, code: string): ToolResult {
  return { content: [{ type: "text", text: message }], structuredContent: { error: code, message }, isError: true };
}

function settle<T>(outcome: Outcome<T>, render: (value: T) => ToolResult): ToolResult {
  return outcome.ok ? render(outcome.value) : problem(outcome.problem.message, outcome.problem.code);
}

/**
 * One message as the model reads it: a header line of facts, then the text with every line
 * quoted by "> ". Headers are never quoted, so no text can pass itself off as another message
 * "from" someone else.
 */
export function renderMessage(m: Message): string {
  const facts = [
    `#${m.seq}`,
    m.kind === "group" ? "group" : m.kind === "question" ? `question to ${m.to}` : `dm to ${m.to}`,
    `from ${m.from}`,
    m.time,
    `id ${m.id}`,
  ];
  if (m.reply_to) facts.push(`reply_to ${m.reply_to}`);
  if (m.urgent) facts.push("URGENT");
  if (m.tags.length > 0) facts.push(`tags ${m.tags.join(",")}`);
  return `[${facts.join(" | ")}]\n${m.text.replace(/\r\n?|[\u2028\u2029]/g, "\n").replace(/^/gm, "> ")}`;
}

function renderInbox(inbox: Inbox, waited = false): ToolResult {
  const head =
    inbox.messages.length === 0
      ? waited
        ? "No new messages arrived before the timeout."
        : "No new messages."
      : `${inbox.messages.length} new message${inbox.messages.length === 1 ? "" : "s"} (${inbox.remaining} more unread).`;
  const hint = inbox.messages.some((m) => m.kind === "question")
    ? "\nAnswer a question with send_dm to its sender, reply_to set to the question's id."
    : "";
  return result([head + hint, ...inbox.messages.map(renderMessage)].join("\n\n"), { ...inbox });
}

/** When a wait must end: at its timeout, or when the caller's token expires, whichever is first. */
function deadlineFor(caller: Caller, timeoutSeconds: number): number {
  return Math.min(Date.now() + timeoutSeconds * 1000, caller.exp ?? Number.POSITIVE_INFINITY);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Long waits run inside the group object. If the object is restarted mid-wait (deploy, eviction)
 * the call throws; we ask again with whatever time is left, and the object re-checks storage
 * first, so nothing that arrived in between is missed.
 */
async function waitSurvivingRestarts<T>(
  deadline: number,
  attempt: () => Promise<Outcome<T>>,
  timedOut: () => Promise<Outcome<T>>,
): Promise<Outcome<T>> {
  for (;;) {
    try {
      return await attempt();
    } catch (error) {
      if (Date.now() >= deadline) return timedOut();
      console.warn("group object restarted during a wait; retrying", error instanceof Error ? error.message : error);
      await sleep(50);
    }
  }
}

/** The naming rule as a schema, with an error message that quotes it. */
export function nameSchema(what: string) {
  return z.string().regex(NAME_PATTERN, `${what} must be ${NAME_RULE}`);
}

const profileField = z.string().max(MAX_PROFILE_FIELD_LENGTH, `must be at most ${MAX_PROFILE_FIELD_LENGTH} characters`).optional();
/**
 * Half of a UTF-16 surrogate pair with no other half. Such a string is not Unicode text: SQLite
 * would store it as replacement characters, so the message read back would differ from the one
 * sent. Found by the fuzzer (tests/worker/fuzz.test.ts); refused instead of silently altered.
 */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const messageText = z
  .string()
  .min(1, "text must not be empty")
  .refine(
    (text) => !LONE_SURROGATE.test(text),
    "text must be valid Unicode: it contains a lone UTF-16 surrogate (half of an emoji or similar character). Remove it or re-encode the text.",
  );
const messageId = z.string().min(1, "an id must not be empty").max(64, "ids are at most 64 characters");
const timeout = (fallback: number) =>
  z
    .number()
    .int("timeout_seconds must be a whole number")
    .min(0, "timeout_seconds must not be negative")
    .max(MAX_WAIT_TIMEOUT_S, `timeout_seconds is at most ${MAX_WAIT_TIMEOUT_S}`)
    .default(fallback);

/**
 * z.json() with a message: z.json()'s own union says only "Invalid input" when the value is
 * missing, which does not tell a model what to do. Same JSON Schema as z.json().
 */
const jsonValue: z.ZodType<z.core.util.JSONType> = z.lazy(() =>
  z.union([z.string(), z.number(), z.boolean(), z.null(), z.array(jsonValue), z.record(z.string(), jsonValue)], {
    error: "value is required: any JSON value (null removes the key)",
  }),
);

/**
 * Input schemas, built once per isolate: the stateless handler builds a fresh server for every
 * request, and constructing these zod schemas was most of that cost.
 */
const RegisterInput = z.object({
  summary: profileField.describe("what you are working on"),
  hostname: profileField,
  cwd: profileField,
  branch: profileField,
});
export const SendMessageInput = z.object({
  text: messageText,
  reply_to: messageId.optional().describe("id of the message this answers"),
  urgent: z.boolean().optional(),
  tags: z
    .array(z.string().min(1, "tags must not be empty").max(MAX_TAG_LENGTH, `each tag is at most ${MAX_TAG_LENGTH} characters`))
    .max(MAX_TAGS, `at most ${MAX_TAGS} tags`)
    .optional(),
});
export const SendDmInput = z.object({
  to: nameSchema("to"),
  text: messageText,
  reply_to: messageId.optional(),
  urgent: z.boolean().optional(),
});
const ReadNewMessagesInput = z.object({
  limit: z.number().int("limit must be a whole number").min(1, "limit is at least 1").max(READ_MAX_LIMIT, `limit is at most ${READ_MAX_LIMIT}`).default(READ_DEFAULT_LIMIT),
});
const ListPeersInput = z.object({});
const GetHistoryInput = z.object({
  peer: nameSchema("peer").optional(),
  before: z.number().int("before must be a seq (a whole number)").positive("before must be a seq (1 or more)").optional().describe("only messages with seq below this"),
  limit: z.number().int("limit must be a whole number").min(1, "limit is at least 1").max(HISTORY_MAX_LIMIT, `limit is at most ${HISTORY_MAX_LIMIT}`).default(HISTORY_DEFAULT_LIMIT),
  query: z.string().max(200, "query is at most 200 characters").optional().describe("text to search for"),
});
const AskPeerInput = z.object({
  to: nameSchema("to"),
  question: messageText,
  timeout_seconds: timeout(ASK_DEFAULT_TIMEOUT_S),
});
const WaitForMessagesInput = z.object({ timeout_seconds: timeout(WAIT_DEFAULT_TIMEOUT_S) });
const SetStateInput = z.object({ key: nameSchema("key"), value: jsonValue });
const GetStateInput = z.object({
  key: nameSchema("key").optional(),
  prefix: z.string().max(64, "prefix is at most 64 characters").optional(),
});
const LeaveGroupInput = z.object({});

export function buildRelayServer(env: Env, caller: Caller): McpServer {
  // A fresh stub per call: a stub that saw its object restart can stay broken.
  const group = (): DurableObjectStub<GroupObject> => env.GROUPS.get(env.GROUPS.idFromName(caller.group));
  const server = new McpServer(SERVER_INFO);

  server.registerTool(
    "register",
    {
      description: `${RELAY} Set your profile so peers know what this session works on. Optional: every tool works without it.`,
      inputSchema: RegisterInput,
    },
    async (profile) =>
      settle(await group().register(caller, profile), (peer) =>
        result(`Registered as ${peer.name} in group ${caller.group}.`, { peer }),
      ),
  );

  server.registerTool(
    "send_message",
    {
      description: `${RELAY} Broadcast a message to everyone in your group.`,
      inputSchema: SendMessageInput,
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
      description: `${RELAY} Read your unread mail (peers' broadcasts and DMs to you), oldest first, and mark it read.`,
      inputSchema: ReadNewMessagesInput,
    },
    async ({ limit }) => settle(await group().readNew(caller, limit), (inbox) => renderInbox(inbox)),
  );

  server.registerTool(
    "list_peers",
    {
      description: `${RELAY} List the peers in your group: name, profile, online (bridge connected), last seen, observers; and whether the group is paused.`,
      inputSchema: ListPeersInput,
    },
    async () => {
      const [listed, paused] = await Promise.all([group().listPeers(caller), group().groupPause(caller)]);
      const pause = paused.ok ? paused.value : null;
      return settle(listed, (peers) => {
        const lines = peers.map(
          (p) =>
            `${p.name}${p.name === caller.peer ? " (you)" : ""}${p.observer ? " (observer: reads every message, DMs included)" : ""}: ${p.online ? "online" : "offline"}, last seen ${p.last_seen}` +
            (p.profile.summary ? ` - ${p.profile.summary}` : ""),
        );
        const head = pause ? `The group is paused by ${pause.by}: ${pause.reason}. Sending is refused until a lead resumes it.\n` : "";
        return result(`${head}${peers.length} peer${peers.length === 1 ? "" : "s"} in ${caller.group}:\n${lines.join("\n")}`, { peers, ...(pause && { paused: pause }) });
      });
    },
  );

  server.registerTool(
    "get_history",
    {
      description: `${RELAY} Read past messages: the group channel, or with peer your DM thread with that peer. Newest page; page back with before=next_before.`,
      inputSchema: GetHistoryInput,
    },
    async (input) =>
      settle(await group().history(caller, input), (page) => {
        const where = input.peer ? `DMs with ${input.peer}` : `group ${caller.group}`;
        const more = page.next_before !== null ? ` Older: before=${page.next_before}.` : "";
        const text = [`${page.messages.length} message${page.messages.length === 1 ? "" : "s"} in ${where}.${more}`, ...page.messages.map(renderMessage)];
        return result(text.join("\n\n"), { ...page });
      }),
  );

  server.registerTool(
    "ask_peer",
    {
      description: `${RELAY} DM a question to one peer and wait for their reply (up to timeout_seconds). On timeout the reply arrives later as unread mail.`,
      inputSchema: AskPeerInput,
    },
    async ({ to, question, timeout_seconds }) => {
      const asked = await group().send(caller, { to, text: question, kind: "question" });
      if (!asked.ok) return problem(asked.problem.message, asked.problem.code);
      const { id, seq } = asked.value;
      const deadline = deadlineFor(caller, timeout_seconds);
      const waitFor = (ms: number) => group().waitForReply(caller, id, to, Math.max(0, ms));
      const reply = await waitSurvivingRestarts(deadline, () => waitFor(deadline - Date.now()), () => waitFor(0));
      // Marked read only now that this call holds the reply: had the client gone, it would stay
      // unread and reach the asker as ordinary mail.
      if (reply.ok && reply.value) await group().markRead(caller, reply.value.seq);
      return settle(reply, (message) =>
        message
          ? result(`${to} replied:\n\n${renderMessage(message)}`, { question: { id, seq }, reply: message })
          : result(
              `No reply from ${to} within ${timeout_seconds} s. Your question is id ${id}; their reply will arrive as unread mail (read_new_messages or wait_for_messages).`,
              { question: { id, seq }, reply: null, timed_out: true },
            ),
      );
    },
  );

  server.registerTool(
    "wait_for_messages",
    {
      description: `${RELAY} Wait until you have unread mail (or the timeout passes), then return it as read_new_messages does.`,
      inputSchema: WaitForMessagesInput,
    },
    async ({ timeout_seconds }) => {
      const deadline = deadlineFor(caller, timeout_seconds);
      const waitFor = (ms: number) => group().waitForMail(caller, Math.max(0, ms));
      for (;;) {
        const woken = await waitSurvivingRestarts(deadline, () => waitFor(deadline - Date.now()), () => waitFor(0));
        if (!woken.ok) return problem(woken.problem.message, woken.problem.code);
        const inbox = await group().readNew(caller, READ_DEFAULT_LIMIT);
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
      inputSchema: LeaveGroupInput,
    },
    async () =>
      settle(await group().leave(caller), () => result(`Left ${caller.group}. Send or register to rejoin.`, { left: true })),
  );

  return server;
}

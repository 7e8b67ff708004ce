/**
 * The CLI's way to the relay: its existing MCP endpoint, spoken as plain JSON-RPC over HTTP, plus
 * the read-only feed for `tail` and the invite exchange for `join`.
 *
 * Why MCP and not a second API: every verb then goes through the very tools Claude Code calls,
 * with their checks, limits and read receipts (mail handed out by read_new_messages is marked read
 * once the response was written, so `read` behaves exactly like the tool). The endpoint is
 * stateless, so one POST of `tools/call` is a whole call: no session, no SDK (which would triple
 * the bundle). The answer comes as JSON or as a one-event stream; both are read here.
 */
import { parseInviteUrl } from "../../contract/invite.ts";
import type { RelayTarget } from "./config.ts";
import { BridgeError } from "./errors.ts";
import { describeNetworkError } from "./network-errors.ts";
import { sanitizeRelayText } from "./notices.ts";

/** Exit codes of the CLI verbs, documented in the usage text and the README. */
export const EXIT = { ok: 0, failed: 1, usage: 2, refused: 3, timedOut: 4 } as const;

/** The relay answered, and said no (unknown peer, rate limited, not found…): exit 3. */
export class RelayRefusal extends BridgeError {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message, EXIT.refused);
    this.code = code;
  }
}

/**
 * No answer came: the relay was not reached, or the connection failed before its answer arrived
 * (so a send may have been stored). `transient` when trying again may help (not a bad host name or
 * a TLS mix-up).
 */
export class RelayUnreachable extends BridgeError {
  readonly transient: boolean;
  constructor(message: string, code: string | undefined) {
    super(message);
    this.transient = !/^(ENOTFOUND|ERR_SSL|EPROTO|ERR_TLS|ERR_INVALID_URL)/.test(code ?? "") && !/TLS/.test(message);
  }
}

async function request(url: string, init: RequestInit): Promise<Response> {
  try {
    return await fetch(url, { ...init, redirect: "error" });
  } catch (error) {
    const cause = ((error as { cause?: unknown }).cause ?? error) as NodeJS.ErrnoException;
    throw new RelayUnreachable(describeNetworkError(cause, url), cause.code);
  }
}

/** An HTTP refusal as the relay words it ({error, message}); 401/403 mean the token is no good. */
async function refusal(response: Response, what: string): Promise<BridgeError> {
  const body = (await response.json().catch(() => ({}))) as { error?: unknown; message?: unknown };
  const message = typeof body.message === "string" ? sanitizeRelayText(body.message) : `HTTP ${response.status}`;
  const code = typeof body.error === "string" ? sanitizeRelayText(body.error) : String(response.status);
  if (response.status === 401 || response.status === 403) return new BridgeError(`the relay refused the token (HTTP ${response.status}): ${message}`);
  if (response.status === 404 && typeof body.message !== "string") return new BridgeError(`${what}: nothing answers at this URL: check the relay URL`);
  return new RelayRefusal(code, message);
}

export interface ToolResult<T> {
  /** The tool's text, written for a model; shown when there is nothing better. */
  text: string;
  structured: T;
}

let nextId = 1;

/** One tools/call. A tool error (the relay's "no, because…") becomes a RelayRefusal. */
export async function callTool<T>(target: RelayTarget, name: string, args: Record<string, unknown>, signal?: AbortSignal): Promise<ToolResult<T>> {
  const id = nextId++;
  const response = await request(target.mcpUrl, {
    method: "POST",
    headers: {
      Authorization: `Bearer ${target.token}`,
      "Content-Type": "application/json",
      Accept: "application/json, text/event-stream",
    },
    body: JSON.stringify({ jsonrpc: "2.0", id, method: "tools/call", params: { name, arguments: args } }),
    ...(signal ? { signal } : {}),
  });
  if (!response.ok) throw await refusal(response, target.mcpUrl);
  const body = await response.text();
  const message = readRpcMessage(body, id, response.headers.get("Content-Type") ?? "");
  if (message.error) {
    // An unknown tool: an observer token is offered only the reading tools.
    const text = sanitizeRelayText(message.error.message ?? "unknown error");
    if (/not found/i.test(text) && target.observer) throw new RelayRefusal("observer", `this token is an observer's: it may read, not call ${name}`);
    throw new RelayRefusal(String(message.error.code ?? "error"), text);
  }
  const result = message.result ?? {};
  const text = (result.content ?? []).map((c) => (c.type === "text" ? c.text : "")).join("\n");
  if (result.isError) {
    const code = (result.structuredContent as { error?: unknown } | undefined)?.error;
    // A revoked token is refused inside the tool, not at the door; it is the token's problem all the same.
    if (code === "revoked") throw new BridgeError(`the relay refused the token: ${sanitizeRelayText(text)}`, EXIT.failed);
    throw new RelayRefusal(typeof code === "string" ? code : "refused", sanitizeRelayText(text));
  }
  return { text, structured: (result.structuredContent ?? {}) as T };
}

interface RpcMessage {
  id?: number;
  result?: { content?: { type: string; text?: string }[]; structuredContent?: unknown; isError?: boolean };
  error?: { code?: number; message?: string };
}

function readRpcMessage(body: string, id: number, contentType: string): RpcMessage {
  const candidates = contentType.includes("text/event-stream")
    ? body.split(/\r?\n/).filter((line) => line.startsWith("data:")).map((line) => line.slice(5).trim())
    : [body];
  for (const candidate of candidates) {
    try {
      const message = JSON.parse(candidate) as RpcMessage;
      if (message.id === id) return message;
    } catch {
      // Not JSON: keep looking.
    }
  }
  throw new BridgeError(`the relay's answer to a tool call was not understood (${contentType || "no content type"}): is --url a claude-relay?`);
}

/**
 * A message as the feed returns it, or as a tool result gives it: tool results are compact for the
 * model and leave out a broadcast's `to`, an absent `reply_to`, `urgent: false` and empty `tags`.
 */
export interface FeedMessage {
  id: string;
  seq: number;
  from: string;
  to?: string | null;
  kind: string;
  text: string;
  reply_to?: string | null;
  urgent?: boolean;
  tags?: string[];
  time: string;
}

/** What the peer may see after `after` (the newest `limit` without it); marks nothing read. */
export async function feed(target: RelayTarget, after: number | undefined, limit: number, signal?: AbortSignal): Promise<{ messages: FeedMessage[]; latest_seq: number }> {
  const url = new URL(`${target.baseUrl}/groups/${encodeURIComponent(target.group)}/feed`);
  if (after !== undefined) url.searchParams.set("after", String(after));
  url.searchParams.set("limit", String(limit));
  const response = await request(url.href, { headers: { Authorization: `Bearer ${target.token}` }, ...(signal ? { signal } : {}) });
  if (!response.ok) throw await refusal(response, url.href);
  return (await response.json()) as { messages: FeedMessage[]; latest_seq: number };
}

export interface Joined {
  relay_url: string;
  group: string;
  peer: string;
  observer: boolean;
  token: string;
  mcp_add: string;
  install: string;
  setup: string;
}

/** Exchanges an invite link and a name for a token (the invite page's JSON twin). */
export async function redeemInvite(inviteUrl: string, name: string): Promise<Joined> {
  const invite = parseInviteUrl(inviteUrl);
  if (!invite) throw new BridgeError(`${JSON.stringify(inviteUrl)} is not an invite link (expected <relay>/invite/inv1.…): copy the whole link`, EXIT.usage);
  const url = `${invite.baseUrl}/invite/${encodeURIComponent(invite.code)}/join`;
  const response = await request(url, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ name }) });
  if (!response.ok) {
    const body = (await response.json().catch(() => ({}))) as { error?: unknown; message?: unknown };
    const message = typeof body.message === "string" ? sanitizeRelayText(body.message) : `HTTP ${response.status}`;
    throw new RelayRefusal(typeof body.error === "string" ? body.error : String(response.status), message);
  }
  return (await response.json()) as Joined;
}

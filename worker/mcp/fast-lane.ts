/**
 * Fast lane: the common MCP request, one JSON-RPC `tools/call` POSTed on its own, answered straight
 * from the tool table without building an SDK server and transport for it. Building those is most
 * of a tool call's cost in the Worker; the tool's own work is one zod parse and one call to the
 * group object.
 *
 * It takes only requests the SDK's stateless handler would serve on its 2025-era path with nothing
 * special about them, and answers them as that handler does: the same checks, the same tool result
 * (validation errors and thrown errors included), the same JSON-RPC envelope, the same SSE framing
 * and headers. Anything else (initialize, tools/list, notifications, batches, GETs, modern-era
 * requests, odd headers or params) returns null and goes to the SDK. The tool and validation
 * suites run through both lanes, and tests/worker/mcp-lanes.test.ts compares their answers byte for
 * byte, so the two cannot drift apart.
 */
import { isJsonContentType, SUPPORTED_PROTOCOL_VERSIONS } from "@modelcontextprotocol/server";
import type { ToolResult } from "./render.ts";
import type { ToolContext } from "./tool.ts";
import { toolsFor } from "./tools.ts";

/** Says which lane answered a tools/call; harmless to clients, read by the tests. */
export const LANE_HEADER = "X-Relay-Lane";

/** The SDK transport's keep-alive comment interval (DEFAULT_SSE_KEEP_ALIVE_MS), for long waits. */
const KEEP_ALIVE_MS = 15_000;

/** The SDK's response headers for a POST answered as an event stream. */
const SSE_HEADERS = {
  "Content-Type": "text/event-stream",
  "Cache-Control": "no-cache, no-transform",
  Connection: "keep-alive",
  "X-Accel-Buffering": "no",
  [LANE_HEADER]: "fast",
};

const JSONRPC_INVALID_PARAMS = -32602;

export interface FastCall {
  id: string | number;
  name: string;
  arguments: Record<string, unknown> | undefined;
}

const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value);

/** The params a 2025-era tools/call may carry for the fast lane; any other member goes to the SDK. */
const PLAIN_PARAMS = new Set(["name", "arguments", "_meta"]);

/**
 * The call, when this POST is one the fast lane answers exactly as the SDK would; otherwise null.
 * Mirrors the checks of the SDK transport's handlePostRequest (Accept, Content-Type,
 * MCP-Protocol-Version) and of the tools/call request schema; Host and Origin were checked by
 * hostGuard.
 */
export function fastToolCall(request: Request, body: unknown): FastCall | null {
  if (!isPlainObject(body) || body.method !== "tools/call") return null;
  const accept = request.headers.get("accept");
  if (!accept?.includes("application/json") || !accept.includes("text/event-stream")) return null;
  if (!isJsonContentType(request.headers.get("content-type"))) return null;
  // Every version the SDK supports on this path is a 2025-era one; an unsupported or modern one
  // gets the SDK's own answer.
  const version = request.headers.get("mcp-protocol-version");
  if (version !== null && !SUPPORTED_PROTOCOL_VERSIONS.includes(version)) return null;
  // A strict JSON-RPC request (the SDK's JSONRPCRequestSchema), as the SDK's era classification
  // (classifyInboundRequest) sees a plain 2025-era call: no per-request envelope in _meta. Checked
  // by hand because that classification costs more than the rest of the fast lane together.
  if (body.jsonrpc !== "2.0" || !isRequestId(body.id)) return null;
  if (Object.keys(body).some((key) => !JSONRPC_MEMBERS.has(key))) return null;
  const params = body.params;
  if (!isPlainObject(params) || typeof params.name !== "string") return null;
  if (Object.keys(params).some((key) => !PLAIN_PARAMS.has(key))) return null;
  if (params.arguments !== undefined && !isPlainObject(params.arguments)) return null;
  if (params._meta !== undefined && !plainMeta(params._meta)) return null;
  return { id: body.id, name: params.name, arguments: params.arguments };
}

const JSONRPC_MEMBERS = new Set(["jsonrpc", "id", "method", "params"]);

const isRequestId = (id: unknown): id is string | number => typeof id === "string" || Number.isSafeInteger(id);

/** A `_meta` the SDK passes through untouched: no reserved MCP keys, a well-formed progress token. */
function plainMeta(meta: unknown): boolean {
  if (!isPlainObject(meta)) return false;
  if (Object.keys(meta).some((key) => key.startsWith("io.modelcontextprotocol/"))) return false;
  const token = meta.progressToken;
  return token === undefined || typeof token === "string" || Number.isSafeInteger(token);
}

/** The SDK's tool result for a thrown error (McpServer.createToolError). */
function toolError(message: string): ToolResult {
  return { content: [{ type: "text", text: message }], isError: true };
}

/** The SDK's formatting of schema issues (validateStandardSchema + formatIssue). */
function formatIssues(issues: readonly { message: string; path?: readonly (PropertyKey | { key: PropertyKey })[] | undefined }[]): string {
  return issues
    .map((issue) => (issue.path?.length ? `${issue.path.map((p) => String(typeof p === "object" ? p.key : p)).join(".")}: ${issue.message}` : issue.message))
    .join(", ");
}

/** What McpServer's tools/call handler answers: a JSON-RPC result, or an error for an unknown tool. */
async function answer(call: FastCall, ctx: ToolContext): Promise<object> {
  const tool = toolsFor(ctx.caller).get(call.name);
  if (!tool) return { jsonrpc: "2.0", id: call.id, error: { code: JSONRPC_INVALID_PARAMS, message: `Tool ${call.name} not found` } };
  let result: ToolResult;
  try {
    const parsed = await tool.inputSchema["~standard"].validate(call.arguments ?? {});
    if (parsed.issues) {
      throw new Error(`Input validation error: Invalid arguments for tool ${call.name}: ${formatIssues(parsed.issues)}`);
    }
    result = await tool.handler(ctx, parsed.value);
  } catch (error) {
    result = toolError(error instanceof Error ? error.message : String(error));
  }
  return { result, jsonrpc: "2.0", id: call.id };
}

/**
 * How long the fast lane waits for an answer before it sends the headers and streams: a tool that
 * answers within this (a send, a read, a board write) goes out as one plain body, which costs the
 * runtime far less than a stream fed from JavaScript; one that waits longer (ask_peer,
 * wait_for_messages) gets the event stream with keep-alive comments, as from the SDK. The bytes a
 * client reads are the same either way.
 */
const PLAIN_BODY_WITHIN_MS = 1_000;

const messageEvent = (message: object) => `event: message\ndata: ${JSON.stringify(message)}\n\n`;

/** The answer, if `answering` fulfils within `ms`; null if it takes longer or fails. */
async function answeredWithin(answering: Promise<object>, ms: number): Promise<object | null> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<null>((resolve) => (timer = setTimeout(resolve, ms, null)));
  try {
    return await Promise.race([answering.catch(() => null), late]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The response as the SDK sends it for a POST: an event stream carrying one `message` event with
 * the answer, with keep-alive comments while the tool runs.
 */
export async function serveFastCall(call: FastCall, ctx: ToolContext): Promise<Response> {
  const answering = answer(call, ctx);
  const quick = await answeredWithin(answering, PLAIN_BODY_WITHIN_MS);
  if (quick) return new Response(messageEvent(quick), { status: 200, headers: SSE_HEADERS });
  return streamed(answering);
}

/** The answer still to come, sent as it arrives, with keep-alive comments until then. */
function streamed(answering: Promise<object>): Response {
  const encoder = new TextEncoder();
  let keepAlive: ReturnType<typeof setInterval> | undefined;
  let open = true;
  const stop = () => {
    open = false;
    clearInterval(keepAlive);
  };
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      keepAlive = setInterval(() => controller.enqueue(encoder.encode(": keepalive\n\n")), KEEP_ALIVE_MS);
      answering.then(
        (message) => {
          if (!open) return;
          stop();
          controller.enqueue(encoder.encode(messageEvent(message)));
          controller.close();
        },
        (error: unknown) => {
          if (!open) return;
          stop();
          controller.error(error);
        },
      );
    },
    cancel: stop,
  });
  return new Response(body, { status: 200, headers: SSE_HEADERS });
}

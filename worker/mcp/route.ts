/**
 * The MCP endpoint (streamable HTTP, stateless). A request is read once, capped in size, and then
 * served by one of two lanes over the same tool table: the fast lane (fast-lane.ts) for a plain
 * single tools/call, the SDK's stateless handler for everything else. Mail a tool hands over is
 * marked read only once the response has been written, whichever lane wrote it (handover.ts).
 */
import { createMcpHandler } from "agents/mcp/server";
import { MAX_MCP_BODY_BYTES } from "../../contract/limits.ts";
import type { Env } from "../env.ts";
import type { Caller } from "../types.ts";
import { fastToolCall, LANE_HEADER, serveFastCall } from "./fast-lane.ts";
import { confirmWhenWritten, Handover, handsOverMail } from "./handover.ts";
import { type ToolContext, toolContext } from "./tool.ts";
import { buildRelayServer } from "./tools.ts";

/** The path the SDK handler serves; the relay's other MCP paths are rewritten to it. */
export const MCP_PATH = "/mcp";

const sdkHandler = createMcpHandler(
  (ctx) => {
    const tools = (ctx.authInfo?.extra as { tools?: ToolContext } | undefined)?.tools;
    // serveMcp sets it on every request, so this cannot happen.
    if (!tools) throw new Error("MCP request reached the server without a verified caller");
    return buildRelayServer(tools);
  },
  // hostGuard has already checked Host and Origin for every route, this one included.
  { route: MCP_PATH, corsOptions: false, allowedOriginHostnames: "*" },
);

/** The answer to a body over MAX_MCP_BODY_BYTES, sent before any more of it is read. */
function bodyTooLarge(): Response {
  return Response.json(
    {
      error: "body_too_large",
      message: `The request body is over ${MAX_MCP_BODY_BYTES} bytes, the most /mcp reads. Nothing was done. Send less per call: a message's text has its own, much smaller limit; put bulky content in a file and send its path.`,
    },
    { status: 413 },
  );
}

/**
 * The body as text, read chunk by chunk; null as soon as more than `max` bytes have arrived (the
 * rest is cancelled, never buffered). A body without Content-Length cannot make the Worker hold
 * more than `max` plus one chunk.
 */
async function readCapped(body: ReadableStream<Uint8Array> | null, max: number): Promise<string | null> {
  if (!body) return "";
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let received = 0;
  let text = "";
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return text + decoder.decode();
    received += value.byteLength;
    if (received > max) {
      await reader.cancel("request body too large");
      return null;
    }
    text += decoder.decode(value, { stream: true });
  }
}

/**
 * Reads a POST body once, refusing one over MAX_MCP_BODY_BYTES (declared or not) with a 413.
 * Returns the parsed JSON (handed to the SDK as `parsedBody`, so it neither clones nor parses the
 * body again), or a fresh copy of the request when the body is not JSON, so the SDK answers it
 * with its own parse error.
 */
async function readMcpBody(request: Request): Promise<{ parsed: unknown } | { request: Request } | { refused: Response }> {
  const length = request.headers.get("Content-Length");
  const declared = Number(length ?? "0");
  if (declared > MAX_MCP_BODY_BYTES) return { refused: bodyTooLarge() };
  // A declared length frames the body (HTTP never delivers more than it says), so a body within
  // the cap is read in one native call; one without a length is read chunk by chunk, capped.
  const text = length !== null && Number.isSafeInteger(declared) ? await request.text() : await readCapped(request.body, MAX_MCP_BODY_BYTES);
  if (text === null) return { refused: bodyTooLarge() };
  try {
    if (text.length > 0) return { parsed: JSON.parse(text) };
  } catch {
    // Fall through: the handler produces its own parse error.
  }
  return { request: new Request(request, { body: text }) };
}

/** Whether every message in a body calls a tool: each tool checks the caller itself. */
function onlyToolCalls(body: unknown): boolean {
  const messages = Array.isArray(body) ? body : [body];
  return messages.length > 0 && messages.every((m) => typeof m === "object" && m !== null && (m as { method?: unknown }).method === "tools/call");
}

/** The request as the SDK handler expects it: at MCP_PATH, whatever path the client used. */
function atMcpPath(request: Request): Request {
  const url = new URL(request.url);
  if (url.pathname === MCP_PATH) return request;
  url.pathname = MCP_PATH;
  // A body already read and parsed travels as `parsedBody`; the copy carries the rest.
  return request.bodyUsed ? new Request(url, { method: request.method, headers: request.headers, signal: request.signal }) : new Request(url, request);
}

export interface McpRequest {
  request: Request;
  env: Env;
  caller: Caller;
  /** Refuses a revoked token for requests that touch no tool (initialize, tools/list, ping). */
  authorize: () => Promise<{ ok: true } | { ok: false; problem: { message: string } }>;
  waitUntil: (promise: Promise<unknown>) => void;
}

/** Serves one MCP request for a caller whose token the Worker has verified. */
export async function serveMcp({ request, env, caller, authorize, waitUntil }: McpRequest): Promise<Response> {
  let parsedBody: unknown;
  if (request.method === "POST") {
    const read = await readMcpBody(request);
    if ("refused" in read) return read.refused;
    if ("parsed" in read) parsedBody = read.parsed;
    else request = read.request;
    if (!onlyToolCalls(parsedBody)) {
      const verdict = await authorize();
      if (!verdict.ok) return Response.json({ error: "token_revoked", message: verdict.problem.message }, { status: 401 });
    }
  }
  const handover = new Handover();
  const tools = toolContext(env, caller, handover);
  const fast = parsedBody === undefined ? null : fastToolCall(request, parsedBody);
  let response: Response;
  if (fast) {
    response = await serveFastCall(fast, tools);
  } else {
    response = await sdkHandler.fetch(atMcpPath(request), {
      // The token itself is deliberately not passed on: tools never see or echo it.
      authInfo: { token: "verified", clientId: caller.peer, scopes: [], extra: { tools } },
      ...(parsedBody !== undefined && { parsedBody }),
    });
    if (onlyToolCalls(parsedBody)) response.headers.set(LANE_HEADER, "sdk");
  }
  // Only the tools that hand over mail need their response watched; the rest go out untouched.
  if (parsedBody !== undefined && !handsOverMail(parsedBody)) return response;
  return confirmWhenWritten(response, handover, caller, tools.group, waitUntil);
}

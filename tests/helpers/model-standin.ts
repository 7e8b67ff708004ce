/**
 * A local stand-in for the Anthropic Messages API, so tests can run the real Claude Code CLI with no
 * network: point `ANTHROPIC_BASE_URL` at it. Every request is recorded; each is answered by a
 * script (plain text, or a tool call), streamed as server-sent events the way the API does
 * (message_start, content_block_start/delta/stop, message_delta with stop_reason, message_stop).
 *
 * Claude Code also sends side requests (titles, summaries, token counts): those carry none of the
 * session's tools, and the default script answers them with plain text.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server } from "node:http";
import { join } from "node:path";

export interface ContentBlock {
  type: string;
  text?: string;
  name?: string;
  input?: unknown;
  content?: string | ContentBlock[];
  [key: string]: unknown;
}

export interface ApiMessage {
  role: "user" | "assistant" | "system";
  content: string | ContentBlock[];
}

export interface RecordedRequest {
  at: number;
  path: string;
  body: {
    model?: string;
    stream?: boolean;
    system?: string | ContentBlock[];
    messages: ApiMessage[];
    tools?: { name: string }[];
  };
}

export type Reply = { text: string } | { tool: string; input?: Record<string, unknown> };

/**
 * Decides the answer to one request; `history` holds every earlier request. An async script holds
 * the answer back until something the test needs has happened (Claude Code waits for it).
 */
export type Script = (request: RecordedRequest, history: readonly RecordedRequest[]) => Reply | Promise<Reply>;

function blockText(block: ContentBlock | string): string {
  if (typeof block === "string") return block;
  if (typeof block.text === "string") return block.text;
  if (block.type === "tool_result") {
    return typeof block.content === "string" ? block.content : (block.content ?? []).map(blockText).join("\n");
  }
  return "";
}

export function messageText(message: ApiMessage): string {
  return typeof message.content === "string" ? message.content : message.content.map(blockText).join("\n");
}

/** The last role "user" message: the prompt, a tool result, or hook feedback. */
export function lastUserText(request: RecordedRequest): string {
  const last = [...request.body.messages].reverse().find((m) => m.role === "user");
  return last ? messageText(last) : "";
}

/** Everything the model was told: system prompt and all messages, as one text (for `toContain`). */
export function allText(request: RecordedRequest): string {
  const system = request.body.system;
  const head = typeof system === "string" ? system : (system ?? []).map(blockText).join("\n");
  return [head, ...request.body.messages.map(messageText)].join("\n");
}

export function toolNames(request: RecordedRequest): string[] {
  return (request.body.tools ?? []).map((t) => t.name);
}

/** Is this a turn of the session itself (it carries the session's tools), not a side request? */
export function isSessionTurn(request: RecordedRequest): boolean {
  return toolNames(request).length > 0;
}

/** The tool_use blocks the model (this stand-in) answered with, across the conversation. */
export function toolCallsIn(request: RecordedRequest): string[] {
  return request.body.messages
    .filter((m) => m.role === "assistant" && typeof m.content !== "string")
    .flatMap((m) => (m.content as ContentBlock[]).filter((b) => b.type === "tool_use").map((b) => String(b.name)));
}

function sse(event: string, data: unknown): string {
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}

let ids = 0;

function streamReply(reply: Reply, model: string): string {
  const id = `msg_standin_${++ids}`;
  const parts = [
    sse("message_start", {
      type: "message_start",
      message: { id, type: "message", role: "assistant", model, content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: 1, output_tokens: 1 } },
    }),
  ];
  if ("text" in reply) {
    parts.push(
      sse("content_block_start", { type: "content_block_start", index: 0, content_block: { type: "text", text: "" } }),
      sse("content_block_delta", { type: "content_block_delta", index: 0, delta: { type: "text_delta", text: reply.text } }),
    );
  } else {
    parts.push(
      sse("content_block_start", {
        type: "content_block_start",
        index: 0,
        content_block: { type: "tool_use", id: `toolu_standin_${ids}`, name: reply.tool, input: {} },
      }),
      sse("content_block_delta", { type: "content_block_delta", index: 0, delta: { type: "input_json_delta", partial_json: JSON.stringify(reply.input ?? {}) } }),
    );
  }
  parts.push(
    sse("content_block_stop", { type: "content_block_stop", index: 0 }),
    sse("message_delta", { type: "message_delta", delta: { stop_reason: "text" in reply ? "end_turn" : "tool_use", stop_sequence: null }, usage: { output_tokens: 1 } }),
    sse("message_stop", { type: "message_stop" }),
  );
  return parts.join("");
}

function jsonReply(reply: Reply, model: string): unknown {
  const id = `msg_standin_${++ids}`;
  const content =
    "text" in reply ? [{ type: "text", text: reply.text }] : [{ type: "tool_use", id: `toolu_standin_${ids}`, name: reply.tool, input: reply.input ?? {} }];
  return { id, type: "message", role: "assistant", model, content, stop_reason: "text" in reply ? "end_turn" : "tool_use", stop_sequence: null, usage: { input_tokens: 1, output_tokens: 1 } };
}

async function readBody(request: IncomingMessage): Promise<string> {
  let text = "";
  for await (const chunk of request) text += chunk;
  return text;
}

export interface ModelStandin {
  url: string;
  requests: RecordedRequest[];
  /** Requests that are turns of the session (they carry its tools). */
  turns(): RecordedRequest[];
  setScript(script: Script): void;
  stop(): Promise<void>;
}

/** `claude --version`, or null when Claude Code is not on PATH (tests then skip, saying so). */
export function claudeVersion(testFile: string): string | null {
  try {
    return execFileSync("claude", ["--version"], { encoding: "utf8", timeout: 20_000 }).trim();
  } catch {
    console.warn(`${testFile}: \`claude\` is not on PATH; install @anthropic-ai/claude-code to run it.`);
    return null;
  }
}

/**
 * The private HOME and environment that let Claude Code start with no dialog and no network
 * (platform notes, "Driving the real Claude Code offline"): onboarding done, the API key approved,
 * the project trusted.
 */
export function claudeEnv(home: string, project: string, modelUrl: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const apiKey = "sk-ant-standin-0000000000000000000000000000";
  mkdirSync(join(home, ".claude"), { recursive: true });
  writeFileSync(
    join(home, ".claude.json"),
    JSON.stringify({
      hasCompletedOnboarding: true,
      customApiKeyResponses: { approved: [apiKey.slice(-20)], rejected: [] },
      projects: { [project]: { hasTrustDialogAccepted: true } },
    }),
  );
  return {
    ...process.env,
    HOME: home,
    CLAUDE_CONFIG_DIR: undefined,
    ANTHROPIC_BASE_URL: modelUrl,
    ANTHROPIC_API_KEY: apiKey,
    DISABLE_AUTOUPDATER: "1",
    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1",
    ENABLE_TOOL_SEARCH: "false",
    ...extra,
  };
}

export async function startModelStandin(script: Script = () => ({ text: "OK." })): Promise<ModelStandin> {
  const requests: RecordedRequest[] = [];
  let current = script;
  const server: Server = createServer(async (req, res) => {
    const path = req.url ?? "/";
    const text = await readBody(req);
    if (req.method === "POST" && path.startsWith("/v1/messages/count_tokens")) {
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ input_tokens: 1 }));
      return;
    }
    if (req.method !== "POST" || !path.startsWith("/v1/messages")) {
      res.writeHead(404, { "content-type": "application/json" }).end(JSON.stringify({ type: "error", error: { type: "not_found_error", message: path } }));
      return;
    }
    let body: RecordedRequest["body"];
    try {
      body = JSON.parse(text) as RecordedRequest["body"];
    } catch {
      res.writeHead(400).end();
      return;
    }
    const recorded: RecordedRequest = { at: Date.now(), path, body };
    const history = requests.slice();
    requests.push(recorded);
    const reply = await current(recorded, history);
    const model = body.model ?? "claude-standin";
    if (body.stream) {
      res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" }).end(streamReply(reply, model));
    } else {
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(jsonReply(reply, model)));
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  if (typeof address !== "object" || !address) throw new Error("model stand-in has no address");
  return {
    url: `http://127.0.0.1:${address.port}`,
    requests,
    turns: () => requests.filter(isSessionTurn),
    setScript: (next) => {
      current = next;
    },
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

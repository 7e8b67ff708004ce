/**
 * A local stand-in for the OpenAI Responses API, so tests can run the real Codex CLI offline: a
 * model provider in its config.toml points at it (`wire_api = "responses"`). Codex POSTs
 * `/v1/responses` with `stream: true`; each answer is two server-sent events, the output item
 * (`response.output_item.done`) and `response.completed`. MCP tools reach the model grouped in a
 * namespace (`{"type":"namespace","name":"mcp__relay","tools":[…]}`), and a call names both.
 * Every request is recorded.
 */
import { createServer, type Server } from "node:http";

export interface CodexRequest {
  path: string;
  body: { input?: unknown[]; tools?: { type: string; name?: string; tools?: { name: string }[] }[]; [key: string]: unknown };
}

export type CodexReply = { text: string } | { call: string; namespace: string; args?: Record<string, unknown> };
export type CodexScript = (request: CodexRequest, history: readonly CodexRequest[]) => CodexReply | Promise<CodexReply>;

/** Every text the request carries (messages of any role, tool outputs), joined. */
export function codexText(request: CodexRequest): string {
  return JSON.stringify(request.body.input ?? []);
}

/** The developer messages of the request (where Codex puts hook context), as text. */
export function developerText(request: CodexRequest): string {
  return (request.body.input ?? [])
    .filter((item): item is { role: string } => typeof item === "object" && item !== null && (item as { role?: string }).role === "developer")
    .map((item) => JSON.stringify(item))
    .join("\n");
}

/** The last input item (a message, a function call, its output), as JSON text. */
export function lastInputText(request: CodexRequest): string {
  const input = request.body.input ?? [];
  return JSON.stringify(input[input.length - 1] ?? "");
}

/** The last user message's text (the prompt, or a Stop hook's `<hook_prompt …>`). */
export function lastUserText(request: CodexRequest): string {
  const users = (request.body.input ?? []).filter((item) => typeof item === "object" && item !== null && (item as { role?: string }).role === "user");
  return JSON.stringify(users[users.length - 1] ?? "");
}

/** Tool names offered, namespaced ones as `namespace.tool`. */
export function codexTools(request: CodexRequest): string[] {
  return (request.body.tools ?? []).flatMap((tool) => (tool.type === "namespace" ? (tool.tools ?? []).map((t) => `${tool.name}.${t.name}`) : tool.name ? [tool.name] : []));
}

export interface CodexStandin {
  url: string;
  requests: CodexRequest[];
  close(): Promise<void>;
}

export async function startCodexStandin(script: CodexScript): Promise<CodexStandin> {
  const requests: CodexRequest[] = [];
  let calls = 0;
  const server: Server = createServer((req, res) => {
    let text = "";
    req.setEncoding("utf8");
    req.on("data", (chunk: string) => (text += chunk));
    req.on("end", async () => {
      if (req.method !== "POST" || !req.url?.startsWith("/v1/responses")) {
        res.writeHead(404, { "content-type": "application/json" }).end(JSON.stringify({ error: { message: "not here" } }));
        return;
      }
      let body: CodexRequest["body"] = {};
      try {
        body = JSON.parse(text) as CodexRequest["body"];
      } catch {
        // Recorded as empty; the script decides.
      }
      const request = { path: req.url, body };
      const history = [...requests];
      requests.push(request);
      const reply = await script(request, history);
      const n = ++calls;
      const item =
        "text" in reply
          ? { type: "message", role: "assistant", id: `msg_${n}`, status: "completed", content: [{ type: "output_text", text: reply.text, annotations: [] }] }
          : { type: "function_call", id: `fc_${n}`, call_id: `call_${n}`, name: reply.call, namespace: reply.namespace, arguments: JSON.stringify(reply.args ?? {}), status: "completed" };
      res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
      res.write(`event: response.output_item.done\ndata: ${JSON.stringify({ type: "response.output_item.done", output_index: 0, item })}\n\n`);
      res.write(`event: response.completed\ndata: ${JSON.stringify({ type: "response.completed", response: { id: `resp_${n}`, usage: { input_tokens: 1, output_tokens: 1, total_tokens: 2 } } })}\n\n`);
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}/v1`,
    requests,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/**
 * A local stand-in for the Gemini API, so tests can run the real Gemini CLI offline: point
 * `GOOGLE_GEMINI_BASE_URL` at it (with API-key auth selected in settings). Gemini CLI calls
 * `…:generateContent` to route a prompt to a model (answered with the JSON its schema asks for)
 * and `…:streamGenerateContent?alt=sse` for the turn itself; one SSE `data:` event carrying text
 * or a `functionCall` is a whole answer. MCP tools reach the model as `mcp_<server>_<tool>`.
 * Every turn request is recorded.
 */
import { createServer, type Server } from "node:http";

export interface GeminiRequest {
  path: string;
  body: {
    contents?: { role: string; parts: { text?: string; functionCall?: unknown; functionResponse?: unknown }[] }[];
    tools?: { functionDeclarations?: { name: string }[] }[];
    systemInstruction?: unknown;
    [key: string]: unknown;
  };
}

export type GeminiReply = { text: string } | { call: string; args?: Record<string, unknown> };
export type GeminiScript = (request: GeminiRequest, history: readonly GeminiRequest[]) => GeminiReply | Promise<GeminiReply>;

export function geminiTools(request: GeminiRequest): string[] {
  return (request.body.tools ?? []).flatMap((tool) => (tool.functionDeclarations ?? []).map((f) => f.name));
}

/** Everything the turn carries (contents and system instruction), as JSON text. */
export function geminiText(request: GeminiRequest): string {
  return JSON.stringify([request.body.systemInstruction ?? null, request.body.contents ?? []]);
}

/** The last content's parts, as JSON text: the prompt, a hook's next turn, or a function response. */
export function lastContentText(request: GeminiRequest): string {
  const contents = request.body.contents ?? [];
  return JSON.stringify(contents[contents.length - 1] ?? "");
}

export interface GeminiStandin {
  url: string;
  requests: GeminiRequest[];
  close(): Promise<void>;
}

export async function startGeminiStandin(script: GeminiScript): Promise<GeminiStandin> {
  const requests: GeminiRequest[] = [];
  const server: Server = createServer((req, res) => {
    let text = "";
    req.setEncoding("utf8");
    req.on("data", (chunk: string) => (text += chunk));
    req.on("end", async () => {
      const path = req.url ?? "/";
      let body: GeminiRequest["body"] = {};
      try {
        body = JSON.parse(text) as GeminiRequest["body"];
      } catch {
        // Recorded as empty.
      }
      if (path.includes(":countTokens")) {
        res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ totalTokens: 1 }));
        return;
      }
      if (path.includes(":generateContent")) {
        // Routing and other side requests: the classifier's JSON answer fits them all well enough.
        const answer = JSON.stringify({ reasoning: "a simple task", model_choice: "flash" });
        res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ candidates: [{ content: { role: "model", parts: [{ text: answer }] }, finishReason: "STOP", index: 0 }] }));
        return;
      }
      if (!path.includes(":streamGenerateContent")) {
        res.writeHead(404, { "content-type": "application/json" }).end(JSON.stringify({ error: { code: 404, message: path } }));
        return;
      }
      const request = { path, body };
      const history = [...requests];
      requests.push(request);
      const reply = await script(request, history);
      const part = "text" in reply ? { text: reply.text } : { functionCall: { name: reply.call, args: reply.args ?? {} } };
      const chunk = { candidates: [{ content: { role: "model", parts: [part] }, finishReason: "STOP", index: 0 }], usageMetadata: { promptTokenCount: 1, candidatesTokenCount: 1, totalTokenCount: 2 } };
      res.writeHead(200, { "content-type": "text/event-stream" });
      res.end(`data: ${JSON.stringify(chunk)}\n\n`);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  return { url: `http://127.0.0.1:${port}`, requests, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

/**
 * Shared set-up for the in-workerd suite: tokens signed with the suite's secret, and a real MCP
 * client (SDK v1 Client over streamable HTTP) whose fetch goes straight into the Worker.
 */
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { exports } from "cloudflare:workers";
import { signToken, type TokenClaims } from "../../worker/auth.ts";
import { TEST_SECRET } from "../test-secret.ts";

export const BASE = "http://localhost";

export function mint(group: string, peer: string, extra: Partial<TokenClaims> = {}, secret = TEST_SECRET): Promise<string> {
  return signToken(secret, { g: group, p: peer, iat: Date.now(), ...extra });
}

/** Like a real HTTP client, always sends a Host header (a Request built in-process has none). */
export function workerFetch(input: string | URL | Request, init?: RequestInit): Promise<Response> {
  const request = new Request(input, init);
  if (!request.headers.has("Host")) request.headers.set("Host", new URL(request.url).host);
  return exports.default.fetch(request);
}

export async function connect(token: string): Promise<Client> {
  const transport = new StreamableHTTPClientTransport(new URL(`${BASE}/mcp`), {
    requestInit: { headers: { Authorization: `Bearer ${token}` } },
    fetch: (input, init) => workerFetch(input as string, init),
  });
  const client = new Client({ name: "relay-test", version: "1.0.0" });
  await client.connect(transport);
  return client;
}

export interface ToolOutcome {
  isError: boolean;
  text: string;
  data: Record<string, any>;
}

export async function call(client: Client, name: string, args: Record<string, unknown> = {}): Promise<ToolOutcome> {
  const result = (await client.callTool({ name, arguments: args })) as {
    isError?: boolean;
    content: { type: string; text?: string }[];
    structuredContent?: Record<string, unknown>;
  };
  return {
    isError: result.isError === true,
    text: result.content.map((c) => c.text ?? "").join("\n"),
    data: (result.structuredContent ?? {}) as Record<string, any>,
  };
}

/** A peer with its own MCP client: the usual unit of a test. */
export async function peer(group: string, name: string) {
  const token = await mint(group, name);
  const client = await connect(token);
  return {
    name,
    token,
    client,
    call: (tool: string, args: Record<string, unknown> = {}) => call(client, tool, args),
    close: () => client.close(),
  };
}

let groupCounter = 0;
/** Storage is shared by the tests of one file: give each test its own group. */
export function freshGroup(prefix = "g"): string {
  groupCounter++;
  return `${prefix}-${groupCounter}-${Math.random().toString(36).slice(2, 8)}`;
}

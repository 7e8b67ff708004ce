/**
 * A real MCP client (SDK v1 Client over streamable HTTP) for a peer of a running relay, and a
 * tool call that throws with the relay's message when the tool fails.
 */
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";

export async function relayClient(relayUrl: string, token: string): Promise<Client> {
  const client = new Client({ name: "relay-test", version: "1.0.0" });
  await client.connect(new StreamableHTTPClientTransport(new URL(`${relayUrl}/mcp`), { requestInit: { headers: { Authorization: `Bearer ${token}` } } }));
  return client;
}

export async function callTool(client: Client, name: string, args: Record<string, unknown> = {}): Promise<Record<string, any>> {
  const result = (await client.callTool({ name, arguments: args })) as {
    isError?: boolean;
    structuredContent?: Record<string, any>;
    content: { text: string }[];
  };
  if (result.isError) throw new Error(`${name}: ${result.content.map((c) => c.text).join(" ")}`);
  return result.structuredContent ?? {};
}

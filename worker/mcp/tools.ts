/**
 * The relay's MCP tools as one table, in the order tools/list shows them. Each entry
 * (tool.ts) validates its input with a schema from inputs.ts, makes its calls to the group object
 * and renders the outcome (render.ts); the tools themselves live by feature in board-tools.ts, mail-tools.ts and peer-tools.ts.
 *
 * Two lanes serve the table: the SDK's stateless handler (a fresh McpServer per request, built
 * here) for every kind of MCP request, and the fast lane (fast-lane.ts) for the common single
 * tools/call. The caller is always the one the Worker verified from the token, so no tool input
 * can name the caller or its group.
 */
import { McpServer } from "@modelcontextprotocol/server";
import type { Caller } from "../types.ts";
import type { RelayTool, ToolContext } from "./tool.ts";
import { getState, setState } from "./board-tools.ts";
import { askPeer, getHistory, readNewMessages, sendDm, sendMessage, waitForMessages } from "./mail-tools.ts";
import { leaveGroup, listPeers, register } from "./peer-tools.ts";
import { claimPaths, listClaims, releasePaths } from "./claim-tools.ts";
import { messageStatus } from "./receipt-tools.ts";

export const SERVER_INFO = { name: "claude-relay", version: "0.1.0" };

export const TOOLS: readonly RelayTool[] = [
  register,
  sendMessage,
  sendDm,
  readNewMessages,
  listPeers,
  getHistory,
  askPeer,
  waitForMessages,
  setState,
  getState,
  leaveGroup,
  claimPaths,
  releasePaths,
  listClaims,
  messageStatus,
];

const EVERY_TOOL = new Map(TOOLS.map((tool) => [tool.name, tool]));
const OBSERVER_TOOLS = new Map(TOOLS.filter((tool) => tool.observers).map((tool) => [tool.name, tool]));

/** The tools this caller is offered: an observer token reads, never writes to the group. */
export function toolsFor(caller: Caller): ReadonlyMap<string, RelayTool> {
  return caller.role === "observer" ? OBSERVER_TOOLS : EVERY_TOOL;
}

/** A fresh SDK server offering the caller's tools from the table. */
export function buildRelayServer(ctx: ToolContext): McpServer {
  const server = new McpServer(SERVER_INFO);
  for (const tool of toolsFor(ctx.caller).values()) {
    server.registerTool(
      tool.name,
      { description: tool.description, inputSchema: tool.inputSchema, annotations: tool.annotations },
      (input) => tool.handler(ctx, input),
    );
  }
  return server;
}

/**
 * The name the channel server is registered under (`server:<name>` in Claude Code's launch flag).
 * On its own so that setup can name the server without bundling the MCP SDK that channel.ts loads.
 */
export const CHANNEL_SERVER_NAME = "relay-channel";

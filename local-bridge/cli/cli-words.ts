/**
 * The relay words its refusals for the model that calls its MCP tools ("call send_dm with
 * reply_to=…", "Input validation error: Invalid arguments for tool send_dm"). A person at the CLI
 * typed `relay-bridge dm`, not `send_dm`: the CLI says the same thing in the words they used.
 */

/** Each tool the CLI calls, and the command (or flag) that calls it. */
const TOOL_COMMANDS: Record<string, string> = {
  send_message: "send",
  send_dm: "dm",
  read_new_messages: "read",
  list_peers: "peers",
  get_history: "history",
  ask_peer: "ask",
  get_state: "board get",
  set_state: "board set",
};

/** Tool arguments the CLI takes as flags. */
const ARGUMENT_FLAGS: Record<string, string> = {
  reply_to: "--reply-to",
  timeout_seconds: "--timeout",
  tags: "--tag",
};

// Whole words only (a tool's name inside a longer identifier is not the tool), with or without
// a client's prefix (Claude Code's mcp__relay__ or its plugin's mcp__plugin_relay_relay__, Gemini's
// mcp_relay_) and the backquotes around it.
const TOOL_NAME = new RegExp(`\`?(?<!\\w)(?:mcp__relay__|mcp__plugin_relay_relay__|mcp_relay_)?(${Object.keys(TOOL_COMMANDS).join("|")})(?!\\w)\`?`, "g");
const ARGUMENT = new RegExp(`(?<!\\w)(${Object.keys(ARGUMENT_FLAGS).join("|")})(?!\\w)`, "g");

/** A relay message about tools, in the CLI's commands and flags. */
export function inCliWords(text: string): string {
  return text
    .replace(/Input validation error: Invalid arguments for tool (\w+):?\s*/g, (_, tool: string) => `\`${TOOL_COMMANDS[tool] ?? tool}\` was given input the relay refuses: `)
    .replace(TOOL_NAME, (_, tool: string) => `\`${TOOL_COMMANDS[tool]}\``)
    .replace(ARGUMENT, (_, name: string) => ARGUMENT_FLAGS[name]!);
}

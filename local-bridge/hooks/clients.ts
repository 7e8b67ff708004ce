/**
 * One hook program for three clients. Claude Code, Codex CLI and Gemini CLI all run a command per
 * lifecycle event, hand it JSON on stdin and read JSON on stdout, in nearly the shape Claude Code
 * defined; what differs is each event's name, where the relay's URL and token come from, and what
 * the relay's tools are called. This file maps those differences onto the rules in hook-command.ts
 * (unread summary at start and with prompts, nudge at stop), so each rule is written once.
 *
 * - Claude Code: SessionStart, UserPromptSubmit, PostToolUse, PreToolUse, Stop. As a plugin, its
 *   options reach hooks as `CLAUDE_PLUGIN_OPTION_<KEY>`, and its tools are
 *   `mcp__plugin_<plugin>_<server>__<tool>`.
 * - Codex CLI: the same event names and output shape; tools are `send_message` inside a namespace
 *   `mcp__relay`; `hookSpecificOutput.additionalContext` arrives as a developer message.
 * - Gemini CLI: SessionStart, BeforeAgent (before each prompt), AfterTool, BeforeTool, AfterAgent
 *   (the turn's end; `decision: "block"` makes the reason the next turn); tools are
 *   `mcp_relay_<tool>`; context reaches the model wrapped in `<hook_context>`.
 */
import type { RelayTarget } from "../core/config.ts";
import { targetFrom } from "../core/config.ts";
import { HOOK_EVENTS, type HookName } from "./hook-events.ts";
import { PLUGIN_NAME, PLUGIN_SERVER, PLUGIN_TOOL_PREFIX } from "./plugin-names.ts";

export const CLIENTS = ["claude", "codex", "gemini"] as const;
export type Client = (typeof CLIENTS)[number];

export function isClient(value: string): value is Client {
  return (CLIENTS as readonly string[]).includes(value);
}

/**
 * Each client's name for a Claude Code hook event. Hooks are keyed by Claude Code's event (the
 * value in HOOK_EVENTS), so a hook other helpers add (mid-turn mail after a tool, claims before an
 * edit) reaches every client's setup by its event alone.
 */
const GEMINI_EVENTS: Record<string, string> = {
  SessionStart: "SessionStart",
  UserPromptSubmit: "BeforeAgent",
  PostToolUse: "AfterTool",
  PreToolUse: "BeforeTool",
  Stop: "AfterAgent",
};

/** `client`'s event for the relay hook `hook` (a key of HOOK_EVENTS), or undefined when it has none. */
export function clientEvent(client: Client, hook: string): string | undefined {
  const claude = (HOOK_EVENTS as Record<string, string>)[hook];
  if (!claude) return undefined;
  return client === "gemini" ? GEMINI_EVENTS[claude] : claude;
}

/** The relay's hooks that `client` can run, with its event name for each. */
export function clientHooks(client: Client): { hook: HookName; event: string }[] {
  const hooks: { hook: HookName; event: string }[] = [];
  for (const hook of Object.keys(HOOK_EVENTS) as HookName[]) {
    const event = clientEvent(client, hook);
    if (event) hooks.push({ hook, event });
  }
  return hooks;
}

/** How a client's model sees the relay's tools, for hook texts that tell it which tools to use. */
export function relayToolsPattern(client: Client, plugin = false): string {
  switch (client) {
    case "claude":
      return plugin ? `${PLUGIN_TOOL_PREFIX}*` : "mcp__relay__*";
    case "codex":
      return "the mcp__relay tools";
    case "gemini":
      return "mcp_relay_*";
  }
}

/**
 * Whether a tool a hook reports on is one of the relay's, whatever the client calls it: Claude
 * Code's `mcp__relay__send_message` or the plugin's `mcp__plugin_relay_relay__send_message`, and
 * Gemini's `mcp_relay_send_message`.
 */
export function isRelayTool(toolName: string | undefined): boolean {
  return toolName !== undefined && (toolName.startsWith("mcp__relay__") || toolName.startsWith(PLUGIN_TOOL_PREFIX) || toolName.startsWith("mcp_relay_"));
}

/** The permission rule that allows every relay tool in Claude Code, as a plain server or as the plugin's. */
export function claudeAllowRule(plugin = false): string {
  return plugin ? `mcp__plugin_${PLUGIN_NAME}_${PLUGIN_SERVER}` : "mcp__relay";
}

/**
 * Where the hook finds the relay when no `--profile` names one: the plugin's options
 * (`CLAUDE_PLUGIN_OPTION_URL`/`_TOKEN`, which Claude Code sets for a plugin's hooks), else
 * RELAY_URL/RELAY_TOKEN, else the config file's default profile. Throws a UsageError when none.
 */
export function hookTargetFromEnv(env: NodeJS.ProcessEnv = process.env): RelayTarget {
  const url = env.CLAUDE_PLUGIN_OPTION_URL ?? env.CLAUDE_PLUGIN_OPTION_url;
  const token = env.CLAUDE_PLUGIN_OPTION_TOKEN ?? env.CLAUDE_PLUGIN_OPTION_token;
  return targetFrom({ url: url || undefined, token: token || undefined }, env);
}

/** True when the hook runs inside the Claude Code plugin (its options are in the environment). */
export function runsAsPlugin(env: NodeJS.ProcessEnv = process.env): boolean {
  return Boolean(env.CLAUDE_PLUGIN_OPTION_URL ?? env.CLAUDE_PLUGIN_OPTION_url ?? env.CLAUDE_PLUGIN_ROOT);
}

/**
 * The rules' output (Claude Code's shape) for `client`: the event name it expects in
 * `hookSpecificOutput.hookEventName`, and the relay's tools as that client names them. The rule
 * texts name Claude Code's plain `mcp__relay__*`; every other naming is substituted here, in one place.
 */
export function clientOutput(client: Client, hook: string, output: object, plugin = false): object {
  const event = clientEvent(client, hook);
  let text = JSON.stringify(output);
  const tools = relayToolsPattern(client, plugin);
  if (tools !== "mcp__relay__*") text = text.replaceAll("mcp__relay__*", tools);
  const adapted = JSON.parse(text) as { hookSpecificOutput?: { hookEventName?: string } };
  if (event && adapted.hookSpecificOutput && typeof adapted.hookSpecificOutput === "object") adapted.hookSpecificOutput.hookEventName = event;
  return adapted;
}

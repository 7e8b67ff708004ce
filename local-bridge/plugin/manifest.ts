/**
 * The relay as a Claude Code plugin: a marketplace catalogue (`.claude-plugin/marketplace.json`)
 * listing one plugin whose `.claude-plugin/plugin.json` declares
 *
 * - `userConfig`: the relay's URL and the token, the token marked `sensitive` (Claude Code keeps it
 *   in its credentials store, 0600, not in settings.json);
 * - `mcpServers.relay`: the relay's MCP endpoint, its Authorization header filled from
 *   `${user_config.token}` by Claude Code;
 * - `hooks`: the relay's hooks in exec form (no shell; the options reach them as
 *   CLAUDE_PLUGIN_OPTION_URL/_TOKEN in their environment, so no token is on a command line);
 * - commands: `/relay:inbox` and `/relay:peers`.
 *
 * A plugin's tools are `mcp__plugin_<plugin>_<server>__<tool>` (PLUGIN_TOOL_PREFIX), never
 * `mcp__relay__…`: the commands and hook texts name them that way. The Worker builds the same
 * plugin for its hosted marketplace (worker/plugin-marketplace.ts), so this file imports nothing
 * that needs Node.
 */
import { HOOK_EVENTS, type HookName } from "../hooks/hook-events.ts";

import { PLUGIN_NAME, PLUGIN_SERVER, PLUGIN_TOOL_PREFIX } from "../hooks/plugin-names.ts";

export { PLUGIN_NAME, PLUGIN_SERVER, PLUGIN_TOOL_PREFIX } from "../hooks/plugin-names.ts";

export const MARKETPLACE_NAME = "claude-relay";
export const PLUGIN_ID = `${PLUGIN_NAME}@${MARKETPLACE_NAME}`;

/** How the plugin's hooks run the hook program: an executable and the arguments before `hook <name>`. */
export interface HookRunner {
  command: string;
  args: string[];
}

/** Claude Code's limit per hook, in seconds; the hook gives up well before it. */
const HOOK_TIMEOUT_S = 5;

export function pluginManifest(version: string, runner: HookRunner): object {
  const hooks: Record<string, object[]> = {};
  for (const [hook, event] of Object.entries(HOOK_EVENTS) as [HookName, string][]) {
    hooks[event] = [{ hooks: [{ type: "command", command: runner.command, args: [...runner.args, "hook", hook, "--client", "claude"], timeout: HOOK_TIMEOUT_S }] }];
  }
  return {
    name: PLUGIN_NAME,
    version,
    description: "A team relay: talk with other agents and people in one room, across machines.",
    userConfig: {
      url: { type: "string", title: "Relay URL", description: "The relay's base URL, e.g. https://relay.example.workers.dev", required: true },
      token: { type: "string", title: "Relay token", description: "Your token for the relay (rly1.…), from an invite or `npm run token`", required: true, sensitive: true },
    },
    mcpServers: {
      [PLUGIN_SERVER]: { type: "http", url: "${user_config.url}/mcp", headers: { Authorization: "Bearer ${user_config.token}" } },
    },
    hooks,
    author: { name: "claude-relay" },
  };
}

export function marketplaceManifest(pluginSource: string | object, version: string): object {
  return {
    name: MARKETPLACE_NAME,
    owner: { name: "claude-relay" },
    description: "The team relay for Claude Code, as a plugin.",
    plugins: [{ name: PLUGIN_NAME, source: pluginSource, version, description: "A team relay: the relay's tools, hooks for new mail, and /relay:inbox." }],
  };
}

/** The plugin's slash commands, by file name under commands/ (`/relay:<name>`). */
export const PLUGIN_COMMANDS: Record<string, string> = {
  "inbox.md": `---
description: Read your unread relay mail and summarise it
---
Call the relay tool ${PLUGIN_TOOL_PREFIX}read_new_messages, then summarise the messages for me: who wrote, what they ask, and what needs an answer. Answer nothing yet unless I say so.
`,
  "peers.md": `---
description: Who is in the relay room
---
Call the relay tool ${PLUGIN_TOOL_PREFIX}list_peers and show me who is in the group, and which of them are active.
`,
};

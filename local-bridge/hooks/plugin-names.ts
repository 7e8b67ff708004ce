/**
 * The plugin's name and its MCP server's name. Claude Code prefixes a plugin's tools with both
 * (`mcp__plugin_<plugin>_<server>__<tool>`), so the hooks need them to name the tools, and the
 * plugin's manifest (plugin/manifest.ts) to declare them. Plain values: the Worker imports them too.
 */
export const PLUGIN_NAME = "relay";
export const PLUGIN_SERVER = "relay";
export const PLUGIN_TOOL_PREFIX = `mcp__plugin_${PLUGIN_NAME}_${PLUGIN_SERVER}__`;

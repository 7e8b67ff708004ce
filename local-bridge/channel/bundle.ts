/**
 * Where the channel server's code is. It is a bundle of its own beside relay-bridge.mjs (it carries
 * the MCP SDK, which an idle `connect` bridge should not load), so the single file a relay serves at
 * /bridge.mjs does not have it. From the TypeScript sources it is channel-main.ts.
 */
import { existsSync } from "node:fs";
import { fileURLToPath, pathToFileURL } from "node:url";
import { BridgeError } from "../core/errors.ts";

export const CHANNEL_BUNDLE = "relay-channel.mjs";

/** The channel server's module for the relay-bridge script at `script` (a file URL or a path). */
export function channelEntry(script: string): URL {
  const url = script.startsWith("file:") ? script : pathToFileURL(script).href;
  return new URL(url.endsWith(".ts") ? "../channel/channel-main.ts" : `./${CHANNEL_BUNDLE}`, url);
}

/** Refuses, saying what works instead, when the relay-bridge at `script` has no channel server beside it. */
export function requireChannelServer(script: string): void {
  const entry = channelEntry(script);
  if (existsSync(fileURLToPath(entry))) return;
  throw new BridgeError(
    `this relay-bridge has no channel server: ${fileURLToPath(entry)} is not beside it (the single file a relay serves ` +
      `at /bridge.mjs leaves the channel out). Without it: \`relay-bridge setup\` (a tmux split types notices into the ` +
      `Claude Code pane) or \`relay-bridge hooks install\` (no tmux needed). For channel mode, install the bridge ` +
      `package with its three files (dist/relay-bridge.mjs, relay-hook.mjs, ${CHANNEL_BUNDLE}).`,
  );
}

/**
 * `relay-bridge setup --client codex|gemini [--project DIR] [--trust]`: one command from a relay
 * URL and a token to a Codex or Gemini CLI that has the relay's tools and is told of new mail by
 * its own hooks. Claude Code keeps its own setup (setup.ts) and its plugin (plugin/).
 */
import { confirm } from "@inquirer/prompts";
import type { RelayTarget } from "../core/config.ts";
import { UsageError } from "../core/errors.ts";
import { shellLine } from "../core/shell.ts";
import { announceClient } from "./announce.ts";
import { setupCodex } from "./codex.ts";
import { geminiTrusts, setupGemini, trustForGemini } from "./gemini.ts";

export interface ClientSetupOptions {
  client: string;
  target: RelayTarget;
  /** The project Gemini must trust (default: this directory). */
  project?: string | undefined;
  /** Trust the project for Gemini without asking (true), never (false), or ask (undefined). */
  trust?: boolean | undefined;
  bridgeCommand: string[];
  print: (line: string) => void;
  confirm?: (message: string) => Promise<boolean>;
}

export async function setupOtherClient(options: ClientSetupOptions): Promise<void> {
  await setupFiles(options);
  if (!(await announceClient(options.target, options.client))) {
    options.print(`note: could not tell the relay this peer runs ${options.client} (it shows in list_peers once told); everything else is set up`);
  }
}

async function setupFiles(options: ClientSetupOptions): Promise<void> {
  const { target, print } = options;
  switch (options.client) {
    case "codex": {
      if (options.project !== undefined) print(`note: Codex reads the relay's tools and hooks from ~/.codex for every project; --project changes nothing for it`);
      const result = setupCodex(target, options.bridgeCommand);
      print(`Codex: the relay's tools (mcp_servers.relay, ${target.mcpUrl}) in ${result.configPath} (mode 0600)`);
      print(`Codex: hooks ${result.events.join(", ")} in ${result.hooksPath}, marked trusted in ${result.configPath} (profile ${result.profile})`);
      print(`start a new Codex session (\`codex\`) to load them: you are ${target.peer} in relay group ${target.group}`);
      return;
    }
    case "gemini": {
      const result = setupGemini(target, options.bridgeCommand);
      print(`Gemini: the relay's tools (mcpServers.relay, ${target.mcpUrl}) and hooks ${result.events.join(", ")} in ${result.settingsPath} (mode 0600, profile ${result.profile})`);
      const project = options.project ?? process.cwd();
      if (geminiTrusts(project)) {
        print(`Gemini already trusts ${project}`);
      } else {
        print(`Gemini CLI ignores MCP servers and hooks in folders it does not trust, and ${project} is not trusted yet`);
        const trust = options.trust ?? (await (options.confirm ?? defaultConfirm)(`Trust ${project} for Gemini CLI (adds it to ~/.gemini/trustedFolders.json)?`));
        if (trust) print(`Gemini now trusts ${project} (${trustForGemini(project)})`);
        else print(`not trusted; to trust it later: ${shellLine([...options.bridgeCommand, "setup", "--client", "gemini", "--project", project, "--trust"])}, or answer Gemini's trust dialog there`);
      }
      print(`start a new Gemini session (\`gemini\`) in ${project} to load them: you are ${target.peer} in relay group ${target.group}`);
      return;
    }
    default:
      throw new UsageError(`unknown client ${JSON.stringify(options.client)}: --client codex or --client gemini (for Claude Code: \`relay-bridge setup\`, or \`relay-bridge plugin install\`)`);
  }
}

async function defaultConfirm(message: string): Promise<boolean> {
  if (!process.stdin.isTTY) return false;
  return confirm({ message, default: true });
}

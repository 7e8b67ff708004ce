/**
 * `relay-bridge plugin install [--url URL --token TOKEN | --profile NAME]`: the relay as a Claude
 * Code plugin, the way Claude Code users install things. It writes a local directory marketplace
 * (manifest.ts) under the bridge's data directory, then runs Claude Code's own commands:
 *
 *   claude plugin marketplace add DIR
 *   claude plugin install relay@claude-relay
 *   claude plugin configure relay@claude-relay --values-stdin     (URL and token on stdin)
 *
 * The token goes through stdin only: never a command line (`ps`), never a file we write.
 */
import { execFile } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { basename, dirname, join } from "node:path";
import { parseArgs } from "node:util";
import { targetFrom, type RelayTarget } from "../core/config.ts";
import { BridgeError, UsageError } from "../core/errors.ts";
import { shellLine } from "../core/shell.ts";
import { claudeAllowRule } from "../hooks/clients.ts";
import { allowRule, readSettings, settingsPath, writeSettings } from "../hooks/claude-settings.ts";
import { HOOK_BUNDLE } from "../hooks/hooks.ts";
import { announceClient } from "../setup/announce.ts";
import { marketplaceManifest, MARKETPLACE_NAME, PLUGIN_COMMANDS, PLUGIN_ID, pluginManifest, type HookRunner } from "./manifest.ts";

export const PLUGIN_USAGE = `  relay-bridge plugin install [--url URL --token TOKEN | --profile NAME] [--dir DIR] [--no-permissions]
      Install the relay as a Claude Code plugin: its tools, its hooks for new mail, /relay:inbox.
      Builds a local marketplace (default ~/.local/share/claude-relay/marketplace) and runs
      \`claude plugin marketplace add\`, \`claude plugin install\` and \`claude plugin configure\`
      (the token goes through stdin). Also allows the plugin's tools in ~/.claude/settings.json
      (--no-permissions skips that).
`;

export function marketplaceDir(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.XDG_DATA_HOME || join(env.HOME || homedir(), ".local", "share"), "claude-relay", "marketplace");
}

/**
 * The hook program for the plugin: the small hook bundle copied into the plugin (so the plugin
 * keeps working wherever the bridge moves), else this CLI as it runs now (from source).
 */
function hookRunner(pluginDir: string, bridgeCommand: string[]): HookRunner {
  const [node, script = ""] = bridgeCommand;
  const small = join(dirname(script), HOOK_BUNDLE);
  if (basename(script) === "relay-bridge.mjs" && existsSync(small)) {
    copyFileSync(small, join(pluginDir, HOOK_BUNDLE));
    return { command: node!, args: ["${CLAUDE_PLUGIN_ROOT}/" + HOOK_BUNDLE] };
  }
  return { command: node!, args: bridgeCommand.slice(1) };
}

/** Writes the marketplace and its plugin into `dir`; returns the plugin's directory. */
export function writeMarketplace(dir: string, version: string, bridgeCommand: string[]): string {
  const pluginDir = join(dir, "plugins", "relay");
  mkdirSync(join(dir, ".claude-plugin"), { recursive: true });
  mkdirSync(join(pluginDir, ".claude-plugin"), { recursive: true });
  mkdirSync(join(pluginDir, "commands"), { recursive: true });
  const runner = hookRunner(pluginDir, bridgeCommand);
  writeFileSync(join(pluginDir, ".claude-plugin", "plugin.json"), `${JSON.stringify(pluginManifest(version, runner), null, 2)}\n`);
  for (const [name, text] of Object.entries(PLUGIN_COMMANDS)) writeFileSync(join(pluginDir, "commands", name), text);
  writeFileSync(join(dir, ".claude-plugin", "marketplace.json"), `${JSON.stringify(marketplaceManifest("./plugins/relay", version), null, 2)}\n`);
  return pluginDir;
}

interface Ran {
  ok: boolean;
  output: string;
}

function claude(args: string[], input?: string): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const child = execFile("claude", args, { timeout: 120_000 }, (error, stdout, stderr) => {
      if (error && (error as NodeJS.ErrnoException).code === "ENOENT") {
        return reject(new BridgeError(`the \`claude\` command is not on PATH: install Claude Code, then run this again`));
      }
      resolve({ ok: !error, output: `${stdout}${stderr}`.trim() });
    });
    child.stdin?.end(input ?? "");
  });
}

async function step(args: string[], print: (line: string) => void, tolerated?: RegExp, input?: string): Promise<void> {
  const result = await claude(args, input);
  if (result.ok || (tolerated && tolerated.test(result.output))) {
    print(`claude ${args.join(" ")}: ${result.output.split("\n").at(-1) || "ok"}`);
    return;
  }
  throw new BridgeError(`\`${shellLine(["claude", ...args])}\` failed: ${result.output || "no output"}\nfix that and run \`relay-bridge plugin install\` again`);
}

export interface PluginInstallOptions {
  target: RelayTarget;
  dir: string;
  version: string;
  bridgeCommand: string[];
  permissions: boolean;
  print: (line: string) => void;
}

export async function installPlugin(options: PluginInstallOptions): Promise<void> {
  const { target, dir, print } = options;
  writeMarketplace(dir, options.version, options.bridgeCommand);
  print(`wrote the relay's plugin marketplace to ${dir}`);
  await step(["plugin", "marketplace", "add", dir], print, /already/i);
  // A marketplace added before keeps its old copy of the catalogue until updated.
  await step(["plugin", "marketplace", "update", MARKETPLACE_NAME], print, /./);
  await step(["plugin", "install", PLUGIN_ID], print, /already installed/i);
  await step(["plugin", "configure", PLUGIN_ID, "--values-stdin"], print, undefined, JSON.stringify({ url: target.baseUrl, token: target.token }));
  if (options.permissions) {
    const path = settingsPath({ user: true });
    const settings = readSettings(path);
    if (allowRule(settings, claudeAllowRule(true))) writeSettings(path, settings);
    print(`allowed the plugin's relay tools without a prompt ("${claudeAllowRule(true)}" in ${path}; --no-permissions skips this)`);
  }
  if (!(await announceClient(target, "claude-code"))) print(`note: could not tell the relay this peer runs Claude Code (list_peers shows it once told)`);
  print(`installed: you are ${target.peer} in relay group ${target.group}. Start a new Claude Code session (or /reload-plugins) to load it; /relay:inbox reads your mail`);
}

const OPTIONS = {
  url: { type: "string" },
  token: { type: "string" },
  profile: { type: "string" },
  dir: { type: "string" },
  "no-permissions": { type: "boolean", default: false },
  help: { type: "boolean", short: "h", default: false },
} as const;

export async function pluginCommand(args: string[], bridgeCommand: string[], version: string): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ options: OPTIONS, args, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError(`${(error as Error).message}\n\n${PLUGIN_USAGE}`);
  }
  const { values, positionals } = parsed;
  if (values.help || positionals[0] !== "install" || positionals.length > 1) {
    process.stdout.write(PLUGIN_USAGE);
    return values.help ? 0 : 2;
  }
  const target = targetFrom(values);
  for (const note of target.notes) process.stdout.write(`${note}\n`);
  await installPlugin({
    target,
    dir: values.dir ?? marketplaceDir(),
    version: /^\d+\.\d+\.\d+/.exec(version)?.[0] ?? "0.0.0",
    bridgeCommand,
    permissions: !values["no-permissions"],
    print: (line) => process.stdout.write(`${line}\n`),
  });
  return 0;
}

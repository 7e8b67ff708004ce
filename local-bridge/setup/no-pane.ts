/**
 * `setup` where no tmux pane runs Claude Code (no tmux at all, or Claude started outside it): the
 * whole job for the session in this directory, without a bridge. The relay's tools
 * (`claude mcp add`), the permission rule, the hooks (which then carry every notice: at session
 * start, with prompts, before Claude stops, and mid-turn for urgent mail), and a first hello so
 * the peer is known to the group at once and DMs to it work before its session ever calls a tool.
 */
import { shellLine } from "../core/shell.ts";
import { callTool } from "../core/relay-api.ts";
import type { SetupOptions } from "./options.ts";

export interface ProjectSteps {
  registerTools(cwd: string, options: SetupOptions): Promise<void>;
  finishProject(cwd: string, options: SetupOptions): Promise<void>;
}

export async function setupWithoutPane(options: SetupOptions, steps: ProjectSteps, restartAdvice: string): Promise<void> {
  const { print, target } = options;
  const cwd = process.cwd();
  // Without a pane the hooks are the only way notices reach the session: installed unless refused.
  const withHooks: SetupOptions = { ...options, hooks: options.hooks === "skip" ? "skip" : "install" };
  if (options.printOnly) {
    print(`# no tmux pane runs Claude Code: setting up the session in ${cwd} with hooks instead of a bridge`);
    print(`# 1. register the relay's tools with Claude Code, in this project:`);
    print(shellLine(["claude", "mcp", "add", "--transport", "http", "relay", target.mcpUrl, "--header", `Authorization: Bearer ${target.token}`]));
    print(`# 2. allow them without a prompt, and install the hooks:`);
    print(shellLine([...options.bridgeCommand, "hooks", "install", "--project", cwd]));
    print(`# 3. say hello, so the group knows ${target.peer}:`);
    print(shellLine([...options.bridgeCommand, "peers"]));
    return;
  }
  print(`no tmux pane runs Claude Code: setting up the session in ${cwd} with hooks instead of a bridge (start Claude in tmux and run setup again for notices typed into an idle session)`);
  await steps.registerTools(cwd, withHooks);
  await steps.finishProject(cwd, withHooks);
  // list_peers makes the relay record the peer and changes nothing it said about itself.
  await callTool(target, "list_peers", {});
  print(`said hello: ${target.peer} is known in group ${target.group}, so peers can DM it now`);
  print(restartAdvice);
}

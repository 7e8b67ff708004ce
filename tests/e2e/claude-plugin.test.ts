/**
 * The relay as a Claude Code plugin, with the real Claude Code CLI offline (model:
 * tests/helpers/model-standin.ts): `relay-bridge plugin install --url --token` alone, in a private
 * HOME, must leave a plugin whose MCP server `claude mcp list` reports Connected (its header filled
 * from the sensitive option), whose tools the model calls by the plugin's names
 * (mcp__plugin_relay_relay__*), and whose hooks tell the model of unread mail, naming those tools.
 *
 * Needs `claude` on PATH (.ci/run installs it); skipped, saying so, where it is absent.
 */
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CLI } from "../helpers/bridge-process.ts";
import { allText, claudeEnv, claudeVersion, lastUserText, startModelStandin, type ModelStandin } from "../helpers/model-standin.ts";
import { callTool as call, relayClient } from "../helpers/relay-client.ts";
import { sharedRelay, type SharedRelay } from "../helpers/shared-relay.ts";

const run = promisify(execFile);
const version = claudeVersion("claude-plugin.test.ts");
const PREFIX = "mcp__plugin_relay_relay__";

let relay: SharedRelay;
let model: ModelStandin;
const clients: Client[] = [];

describe.skipIf(!version)(`the relay as a Claude Code plugin (${version}), offline`, () => {
  let home: string;
  let project: string;
  let env: NodeJS.ProcessEnv;
  let token: string;
  let alice: Client;
  let installed: string;

  beforeAll(async () => {
    [relay, model] = await Promise.all([
      sharedRelay(),
      startModelStandin((request) => {
        const last = lastUserText(request);
        if (last.includes("Tell the team")) return { tool: `${PREFIX}send_message`, input: { text: "hello from the plugin" } };
        return { text: "Done." };
      }),
    ]);
    home = mkdtempSync(join(tmpdir(), "claude-plugin-"));
    project = join(home, "project");
    mkdirSync(project);
    env = claudeEnv(home, project, model.url, { XDG_CONFIG_HOME: join(home, ".config"), XDG_STATE_HOME: join(home, ".state"), XDG_DATA_HOME: join(home, ".data") });
    token = await relay.mint("plugin-e2e", "erin");
    ({ stdout: installed } = await run(process.execPath, [CLI, "plugin", "install", "--url", relay.url, "--token", token], { cwd: project, env, timeout: 240_000 }));
    alice = await relayClient(relay.url, await relay.mint("plugin-e2e", "alice"));
    const erin = await relayClient(relay.url, token);
    clients.push(alice, erin);
    await call(erin, "list_peers");
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await model?.stop();
  });

  it("installs through Claude Code's own commands, keeps the token out of settings, and its server is Connected", async () => {
    expect(installed).toContain("installed: you are erin in relay group plugin-e2e");
    expect((await call(alice, "list_peers")).peers).toContainEqual(expect.objectContaining({ name: "erin", client: "claude-code" }));
    const settings = readFileSync(join(home, ".claude", "settings.json"), "utf8");
    expect(settings).not.toContain(token);
    expect(settings).toContain("mcp__plugin_relay_relay");
    const credentials = join(home, ".claude", ".credentials.json");
    expect(readFileSync(credentials, "utf8")).toContain(token);
    expect(statSync(credentials).mode & 0o777).toBe(0o600);
    const { stdout } = await run("claude", ["mcp", "list"], { cwd: project, env, timeout: 90_000 });
    expect(stdout).toMatch(/plugin:relay:relay: .*Connected/);
  });

  it("its model is told of unread mail by the plugin's hooks and sends with the plugin's tools", async () => {
    await call(alice, "send_dm", { to: "erin", text: "please review PR 13" });
    const from = model.requests.length;
    await run("claude", ["-p", "Tell the team hello.", "--allowedTools", "mcp__plugin_relay_relay"], { cwd: project, env, timeout: 90_000 });
    const turns = model.requests.slice(from).filter((r) => (r.body.tools ?? []).length > 0);
    expect(turns[0]!.body.tools!.map((t) => t.name)).toContain(`${PREFIX}send_message`);
    expect(allText(turns[0]!)).toContain(`[relay] This session is erin in relay group plugin-e2e: 1 unread (DM from alice). Team messages go through the relay tools (${PREFIX}*)`);
    const inbox = await call(alice, "read_new_messages");
    expect(inbox.messages).toEqual([expect.objectContaining({ from: "erin", text: "hello from the plugin" })]);
  });
});

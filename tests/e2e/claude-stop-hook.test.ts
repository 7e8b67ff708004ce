/**
 * The Stop hook's limit inside the real Claude Code CLI (headless, `claude -p`), offline against the
 * model stand-in and the real relay: a DM left unread holds the stop once; a second DM that lands
 * while Claude is continuing because of that block does not hold it again (Claude Code says so with
 * `stop_hook_active`), so the turn ends; the second DM stays unread for the next stop or prompt.
 *
 * Needs `claude` on PATH; skipped, saying so, where it is absent.
 */
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { execFile, execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CLI } from "../helpers/bridge-process.ts";
import { claudeEnv, claudeVersion, lastUserText, startModelStandin, type ModelStandin } from "../helpers/model-standin.ts";
import { callTool as call, relayClient } from "../helpers/relay-client.ts";
import { startRelay, type RelayServer } from "../helpers/relay-server.ts";

const run = promisify(execFile);
const version = claudeVersion("claude-stop-hook.test.ts");

let relay: RelayServer;
let model: ModelStandin;
const clients: Client[] = [];

describe.skipIf(!version)(`the Stop hook in Claude Code (${version}), offline`, () => {
  beforeAll(async () => {
    [relay, model] = await Promise.all([startRelay(), startModelStandin()]);
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await Promise.all([relay?.stop(), model?.stop()]);
  });

  it("blocks once; mail arriving while Claude continues does not block again, and the turn ends", async () => {
    const group = "stop-limit";
    const home = mkdtempSync(join(tmpdir(), "claude-stop-"));
    const project = join(home, "project");
    mkdirSync(project);
    // Claude Code caps consecutive blocks on its own; raised here so only the hook's rule can stop a second block.
    const env = claudeEnv(home, project, model.url, {
      XDG_CONFIG_HOME: join(home, ".config"),
      XDG_STATE_HOME: join(home, ".state"),
      CLAUDE_CODE_STOP_HOOK_BLOCK_CAP: "10",
    });
    const bobToken = await relay.mint(group, "bob");
    const aliceToken = await relay.mint(group, "alice");
    await run("claude", ["mcp", "add", "--transport", "http", "relay", `${relay.url}/mcp`, "--header", `Authorization: Bearer ${bobToken}`], { cwd: project, env });
    await run(process.execPath, [CLI, "hooks", "install", "--project", project, "--url", relay.url, "--token", bobToken], { cwd: project, env });
    // The hooks as installed give the relay 1.5 s and Claude Code gives them 5 s: on a loaded machine
    // a hook started from the TypeScript sources can miss that and fail open, which would hide the
    // very block under test. Generous bounds here; the hooks' own timing is the bench's business.
    const settingsFile = join(project, ".claude", "settings.local.json");
    const settings = JSON.parse(readFileSync(settingsFile, "utf8")) as { hooks: Record<string, { hooks: { command: string; timeout: number }[] }[]> };
    for (const group of Object.values(settings.hooks).flat()) {
      for (const hook of group.hooks) Object.assign(hook, { command: `${hook.command} --timeout-ms 20000`, timeout: 60 });
    }
    writeFileSync(settingsFile, JSON.stringify(settings, null, 2));
    const bob = await relayClient(relay.url, bobToken);
    const alice = await relayClient(relay.url, aliceToken);
    clients.push(bob, alice);
    await call(bob, "list_peers"); // the relay now knows bob: DMs to him work
    await call(alice, "send_dm", { to: "bob", text: "please review PR 7" });

    // The model ends its turn without reading. When the hook holds it back, a second DM lands
    // before the model answers (sent synchronously, so it is stored before Claude stops again),
    // and the model again answers without reading.
    let secondSent = false;
    model.setScript((request) => {
      if (/Stop hook feedback/i.test(lastUserText(request)) && !secondSent) {
        execFileSync(process.execPath, [CLI, "dm", "bob", "and the docs, please", "--url", relay.url, "--token", aliceToken], { env, timeout: 60_000 });
        secondSent = true;
        return { text: "I will read the mail after this." };
      }
      return { text: "Done." };
    });

    const from = model.requests.length;
    await run("claude", ["-p", "Carry on with the refactor.", "--allowedTools", "mcp__relay"], { cwd: project, env, timeout: 150_000 });
    const turns = model.requests.slice(from).filter((r) => (r.body.tools ?? []).length > 0);

    const held = turns.filter((t) => /Stop hook feedback/i.test(lastUserText(t)));
    expect(secondSent).toBe(true);
    expect(held).toHaveLength(1);
    expect(lastUserText(held[0]!)).toContain("[relay] 1 unread (DM from alice). Call read_new_messages.");
    // The prompt's turn and the one continuation; nothing after it.
    expect(turns).toHaveLength(2);

    // Nothing was marked read: both DMs wait for the next natural stop or prompt.
    const unread = await fetch(`${relay.url}/groups/${group}/unread`, { headers: { Authorization: `Bearer ${bobToken}` } });
    expect(await unread.json()).toMatchObject({ total: 2, dms: 2 });
  }, 300_000);
});

/**
 * The tmux bridge with the real Claude Code TUI, offline: `connect --pane` types its one-line notice
 * into Claude Code's own input box, Claude Code sends it to the model (a local Messages API
 * stand-in that records it), and a second bridge for that pane is refused. Earlier tests check the
 * typing against a stand-in pane only; this one closes the loop to the model.
 *
 * Needs `claude` on PATH (.ci/run installs it); skipped, saying so, where it is absent.
 */
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { mkdirSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startBridge, stopBridge, type BridgeProcess } from "../helpers/bridge-process.ts";
import { claudeEnv, claudeVersion, lastUserText, startModelStandin, type ModelStandin } from "../helpers/model-standin.ts";
import { callTool, relayClient } from "../helpers/relay-client.ts";
import { sharedRelay, type SharedRelay } from "../helpers/shared-relay.ts";
import { TmuxLab } from "../helpers/tmux-lab.ts";
import { waitFor } from "../helpers/wait.ts";

const version = claudeVersion("claude-tui.test.ts");

/** What Claude Code needs from its environment; passed through env(1), since tmux resets a new pane's. */
const CLAUDE_VARS = ["HOME", "ANTHROPIC_BASE_URL", "ANTHROPIC_API_KEY", "DISABLE_AUTOUPDATER", "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "ENABLE_TOOL_SEARCH", "PATH"];

describe.skipIf(!version)(`the tmux bridge with the real Claude Code TUI (${version}), offline`, () => {
  let relay: SharedRelay;
  let model: ModelStandin;
  let lab: TmuxLab;
  const bridges: BridgeProcess[] = [];
  let alice: Client;

  beforeAll(async () => {
    [relay, model] = await Promise.all([sharedRelay(), startModelStandin(() => ({ text: "Noted." }))]);
    lab = TmuxLab.start();
  });
  afterAll(async () => {
    await Promise.all(bridges.map(stopBridge));
    await alice?.close();
    lab?.kill();
    await model?.stop();
  });

  it("the bridge's notice reaches the model through Claude Code's input box; a second bridge is refused", async () => {
    const home = mkdtempSync(join(tmpdir(), "claude-tui-"));
    const project = join(home, "project");
    mkdirSync(project);
    const env = claudeEnv(home, project, model.url);
    const pane = lab.window(["env", ...CLAUDE_VARS.map((k) => `${k}=${env[k]}`), "claude"], {}, project);
    const screen = () => lab.tmuxSync(["capture-pane", "-p", "-t", pane]);
    await waitFor(() => /^❯/m.test(screen()), { timeoutMs: 60_000, what: "Claude Code's prompt" });

    const token = await relay.mint("tui", "bob");
    const runtime = { TMUX: lab.tmuxEnv(), XDG_RUNTIME_DIR: mkdtempSync(join(tmpdir(), "relay-runtime-")) };
    const bridge = startBridge(["connect", "--url", relay.url, "--token", token, "--pane", pane], runtime);
    bridges.push(bridge);
    await waitFor(() => bridge.stderr().includes("connected"), { what: "the bridge to connect" });

    const second = startBridge(["connect", "--url", relay.url, "--token", token, "--pane", pane], runtime);
    expect(await second.exited).toBe(1);
    expect(second.stderr()).toContain(`already served by another relay-bridge (pid ${bridge.child.pid})`);

    alice = await relayClient(relay.url, await relay.mint("tui", "alice"));
    const sentAt = Date.now();
    await callTool(alice, "send_dm", { to: "bob", text: "the deploy is green" });

    const heard = await waitFor(
      () => model.requests.find((r) => lastUserText(r).includes("[relay] 1 new message in tui (DM from alice)")),
      { timeoutMs: 60_000, what: "the notice to reach the model" },
    );
    expect(lastUserText(heard)).toContain("Call read_new_messages.");
    // Never the message text: that reaches the model only through the relay's tools.
    expect(lastUserText(heard)).not.toContain("the deploy is green");
    console.log(`tmux bridge: notice-to-model ${heard.at - sentAt} ms`);
    await waitFor(() => screen().includes("Noted."), { what: "Claude Code to show the model's answer" });
  });
});

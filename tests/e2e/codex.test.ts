/**
 * Codex CLI as a peer, offline: the real `codex exec` against a local stand-in for the Responses
 * API (tests/helpers/codex-standin.ts), set up by `relay-bridge setup --client codex` alone.
 *
 * - setup keeps what config.toml already held, makes it 0600, and the hooks it writes are the ones
 *   Codex itself reports as trusted (`codex app-server`, `hooks/list`), so they run;
 * - Codex's model sends through the relay and another peer reads it;
 * - with a DM unread, the SessionStart hook tells the model (a developer message), and the Stop
 *   hook holds the turn once, so the model reads the DM.
 *
 * Needs `codex` on PATH (.ci/run installs @openai/codex); skipped, saying so, where it is absent.
 */
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { execFile, execFileSync, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CLI } from "../helpers/bridge-process.ts";
import { codexText, codexTools, developerText, lastInputText, lastUserText, startCodexStandin, type CodexStandin } from "../helpers/codex-standin.ts";
import { callTool as call, relayClient } from "../helpers/relay-client.ts";
import { sharedRelay, type SharedRelay } from "../helpers/shared-relay.ts";

const run = promisify(execFile);

function codexVersion(): string | null {
  try {
    return execFileSync("codex", ["--version"], { encoding: "utf8", timeout: 20_000 }).trim();
  } catch {
    console.warn("codex.test.ts: `codex` is not on PATH; install @openai/codex@0.171.0 to run it.");
    return null;
  }
}
const version = codexVersion();

let relay: SharedRelay;
let model: CodexStandin;
const clients: Client[] = [];

/** What config.toml held before setup: the stand-in provider, and a comment and table of the person's own. */
const PROVIDER = (url: string) => `# my own settings
model = "gpt-standin"
model_provider = "mock"
approval_policy = "never"

[model_providers.mock]
name = "stand-in"
base_url = "${url}"
wire_api = "responses"
env_key = "STANDIN_API_KEY"

[projects."/somewhere"]
trust_level = "trusted"
`;

/** `codex app-server`'s hooks/list for `cwd`: every hook Codex found, with its trust. */
async function hooksList(env: NodeJS.ProcessEnv, cwd: string): Promise<{ key: string; command: string; trustStatus: string; currentHash: string }[]> {
  const child = spawn("codex", ["app-server"], { env, cwd, stdio: ["pipe", "pipe", "ignore"] });
  const lines: string[] = [];
  let buffer = "";
  const answered = new Promise<void>((resolve) => {
    child.stdout.on("data", (chunk: Buffer) => {
      buffer += chunk.toString("utf8");
      let at: number;
      while ((at = buffer.indexOf("\n")) >= 0) {
        lines.push(buffer.slice(0, at));
        buffer = buffer.slice(at + 1);
        if (lines.at(-1)!.includes('"id":2')) resolve();
      }
    });
  });
  child.stdin.write(`${JSON.stringify({ jsonrpc: "2.0", id: 1, method: "initialize", params: { clientInfo: { name: "relay-test", version: "1" } } })}\n`);
  child.stdin.write(`${JSON.stringify({ jsonrpc: "2.0", method: "initialized" })}\n`);
  child.stdin.write(`${JSON.stringify({ jsonrpc: "2.0", id: 2, method: "hooks/list", params: { cwds: [cwd] } })}\n`);
  await answered;
  child.kill();
  const reply = JSON.parse(lines.find((line) => line.includes('"id":2'))!) as { result: { data: { hooks: never[] }[] } };
  return reply.result.data.flatMap((entry) => entry.hooks);
}

/** One `codex exec` turn. Its stdin is closed: with a pipe there, Codex waits for more prompt. */
function codexExec(prompt: string, cwd: string, env: NodeJS.ProcessEnv): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn("codex", ["exec", "--skip-git-repo-check", prompt], { cwd, env, stdio: ["ignore", "pipe", "pipe"], timeout: 90_000 });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString("utf8")));
    child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString("utf8")));
    child.on("error", reject);
    child.on("close", (code) => (code === 0 ? resolve(output) : reject(new Error(`codex exec exited ${code}:\n${output}`))));
  });
}

describe.skipIf(!version)(`Codex CLI (${version}) as a relay peer, offline`, () => {
  let home: string;
  let project: string;
  let env: NodeJS.ProcessEnv;
  let alice: Client;

  beforeAll(async () => {
    relay = await sharedRelay();
    model = await startCodexStandin((request) => {
      const user = lastUserText(request);
      if (!codexTools(request).includes("mcp__relay.send_message")) return { text: "no relay tools" };
      if (lastInputText(request).includes("function_call_output")) return { text: "Done." };
      if (user.includes("<hook_prompt") && user.includes("Call read_new_messages")) return { call: "read_new_messages", namespace: "mcp__relay" };
      if (user.includes("Tell the team")) return { call: "send_message", namespace: "mcp__relay", args: { text: "hello from codex" } };
      return { text: "Done." };
    });
    home = mkdtempSync(join(tmpdir(), "codex-e2e-"));
    project = join(home, "project");
    mkdirSync(join(home, ".codex"), { recursive: true });
    mkdirSync(project);
    writeFileSync(join(home, ".codex", "config.toml"), PROVIDER(model.url), { mode: 0o644 });
    env = {
      ...process.env,
      HOME: home,
      CODEX_HOME: join(home, ".codex"),
      XDG_CONFIG_HOME: join(home, ".config"),
      XDG_STATE_HOME: join(home, ".state"),
      STANDIN_API_KEY: "sk-standin",
      RELAY_URL: undefined,
      RELAY_TOKEN: undefined,
    };
    const token = await relay.mint("codex-e2e", "carol");
    await run(process.execPath, [CLI, "setup", "--client", "codex", "--url", relay.url, "--token", token], { cwd: project, env });
    alice = await relayClient(relay.url, await relay.mint("codex-e2e", "alice"));
    const carol = await relayClient(relay.url, token);
    clients.push(alice, carol);
    // A peer exists once it has called the relay: carol's first call, as any MCP client's would be.
    await call(carol, "list_peers");
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close()));
    if (process.env.DUMP_STANDIN) writeFileSync(process.env.DUMP_STANDIN, JSON.stringify(model.requests, null, 1));
    await model?.close();
  });

  it("keeps the person's config, makes it 0600, and Codex reports the relay's hooks as trusted", async () => {
    const config = readFileSync(join(home, ".codex", "config.toml"), "utf8");
    expect(config).toContain(PROVIDER(model.url).trimEnd());
    expect(config).toContain("[mcp_servers.relay]");
    expect(statSync(join(home, ".codex", "config.toml")).mode & 0o777).toBe(0o600);
    const hooks = (await hooksList(env, project)).filter((hook) => hook.command.includes("--client codex"));
    expect(hooks.map((hook) => hook.key.split(":").slice(-3, -2)[0]).sort()).toEqual(["post_tool_use", "session_start", "stop", "user_prompt_submit"]);
    for (const hook of hooks) expect(hook.trustStatus, hook.key).toBe("trusted");
    // setup told the relay which client carol runs.
    expect((await call(alice, "list_peers")).peers).toContainEqual(expect.objectContaining({ name: "carol", client: "codex" }));
  });

  it("its model is told of unread mail by the hooks, sends through the relay, and reads the DM when the Stop hook asks", async () => {
    await call(alice, "send_dm", { to: "carol", text: "please review PR 9" });
    const from = model.requests.length;
    await codexExec("Tell the team hello.", project, env);
    const turns = model.requests.slice(from);

    expect(developerText(turns[0]!)).toContain("[relay] This session is carol in relay group codex-e2e: 1 unread (DM from alice).");
    expect(developerText(turns[0]!)).toContain("the mcp__relay tools");
    const inbox = await call(alice, "read_new_messages");
    expect(inbox.messages).toEqual([expect.objectContaining({ from: "carol", text: "hello from codex" })]);

    expect(codexText(turns[0]!)).toContain("[relay] 1 unread (DM from alice). Call read_new_messages.");
    const held = turns.filter((t) => lastInputText(t).includes("<hook_prompt"));
    expect(held).toHaveLength(1);
    expect(codexText(held[0]!)).toContain("[relay] 1 unread (DM from alice). Call read_new_messages.");
    const after = turns[turns.indexOf(held[0]!) + 1]!;
    expect(codexText(after)).toContain("please review PR 9");
  });
});

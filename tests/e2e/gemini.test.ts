/**
 * Gemini CLI as a peer, offline: the real `gemini -p` against a local stand-in for the Gemini API
 * (tests/helpers/gemini-standin.ts), set up by `relay-bridge setup --client gemini --trust` alone.
 *
 * - setup keeps what settings.json already held, makes it 0600 and trusts the project (Gemini
 *   ignores MCP servers and hooks elsewhere);
 * - Gemini's model sends through the relay and another peer reads it;
 * - with a DM unread, the SessionStart/BeforeAgent hooks tell the model (`<hook_context>`), and the
 *   AfterAgent hook holds the turn once, so the model reads the DM.
 *
 * Needs `gemini` on PATH (.ci/run installs @google/gemini-cli); skipped, saying so, where it is absent.
 */
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { execFile, execFileSync, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CLI } from "../helpers/bridge-process.ts";
import { geminiText, geminiTools, lastContentText, startGeminiStandin, type GeminiStandin } from "../helpers/gemini-standin.ts";
import { callTool as call, relayClient } from "../helpers/relay-client.ts";
import { sharedRelay, type SharedRelay } from "../helpers/shared-relay.ts";

const run = promisify(execFile);

function geminiVersion(): string | null {
  try {
    return execFileSync("gemini", ["--version"], { encoding: "utf8", timeout: 30_000, env: { ...process.env, HOME: tmpdir() } }).trim();
  } catch {
    console.warn("gemini.test.ts: `gemini` is not on PATH; install @google/gemini-cli@0.61.0 to run it.");
    return null;
  }
}
const version = geminiVersion();

let relay: SharedRelay;
let model: GeminiStandin;
const clients: Client[] = [];

/** One headless Gemini turn (stdin closed, tool calls approved). */
function geminiPrompt(prompt: string, cwd: string, env: NodeJS.ProcessEnv): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn("gemini", ["-p", prompt, "--yolo"], { cwd, env, stdio: ["ignore", "pipe", "pipe"], timeout: 90_000 });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString("utf8")));
    child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString("utf8")));
    child.on("error", reject);
    child.on("close", (code) => (code === 0 ? resolve(output) : reject(new Error(`gemini exited ${code}:\n${output}`))));
  });
}

describe.skipIf(!version)(`Gemini CLI (${version}) as a relay peer, offline`, () => {
  let home: string;
  let project: string;
  let env: NodeJS.ProcessEnv;
  let alice: Client;

  beforeAll(async () => {
    relay = await sharedRelay();
    model = await startGeminiStandin((request) => {
      const last = lastContentText(request);
      if (!geminiTools(request).includes("mcp_relay_send_message")) return { text: "no relay tools" };
      if (last.includes("functionResponse")) return { text: "Done." };
      if (last.includes("Tell the team")) return { call: "mcp_relay_send_message", args: { text: "hello from gemini" } };
      if (last.includes("Call read_new_messages")) return { call: "mcp_relay_read_new_messages" };
      return { text: "Done." };
    });
    home = mkdtempSync(join(tmpdir(), "gemini-e2e-"));
    project = join(home, "project");
    mkdirSync(join(home, ".gemini"), { recursive: true });
    mkdirSync(project);
    const settings = { security: { auth: { selectedType: "gemini-api-key" } }, ui: { theme: "Default" }, mcpServers: { other: { command: "true" } } };
    writeFileSync(join(home, ".gemini", "settings.json"), JSON.stringify(settings), { mode: 0o644 });
    env = {
      ...process.env,
      HOME: home,
      GEMINI_CLI_HOME: undefined,
      GEMINI_API_KEY: "standin-key",
      GOOGLE_GEMINI_BASE_URL: model.url,
      GEMINI_CLI_TRUST_WORKSPACE: undefined,
      XDG_CONFIG_HOME: join(home, ".config"),
      XDG_STATE_HOME: join(home, ".state"),
      RELAY_URL: undefined,
      RELAY_TOKEN: undefined,
    };
    const token = await relay.mint("gemini-e2e", "dora");
    await run(process.execPath, [CLI, "setup", "--client", "gemini", "--project", project, "--trust", "--url", relay.url, "--token", token], { cwd: project, env });
    alice = await relayClient(relay.url, await relay.mint("gemini-e2e", "alice"));
    const dora = await relayClient(relay.url, token);
    clients.push(alice, dora);
    await call(dora, "list_peers");
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close()));
    if (process.env.DUMP_STANDIN) writeFileSync(process.env.DUMP_STANDIN, JSON.stringify(model.requests, null, 1));
    await model?.close();
  });

  it("keeps the person's settings, makes them 0600 and trusts the project", async () => {
    expect((await call(alice, "list_peers")).peers).toContainEqual(expect.objectContaining({ name: "dora", client: "gemini" }));
    const path = join(home, ".gemini", "settings.json");
    const settings = JSON.parse(readFileSync(path, "utf8"));
    expect(settings).toMatchObject({ security: { auth: { selectedType: "gemini-api-key" } }, ui: { theme: "Default" }, mcpServers: { other: { command: "true" }, relay: { httpUrl: `${relay.url}/mcp` } } });
    expect(Object.keys(settings.hooks).sort()).toEqual(["AfterAgent", "AfterTool", "BeforeAgent", "SessionStart"]);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(join(home, ".gemini", "trustedFolders.json"), "utf8"))).toEqual({ [project]: "TRUST_FOLDER" });
  });

  it("its model is told of unread mail by the hooks, sends through the relay, and reads the DM when the AfterAgent hook asks", async () => {
    await call(alice, "send_dm", { to: "dora", text: "please review PR 11" });
    const from = model.requests.length;
    await geminiPrompt("Tell the team hello.", project, env);
    const turns = model.requests.slice(from);

    expect(geminiText(turns[0]!)).toContain("[relay] This session is dora in relay group gemini-e2e: 1 unread (DM from alice).");
    expect(geminiText(turns[0]!)).toContain("mcp_relay_*");
    const inbox = await call(alice, "read_new_messages");
    expect(inbox.messages).toEqual([expect.objectContaining({ from: "dora", text: "hello from gemini" })]);

    // AfterAgent's block reason comes back as the next user turn, once.
    const held = turns.filter((t) => t.body.contents?.at(-1)?.parts[0]?.text === "[relay] 1 unread (DM from alice). Call read_new_messages.");
    expect(held).toHaveLength(1);
    expect(lastContentText(turns[turns.indexOf(held[0]!) + 1]!)).toContain("please review PR 11");
    const unread = await fetch(`${relay.url}/groups/gemini-e2e/unread`, { headers: { Authorization: `Bearer ${await relay.mint("gemini-e2e", "dora")}` } });
    expect(await unread.json()).toMatchObject({ total: 0 });
  });
});

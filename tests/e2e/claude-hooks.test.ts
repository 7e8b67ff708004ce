/**
 * The relay's hooks inside the real Claude Code CLI (headless, `claude -p`), offline: the model is a
 * local stand-in for the Messages API (tests/helpers/model-standin.ts) that records what Claude
 * Code sends it, and the relay is the real `npm start`.
 *
 * - A session that ends its turn while a DM is unread is held back once by the Stop hook; the model
 *   sees the hook's reason, calls read_new_messages, and the DM is read.
 * - The SessionStart line reaches the model.
 * - With nothing unread, nothing is ever blocked.
 * - With the relay down, the hooks say nothing and block nothing (their time bound is
 *   tests/bridge/hooks-command.test.ts's).
 *
 * Needs `claude` on PATH (.ci/run installs it); skipped, saying so, where it is absent.
 */
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CLI } from "../helpers/bridge-process.ts";
import { allText, claudeEnv, claudeVersion, lastUserText, startModelStandin, type ModelStandin, type Script } from "../helpers/model-standin.ts";
import { callTool as call, relayClient } from "../helpers/relay-client.ts";
import { freePort } from "../helpers/relay-server.ts";
import { sharedRelay, type SharedRelay } from "../helpers/shared-relay.ts";

const run = promisify(execFile);

const version = claudeVersion("claude-hooks.test.ts");

let relay: SharedRelay;
let model: ModelStandin;
const clients: Client[] = [];

async function mcp(token: string): Promise<Client> {
  const client = await relayClient(relay.url, token);
  clients.push(client);
  return client;
}

/** A private HOME and project where Claude Code has the relay's tools and hooks for `peer`. */
async function session(group: string, peer: string, relayUrl = relay.url) {
  const home = mkdtempSync(join(tmpdir(), "claude-hooks-"));
  const project = join(home, "project");
  mkdirSync(project);
  const env = claudeEnv(home, project, model.url, { XDG_CONFIG_HOME: join(home, ".config"), XDG_STATE_HOME: join(home, ".state") });
  const token = await relay.mint(group, peer);
  await run("claude", ["mcp", "add", "--transport", "http", "relay", `${relayUrl}/mcp`, "--header", `Authorization: Bearer ${token}`], { cwd: project, env });
  await run(process.execPath, [CLI, "hooks", "install", "--project", project, "--url", relayUrl, "--token", token], { cwd: project, env });
  return {
    token,
    /** One headless turn; resolves with Claude's output once it stops. */
    prompt: async (text: string) => {
      const { stdout } = await run("claude", ["-p", text, "--allowedTools", "mcp__relay"], { cwd: project, env, timeout: 90_000 });
      return { stdout };
    },
  };
}

/** The stand-in's script: read the mail when a hook says so, otherwise end the turn. */
const obedient: Script = (request) => {
  const last = lastUserText(request);
  if (/Stop hook feedback/i.test(last) && last.includes("Call read_new_messages")) return { tool: "mcp__relay__read_new_messages" };
  return { text: "Done." };
};

type Session = Awaited<ReturnType<typeof session>>;

describe.skipIf(!version)(`relay hooks in Claude Code (${version}), offline`, () => {
  let bobSession: Session;
  let carol: Session;
  let dave: Session;
  beforeAll(async () => {
    [relay, model] = await Promise.all([sharedRelay(), startModelStandin(obedient)]);
    // The three homes at once: each costs a few Claude Code and bridge starts, slow on a busy machine.
    [bobSession, carol, dave] = await Promise.all([
      session("hooks-e2e", "bob"),
      session("hooks-quiet", "carol"),
      session("hooks-down", "dave", `http://127.0.0.1:${await freePort()}`),
    ]);
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await model?.stop();
  });

  /** The session's own turns (they carry its tools) from request `from` on. */
  const turnsSince = (from: number) => model.requests.slice(from).filter((r) => (r.body.tools ?? []).length > 0);

  it("a DM left unread holds the stop once; the model sees why, reads it, and the session ends", async () => {
    const alice = await mcp(await relay.mint("hooks-e2e", "alice"));
    await call(await mcp(bobSession.token), "list_peers");
    await call(alice, "send_dm", { to: "bob", text: "please review PR 7" });

    const from = model.requests.length;
    await bobSession.prompt("Carry on with the refactor.");
    const turns = turnsSince(from);

    expect(allText(turns[0]!)).toContain(
      "[relay] This session is bob in relay group hooks-e2e: 1 unread (DM from alice). Team messages go through the relay tools (mcp__relay__*), not the built-in SendMessage.",
    );
    const held = turns.filter((t) => /Stop hook feedback/i.test(lastUserText(t)));
    expect(held).toHaveLength(1);
    expect(lastUserText(held[0]!)).toContain("[relay] 1 unread (DM from alice). Call read_new_messages.");
    // The turn after the tool call holds its result: the DM itself.
    const after = turns[turns.indexOf(held[0]!) + 1]!;
    expect(lastUserText(after)).toContain("please review PR 7");
    expect(turns).toHaveLength(3);

    const unread = await fetch(`${relay.url}/groups/hooks-e2e/unread`, { headers: { Authorization: `Bearer ${bobSession.token}` } });
    expect(await unread.json()).toMatchObject({ total: 0 });
  });

  it("with nothing unread the model hears who it is and is never held back", async () => {
    const from = model.requests.length;
    await carol.prompt("Hello.");
    const turns = turnsSince(from);
    expect(turns).toHaveLength(1);
    expect(allText(turns[0]!)).toContain("[relay] This session is carol in relay group hooks-quiet: no unread mail.");
    expect(model.requests.slice(from).some((r) => /Stop hook feedback/i.test(allText(r)))).toBe(false);
  });

  it("with the relay down the hooks stay silent and block nothing", async () => {
    const from = model.requests.length;
    const { stdout } = await dave.prompt("Hello.");
    const turns = turnsSince(from);
    expect(turns).toHaveLength(1);
    expect(model.requests.slice(from).some((r) => allText(r).includes("[relay]"))).toBe(false);
    expect(stdout).toContain("Done.");
  });
});

/**
 * The hook command Claude Code runs (`relay-bridge hook session-start|prompt|stop`), against the
 * real relay (`npm start`): what each hook prints for what is unread, the Stop hook blocking once
 * per piece of mail, never for nothing and never while Claude is continuing because of a block,
 * and failing open (nothing printed, exit 0) when the relay is down or hangs.
 */
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { resolveTarget } from "../../local-bridge/core/config.ts";
import { saveTarget } from "../../local-bridge/core/config-file.ts";
import { CLI } from "../helpers/bridge-process.ts";
import { callTool as call, relayClient } from "../helpers/relay-client.ts";
import { freePort, startRelay, type RelayServer } from "../helpers/relay-server.ts";

let relay: RelayServer;
const clients: Client[] = [];
let configHome: string;
let stateHome: string;

beforeAll(async () => {
  relay = await startRelay();
  configHome = mkdtempSync(join(tmpdir(), "hook-config-"));
  stateHome = mkdtempSync(join(tmpdir(), "hook-state-"));
});

afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await relay?.stop();
});

async function mcp(token: string): Promise<Client> {
  const client = await relayClient(relay.url, token);
  clients.push(client);
  return client;
}

/** A profile for `peer` in `group` pointing at `url`; returns its name. */
async function profile(group: string, peer: string, url = relay.url): Promise<string> {
  const token = await relay.mint(group, peer);
  return saveTarget(resolveTarget(url, token), join(configHome, "claude-relay", "config.json"));
}

interface HookRun {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Runs the hook as Claude Code does: a process with the event's JSON on stdin. */
function hook(name: string, profileName: string, input: Record<string, unknown> = {}): Promise<HookRun> {
  const started = Date.now();
  const child = spawn(process.execPath, [CLI, "hook", name, "--profile", profileName], {
    env: { ...process.env, XDG_CONFIG_HOME: configHome, XDG_STATE_HOME: stateHome },
    stdio: ["pipe", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (c) => (stdout += c));
  child.stderr.on("data", (c) => (stderr += c));
  child.stdin.end(JSON.stringify({ hook_event_name: name, session_id: "s-1", cwd: "/tmp", ...input }));
  return new Promise((resolve) => child.once("exit", (code) => resolve({ code, stdout, stderr, ms: Date.now() - started })));
}

const parsed = (run: HookRun) => (run.stdout.trim() ? JSON.parse(run.stdout) : null);

describe("hook command against the real relay", () => {
  it("tells the session who it is, adds unread mail to prompts, and blocks a stop once per piece of mail", async () => {
    const group = "hooks-a";
    const bob = await profile(group, "bob");
    const alice = await mcp(await relay.mint(group, "alice"));
    const bobClient = await mcp(await relay.mint(group, "bob"));
    await call(bobClient, "list_peers"); // the relay now knows bob: DMs to him work

    const start = parsed(await hook("session-start", bob, { source: "startup" }));
    expect(start).toEqual({
      hookSpecificOutput: {
        hookEventName: "SessionStart",
        additionalContext:
          "[relay] This session is bob in relay group hooks-a: no unread mail. Team messages go through the relay tools (mcp__relay__*), not the built-in SendMessage.",
      },
    });
    // Nothing unread: the prompt hook and the stop hook print nothing.
    expect((await hook("prompt", bob, { prompt: "hi" })).stdout).toBe("");
    expect((await hook("stop", bob, { stop_hook_active: false })).stdout).toBe("");

    // A broadcast is worth a prompt's context but never holds a stop back.
    await call(alice, "send_message", { text: "standup in 5" });
    expect(parsed(await hook("prompt", bob))).toEqual({
      hookSpecificOutput: { hookEventName: "UserPromptSubmit", additionalContext: "[relay] 1 unread (1 group message). Call read_new_messages." },
    });
    expect((await hook("stop", bob)).stdout).toBe("");

    const asked = await call(alice, "send_dm", { to: "bob", text: "can you review?" });
    expect(parsed(await hook("stop", bob))).toEqual({ decision: "block", reason: "[relay] 2 unread (DM from alice, 1 group message). Call read_new_messages." });
    // Same mail, same session: never twice. Another session hears of it once too.
    expect((await hook("stop", bob, { stop_hook_active: true })).stdout).toBe("");
    expect(parsed(await hook("stop", bob, { session_id: "s-2" }))?.decision).toBe("block");

    // New mail that deserves it blocks again, once.
    await call(alice, "send_dm", { to: "bob", text: "urgent: prod is down", urgent: true });
    expect(parsed(await hook("stop", bob))).toEqual({
      decision: "block",
      reason: "[relay] 3 unread (2 DMs from alice, 1 urgent, 1 group message). Call read_new_messages.",
    });
    expect((await hook("stop", bob)).stdout).toBe("");
    expect(asked.seq).toBeGreaterThan(0);

    // A DM that lands while Claude is continuing because of a block does not block that
    // continuation; it blocks the next natural stop, once.
    await call(alice, "send_dm", { to: "bob", text: "and the docs?" });
    expect(await hook("stop", bob, { stop_hook_active: true })).toMatchObject({ code: 0, stdout: "" });
    expect(parsed(await hook("stop", bob, { stop_hook_active: false }))?.decision).toBe("block");
    expect((await hook("stop", bob)).stdout).toBe("");

    // The hooks marked nothing read: read_new_messages still hands over all three.
    expect((await call(bobClient, "read_new_messages")).messages).toHaveLength(4);
    expect((await hook("prompt", bob)).stdout).toBe("");
    expect(parsed(await hook("session-start", bob))?.hookSpecificOutput.additionalContext).toContain("no unread mail");
  });

  it("fails open: relay down, relay hanging, profile missing", async () => {
    const down = await profile("hooks-b", "bob", `http://127.0.0.1:${await freePort()}`);
    // A relay that accepts connections and never answers.
    const hung: Socket[] = [];
    const blackHole: Server = createServer((socket) => hung.push(socket));
    await new Promise<void>((resolve) => blackHole.listen(0, "127.0.0.1", resolve));
    const port = (blackHole.address() as { port: number }).port;
    const hanging = await profile("hooks-b", "bob", `http://127.0.0.1:${port}`);
    try {
      for (const name of ["session-start", "prompt", "stop"]) {
        expect(await hook(name, down)).toMatchObject({ code: 0, stdout: "", stderr: "" });
      }
      const slow = await hook("stop", hanging);
      expect(slow).toMatchObject({ code: 0, stdout: "", stderr: "" });
      // It waited for the relay (its 1.5 s budget) and then gave up; the upper bound only catches a
      // hook that hangs (Claude Code would kill it at its own timeout). Timing is the bench's job.
      expect(slow.ms).toBeGreaterThanOrEqual(1_400);
      expect(slow.ms).toBeLessThan(20_000);
      const missing = await hook("stop", "nobody@nowhere");
      expect(missing).toMatchObject({ code: 0, stdout: "" });
      expect(missing.stderr).toContain('no profile "nobody@nowhere"');
    } finally {
      for (const socket of hung) socket.destroy();
      blackHole.close();
    }
  });
});

/**
 * Channel mode: `relay-bridge channel`, the stdio MCP server Claude Code starts, driven by a real
 * MCP client (SDK v1 Client + StdioClientTransport) against a relay protocol peer. It must declare
 * `claude/channel`, push one `notifications/claude/channel` event per batch carrying the pane's
 * one-line notice (no message text), ack the batch only after the event is written, and end when
 * its client goes.
 *
 * The real Claude Code 2.1.329 starts and connects to the server offline, but does not deliver
 * channel events: in the TUI its debug log says "Channel notifications skipped: channels feature
 * is not currently available" and the status line "channels aren't available right now". Channels are a research preview gated by a flag fetched from Anthropic
 * and, per Claude Code's channels reference, need a claude.ai login (API-key sessions, which is
 * what an offline test runs, are not supported). The last test checks what does work offline.
 */
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { signToken } from "../../contract/token.ts";
import { CLI } from "../helpers/bridge-process.ts";
import { claudeEnv, claudeVersion, startModelStandin } from "../helpers/model-standin.ts";
import { ProtocolPeer } from "../helpers/protocol-peer.ts";
import { waitFor } from "../helpers/wait.ts";
import { TEST_SECRET } from "../test-secret.ts";

const run = promisify(execFile);

interface ChannelEvent {
  method: string;
  params: { content: string; meta: Record<string, string> };
  at: number;
}

let relay: ProtocolPeer;
beforeEach(async () => {
  relay = await ProtocolPeer.start();
});
afterEach(async () => {
  await relay.stop();
});

async function channelClient(token: string) {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [CLI, "channel", "--url", relay.url, "--token", token],
    env: { ...(process.env as Record<string, string>), XDG_STATE_HOME: mkdtempSync(join(tmpdir(), "channel-state-")) },
    stderr: "pipe",
  });
  let stderr = "";
  transport.stderr?.on("data", (chunk) => (stderr += chunk));
  const events: ChannelEvent[] = [];
  const client = new Client({ name: "channel-test", version: "1.0.0" });
  client.fallbackNotificationHandler = async (notification) => {
    events.push({ ...(notification as Omit<ChannelEvent, "at">), at: Date.now() });
  };
  await client.connect(transport);
  return { client, transport, events, stderr: () => stderr };
}

describe("relay-bridge channel", () => {
  it("declares claude/channel and pushes one event per batch, the notice line without message text, acked after", async () => {
    const token = await signToken(TEST_SECRET, { g: "core", p: "bob", iat: Date.now() });
    const { client, transport, events, stderr } = await channelClient(token);
    try {
      expect(client.getServerCapabilities()?.experimental).toEqual({ "claude/channel": {} });
      expect(client.getInstructions()).toContain("read_new_messages");
      await waitFor(() => relay.connected() === 1, { what: "the channel's socket to the relay" });
      await waitFor(() => stderr().includes("connected"), { what: "the hello" });

      const postedAt = Date.now();
      const dm = relay.post({ from: "alice", to: "bob", kind: "dm" });
      await waitFor(() => events.length === 1, { what: "the channel event" });
      expect(events[0]).toMatchObject({
        method: "notifications/claude/channel",
        params: {
          content: "[relay] 1 new message in core (DM from alice). Call read_new_messages.",
          meta: { group: "core", count: "1", from: "alice", urgent: "false" },
        },
      });
      await waitFor(() => relay.acks.some((a) => a.peer === "bob" && a.seq === dm.seq), { what: "the ack" });
      console.log(`channel: notice-to-event ${events[0]!.at - postedAt} ms`);

      // A question carries its id, so the model can answer it with reply_to.
      relay.post({ from: "carol", to: "bob", kind: "question", urgent: true });
      await waitFor(() => events.length === 2, { what: "the second event" });
      expect(events[1]!.params.content).toContain("URGENT");
      expect(events[1]!.params.content).toContain("question m_2 from carol");
    } finally {
      await client.close();
    }
    // Closing the client (Claude Code ending) ends the server and its socket.
    await waitFor(() => relay.connected() === 0, { what: "the channel to let go of the relay" });
    expect(transport.pid === null || transport.pid === undefined || !isAlive(transport.pid)).toBe(true);
  });
});

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

const version = claudeVersion("claude-channel.test.ts");

describe.skipIf(!version)(`relay-bridge channel under the real Claude Code (${version}), offline`, () => {
  it("is started by Claude Code, completes the MCP handshake and holds the relay socket", async () => {
    // The turn ends only once the channel server has said hello to the relay: otherwise a busy
    // machine lets `claude -p` answer and exit (ending its servers) before the socket is up.
    const helloFromBob = () => relay.hellos.some((h) => h.peer === "bob");
    const model = await startModelStandin(async () => {
      await waitFor(helloFromBob, { what: "the channel's hello" }).catch(() => {});
      return { text: "Done." };
    });
    try {
      const home = mkdtempSync(join(tmpdir(), "claude-channel-"));
      const project = join(home, "project");
      mkdirSync(project);
      const env = claudeEnv(home, project, model.url, { XDG_STATE_HOME: join(home, ".state") });
      const token = await signToken(TEST_SECRET, { g: "core", p: "bob", iat: Date.now() });
      // As `setup --channel` registers it (there through a stored profile, here through env).
      await run("claude", ["mcp", "add", "relay-channel", "--env", `RELAY_URL=${relay.url}`, "--env", `RELAY_TOKEN=${token}`, "--", process.execPath, CLI, "channel"], { cwd: project, env });
      await run("claude", ["-p", "hello", "--debug", "--dangerously-load-development-channels", "server:relay-channel"], { cwd: project, env, timeout: 90_000 });
      expect(helloFromBob(), "the channel server Claude Code started said hello to the relay").toBe(true);
      const debugDir = join(home, ".claude", "debug");
      const log = readdirSync(debugDir).filter((f) => f.endsWith(".txt")).map((f) => readFileSync(join(debugDir, f), "utf8")).join("\n");
      expect(log).toContain('MCP server "relay-channel": Successfully connected (transport: stdio)');
      const verdict = /MCP server "relay-channel": Channel notifications[^\n]*/.exec(log)?.[0];
      console.log(`Claude Code on channels, offline: ${verdict ?? "(no channel line in the debug log)"}`);
    } finally {
      await model.stop();
    }
  });
});

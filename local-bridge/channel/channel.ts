/**
 * `relay-bridge channel`: the bridge as a Claude Code channel. Claude Code starts it as a stdio MCP
 * server; it declares the experimental `claude/channel` capability, holds the group's socket as
 * `connect` does, and pushes each batch of notices into the session as one
 * `notifications/claude/channel` event carrying the same one-line notice a pane would get (names,
 * kinds, ids: never message text). A batch is acked once its event is written. No tmux needed.
 *
 * Contract used (Claude Code channels reference, code.claude.com/docs/en/channels-reference):
 * capability `experimental["claude/channel"] = {}`; event `notifications/claude/channel` with
 * `params.content` (string) and `params.meta` (string-to-string attributes on the <channel> tag);
 * `instructions` join Claude's system prompt. The session must be launched with
 * `--dangerously-load-development-channels server:<name>` while channels are a research preview.
 */
import { Server } from "@modelcontextprotocol/sdk/server/index.js";
import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js";
import type { NoticeFrame } from "../../contract/frames.ts";
import { AckStore } from "../core/ack-store.ts";
import { Bridge, type NoticeSink } from "../core/bridge.ts";
import type { RelayTarget } from "../core/config.ts";
import { noticeRecord } from "../core/notices.ts";
import { CHANNEL_SERVER_NAME } from "./server-name.ts";
import { StatusLine } from "../core/status.ts";

export const CHANNEL_INSTRUCTIONS =
  "Events from the relay-channel source are notices of new team mail on the claude-relay relay. " +
  "They name senders, kinds and ids, never message text. When one arrives, read the mail with the relay's " +
  "read_new_messages tool (mcp__relay__read_new_messages) and answer through the relay tools, not the built-in SendMessage.";

type ChannelEvent = { method: "notifications/claude/channel"; params: { content: string; meta: Record<string, string> } };

/** Pushes each batch as one channel event; resolves once the event is written to Claude Code. */
export class ChannelSink implements NoticeSink {
  readonly maxBatch = Number.POSITIVE_INFINITY;
  private readonly group: string;
  private readonly send: (event: ChannelEvent) => Promise<void>;

  constructor(group: string, send: (event: ChannelEvent) => Promise<void>) {
    this.group = group;
    this.send = send;
  }

  async ready(): Promise<void> {}

  /** The event's params, as JSON text: the pane's one line as content, facts as attributes. */
  render(batch: readonly NoticeFrame[]): string {
    const record = noticeRecord(this.group, batch);
    const params: ChannelEvent["params"] = {
      content: record.line,
      meta: { group: record.group, count: String(record.count), from: record.from.join(","), urgent: String(record.urgent) },
    };
    return JSON.stringify(params);
  }

  async write(params: string): Promise<void> {
    await this.send({ method: "notifications/claude/channel", params: JSON.parse(params) as ChannelEvent["params"] });
  }
}

/** Runs until Claude Code closes the server's stdin (the session ended) or the relay refuses us for good. */
export async function runChannel(target: RelayTarget): Promise<void> {
  const server = new Server<never, ChannelEvent>(
    { name: CHANNEL_SERVER_NAME, version: "1.0.0" },
    { capabilities: { experimental: { "claude/channel": {} } }, instructions: CHANNEL_INSTRUCTIONS },
  );
  // stdout belongs to the MCP protocol: the status line goes to stderr, which Claude Code logs.
  const status = new StatusLine(`relay ${target.group}/${target.peer}`, process.stderr);
  const bridge = new Bridge({
    socketUrl: target.socketUrl,
    token: target.token,
    group: target.group,
    peer: target.peer,
    sink: new ChannelSink(target.group, (event) => server.notification(event)),
    acks: new AckStore({ url: target.baseUrl, group: target.group, peer: target.peer }),
    status,
  });

  let ended = false;
  const closed = new Promise<void>((resolve) => {
    server.onclose = () => {
      ended = true;
      bridge.stop();
      resolve();
    };
  });
  // Notices wait for the session to finish the MCP handshake: an event before it would be lost.
  const initialized = new Promise<void>((resolve) => {
    server.oninitialized = () => resolve();
  });
  // The SDK's stdio transport does not watch for end of input; Claude Code closing our stdin (or
  // stopping us) ends the session, and with it the socket.
  const end = () => void server.close();
  process.stdin.once("end", end);
  process.once("SIGTERM", end);
  process.once("SIGINT", end);
  process.once("SIGHUP", end);

  await server.connect(new StdioServerTransport());
  await Promise.race([initialized, closed]);
  if (!ended) {
    const running = bridge.run();
    await Promise.race([running, closed]);
    await server.close();
    await running;
  }
  status.finish();
}

/**
 * The clients the bench drives the servers with: a real MCP client (SDK v1 Client +
 * StreamableHTTPClientTransport, as Claude Code reaches the relay), and raw WebSockets that speak
 * the relay's bridge protocol (welcome -> hello -> replay_done -> notices, acked as a bridge acks
 * them) or the floor's.
 */
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import WebSocket from "ws";
import type { AckFrame, HelloFrame } from "../../contract/frames.ts";
import { now } from "./stats.ts";

export async function mcpClient(relayUrl: string, token: string, name = "bench"): Promise<Client> {
  const client = new Client({ name, version: "1.0.0" });
  await client.connect(
    new StreamableHTTPClientTransport(new URL(`${relayUrl}/mcp`), { requestInit: { headers: { Authorization: `Bearer ${token}` } } }),
  );
  return client;
}

/** The structured result of a relay tool call, or a thrown error with the tool's message. */
export function toolValue<T>(result: unknown): T {
  const r = result as { isError?: boolean; structuredContent?: T; content?: { text: string }[] };
  if (r.isError || !r.structuredContent) throw new Error(`tool failed: ${r.content?.map((c) => c.text).join(" ") ?? "no result"}`);
  return r.structuredContent;
}

/**
 * Arrival times of notices by seq, with waiting. Every arrival is counted, so duplicates show.
 */
export class Arrivals {
  readonly first = new Map<number, number>();
  readonly counts = new Map<number, number>();
  total = 0;
  private readonly waiters = new Map<number, ((at: number) => void)[]>();

  record(seq: number, at: number): void {
    this.total++;
    this.counts.set(seq, (this.counts.get(seq) ?? 0) + 1);
    if (this.first.has(seq)) return;
    this.first.set(seq, at);
    const waiting = this.waiters.get(seq);
    if (waiting) {
      this.waiters.delete(seq);
      for (const wake of waiting) wake(at);
    }
  }

  /** Resolves with the arrival time of `seq` (at once if it already arrived); rejects on timeout. */
  wait(seq: number, timeoutMs: number, what = "notice"): Promise<number> {
    const at = this.first.get(seq);
    if (at !== undefined) return Promise.resolve(at);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        const list = this.waiters.get(seq);
        if (list) list.splice(list.indexOf(done), 1);
        reject(new Error(`${what} seq ${seq} did not arrive within ${timeoutMs} ms`));
      }, timeoutMs);
      const done = (t: number) => {
        clearTimeout(timer);
        resolve(t);
      };
      const list = this.waiters.get(seq) ?? [];
      list.push(done);
      this.waiters.set(seq, list);
    });
  }
}

function opened(socket: WebSocket, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("socket did not open in time")), timeoutMs);
    socket.once("open", () => {
      clearTimeout(timer);
      resolve();
    });
    socket.once("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    socket.once("unexpected-response", (_request, response) => {
      clearTimeout(timer);
      reject(new Error(`socket upgrade refused: HTTP ${response.statusCode}`));
    });
  });
}

/**
 * A bridge-protocol socket to a relay group: ready once its hello has been answered. It acks the
 * way local-bridge/bridge.ts does with a sink that is always ready (channel mode): the notices that
 * arrive together (one read from the TCP connection) are one batch, and the batch's highest seq is
 * acked once it is handled. A listener that never acked would hit the relay's cap on unacknowledged
 * notices (MAX_UNACKED_NOTICES) and stop hearing anything, which no real bridge does.
 */
export class RelaySocket {
  readonly arrivals = new Arrivals();
  private socket: WebSocket | null = null;
  private highestSeen = 0;
  private ackQueued = false;

  static async open(relayUrl: string, group: string, token: string, timeoutMs = 15_000): Promise<RelaySocket> {
    const s = new RelaySocket();
    await s.connect(relayUrl, group, token, timeoutMs);
    return s;
  }

  private async connect(relayUrl: string, group: string, token: string, timeoutMs: number): Promise<void> {
    const socket = new WebSocket(`${relayUrl.replace(/^http/, "ws")}/groups/${group}/ws`, {
      headers: { Authorization: `Bearer ${token}` },
      perMessageDeflate: false,
    });
    this.socket = socket;
    let ready!: () => void;
    const replayed = new Promise<void>((resolve) => (ready = resolve));
    socket.on("message", (data) => {
      const at = now();
      const frame = JSON.parse(String(data)) as { type: string; seq?: number };
      if (frame.type === "notice") {
        this.arrivals.record(frame.seq!, at);
        this.ackLater(frame.seq!);
      } else if (frame.type === "welcome") socket.send(JSON.stringify({ type: "hello", last_acked: null } satisfies HelloFrame));
      else if (frame.type === "replay_done") ready();
    });
    await opened(socket, timeoutMs);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      replayed,
      new Promise((_, reject) => (timer = setTimeout(() => reject(new Error("no replay_done after hello")), timeoutMs))),
    ]).finally(() => clearTimeout(timer));
  }

  /** Acks the highest seq seen once the frames already read have all been handled. */
  private ackLater(seq: number): void {
    if (seq > this.highestSeen) this.highestSeen = seq;
    if (this.ackQueued) return;
    this.ackQueued = true;
    queueMicrotask(() => {
      this.ackQueued = false;
      if (this.socket?.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify({ type: "ack", seq: this.highestSeen } satisfies AckFrame));
    });
  }

  close(): void {
    this.socket?.close();
  }
}

/** A socket to the floor worker: every frame after the welcome is {"type":"notice","seq":N}. */
export class FloorSocket {
  readonly arrivals = new Arrivals();
  instance = "";
  private socket: WebSocket | null = null;

  static async open(floorUrl: string, room: string, timeoutMs = 15_000): Promise<FloorSocket> {
    const s = new FloorSocket();
    const socket = new WebSocket(`${floorUrl.replace(/^http/, "ws")}/rooms/${room}/ws`, { perMessageDeflate: false });
    s.socket = socket;
    let welcomed!: () => void;
    const welcome = new Promise<void>((resolve) => (welcomed = resolve));
    socket.on("message", (data) => {
      const at = now();
      const frame = JSON.parse(String(data)) as { type: string; seq?: number; instance?: string };
      if (frame.type === "notice") s.arrivals.record(frame.seq!, at);
      else if (frame.type === "welcome") {
        s.instance = frame.instance ?? "";
        welcomed();
      }
    });
    await opened(socket, timeoutMs);
    await welcome;
    return s;
  }

  close(): void {
    this.socket?.close();
  }
}

export interface FloorSent {
  seq: number;
  instance: string;
  fresh: boolean;
}

export async function floorSend(floorUrl: string, room: string, text: string): Promise<FloorSent> {
  const response = await fetch(`${floorUrl}/rooms/${room}/send`, { method: "POST", body: text });
  if (!response.ok) throw new Error(`floor send: HTTP ${response.status}`);
  return (await response.json()) as FloorSent;
}

/**
 * One floor trip at a time on a room with one listening socket: what the relay scenarios
 * interleave with their own trips, one for one, so a ratio compares samples taken under the same
 * machine noise.
 */
export class FloorProbe {
  readonly calls: number[] = [];
  readonly deliveries: number[] = [];
  private readonly url: string;
  private readonly room: string;
  private readonly socket: FloorSocket;

  private constructor(url: string, room: string, socket: FloorSocket) {
    this.url = url;
    this.room = room;
    this.socket = socket;
  }

  static async open(floorUrl: string, room: string): Promise<FloorProbe> {
    return new FloorProbe(floorUrl, room, await FloorSocket.open(floorUrl, room));
  }

  async trip(record: boolean): Promise<void> {
    const start = now();
    const sent = await floorSend(this.url, this.room, "hello from the bench");
    const answered = now();
    const delivered = await this.socket.arrivals.wait(sent.seq, 5_000, "floor notice");
    if (record) {
      this.calls.push(answered - start);
      this.deliveries.push(delivered - start);
    }
  }

  close(): void {
    this.socket.close();
  }
}

/**
 * send_dm to a peer whose bridge is still connecting: the relay only knows a peer once it has
 * used a tool or connected, so "unknown_peer" is retried for up to `timeoutMs`.
 */
export async function dmWhenKnown(client: Client, to: string, text: string, timeoutMs = 20_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const result = (await client.callTool({ name: "send_dm", arguments: { to, text } })) as {
      isError?: boolean;
      structuredContent?: { seq?: number; error?: string };
    };
    if (!result.isError && typeof result.structuredContent?.seq === "number") return result.structuredContent.seq;
    if (result.structuredContent?.error !== "unknown_peer" || Date.now() > deadline) return toolValue<{ seq: number }>(result).seq;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

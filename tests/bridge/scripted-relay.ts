/**
 * A relay that says exactly what a test scripts, frame by frame: hostile text, impossible seqs,
 * refusals with any body. For the bridge's defences against a relay that misbehaves; ordinary
 * protocol behaviour is tested against ../helpers/protocol-peer.ts and the real relay.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { WebSocketServer, type WebSocket } from "ws";
import { ClientFrame, KEEPALIVE_PING, KEEPALIVE_PONG, parseFrame, type ServerFrame } from "../../contract/frames.ts";

/** What to do with upgrade attempt number `attempt` (1-based). */
export type Answer =
  | { refuse: { status: number; body: string } }
  | { accept: (socket: ScriptedSocket) => void | Promise<void> };

export interface ScriptedSocket {
  send(frame: ServerFrame): void;
  /** Sends `welcome` (as alice in core) and resolves with the hello's `last_acked`. */
  greet(latestSeq?: number): Promise<number | null>;
  close(code: number, reason: string): void;
}

export class ScriptedRelay {
  readonly hellos: (number | null)[] = [];
  readonly acks: number[] = [];
  attempts = 0;
  private readonly server: Server;
  private readonly sockets = new Set<WebSocket>();

  private constructor(server: Server) {
    this.server = server;
  }

  static async start(answer: (attempt: number) => Answer): Promise<ScriptedRelay> {
    const wss = new WebSocketServer({ noServer: true });
    const server = createServer((_req, res) => res.writeHead(426).end());
    const relay = new ScriptedRelay(server);
    server.on("upgrade", (req, socket, head) => {
      const plan = answer(++relay.attempts);
      if ("refuse" in plan) {
        const { status, body } = plan.refuse;
        socket.end(`HTTP/1.1 ${status} Refused\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
        return;
      }
      wss.handleUpgrade(req, socket, head, (ws) => void plan.accept(relay.script(ws)));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    return relay;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.terminate();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private script(ws: WebSocket): ScriptedSocket {
    this.sockets.add(ws);
    ws.on("close", () => this.sockets.delete(ws));
    const hellos: ((lastAcked: number | null) => void)[] = [];
    ws.on("message", (data) => {
      const text = String(data);
      if (text === KEEPALIVE_PING) return ws.send(KEEPALIVE_PONG);
      const frame = parseFrame(ClientFrame, text);
      if (frame?.type === "hello") {
        this.hellos.push(frame.last_acked);
        hellos.shift()?.(frame.last_acked);
      } else if (frame?.type === "ack") {
        this.acks.push(frame.seq);
      }
    });
    return {
      send: (frame) => ws.send(JSON.stringify(frame)),
      greet: (latestSeq = 0) => {
        const hello = new Promise<number | null>((resolve) => hellos.push(resolve));
        ws.send(JSON.stringify({ type: "welcome", group: "core", peer: "alice", latest_seq: latestSeq } satisfies ServerFrame));
        return hello;
      },
      close: (code, reason) => ws.close(code, reason),
    };
  }
}

/**
 * A small WebSocket server that speaks the relay's socket protocol (worker/protocol.ts), for unit
 * tests of the bridge's connection logic: reconnects, backoff, resume, refusals, dead links. It
 * is a protocol peer, not the relay: tests against the real relay use ./relay-server.ts.
 *
 * Messages are posted straight into its log; it sends `welcome`, replays after `hello`, pushes
 * live notices to ready sockets, answers `ping`, and records every hello and ack.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { WebSocketServer, type WebSocket } from "ws";
import { readClaimsUnverified } from "../../contract/token.ts";
import { ClientFrame, KEEPALIVE_PING, KEEPALIVE_PONG, parseFrame, type MessageKind, type NoticeFrame } from "../../contract/frames.ts";

export interface PeerMessage {
  seq: number;
  id: string;
  from: string;
  /** Recipient of a DM or question; null for a broadcast. */
  to: string | null;
  kind: MessageKind;
  urgent: boolean;
}

interface Client {
  socket: WebSocket;
  peer: string;
  ready: boolean;
}

export class ProtocolPeer {
  readonly messages: PeerMessage[] = [];
  /** Every `hello.last_acked` received, in order, per peer. */
  readonly hellos: { peer: string; last_acked: number | null }[] = [];
  /** Every ack received, in order. */
  readonly acks: { peer: string; seq: number }[] = [];
  /** Upgrade attempts seen (including refused ones). */
  attempts = 0;
  /** When set, upgrades are answered with this status and JSON body. */
  refuse: { status: number; body: unknown } | null = null;
  /** When true, `ping` goes unanswered and nothing is sent: a dead link that stays open. */
  silent = false;
  /** The relay's last-acked record per peer, used for `hello {last_acked: null}`. */
  readonly ackedSeq = new Map<string, number>();

  private server: Server | null = null;
  private wss: WebSocketServer | null = null;
  private readonly clients = new Set<Client>();
  port = 0;

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  static async start(port = 0): Promise<ProtocolPeer> {
    const peer = new ProtocolPeer();
    await peer.listen(port);
    return peer;
  }

  async listen(port = this.port): Promise<void> {
    const wss = new WebSocketServer({ noServer: true });
    const server = createServer((_req, res) => {
      res.writeHead(426, { "Content-Type": "application/json" }).end('{"error":"upgrade_required"}');
    });
    server.on("upgrade", (req, socket, head) => {
      this.attempts++;
      const refuse = (status: number, body: unknown) => {
        const text = JSON.stringify(body);
        socket.end(
          `HTTP/1.1 ${status} Refused\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(text)}\r\nConnection: close\r\n\r\n${text}`,
        );
      };
      if (this.refuse) return refuse(this.refuse.status, this.refuse.body);
      const token = /^Bearer (\S+)$/.exec(req.headers.authorization ?? "")?.[1];
      const claims = token ? readClaimsUnverified(token) : null;
      if (!claims) return refuse(401, { error: "invalid_token", message: "Token refused: not a relay token. Ask your team for a new token." });
      const group = /^\/groups\/([^/]+)\/ws$/.exec(req.url ?? "")?.[1];
      if (group !== claims.g) {
        return refuse(403, { error: "wrong_group", message: `Your token is for group '${claims.g}', not '${group}'.` });
      }
      wss.handleUpgrade(req, socket, head, (ws) => this.accept(ws, claims.g, claims.p));
    });
    await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
    this.wss = wss;
  }

  private accept(socket: WebSocket, group: string, peer: string): void {
    // Like the relay, a newcomer's record starts at the newest seq: the past is history, not mail.
    if (!this.ackedSeq.has(peer)) this.ackedSeq.set(peer, this.latestSeq());
    const client: Client = { socket, peer, ready: false };
    this.clients.add(client);
    socket.on("close", () => this.clients.delete(client));
    socket.on("message", (data) => {
      const text = String(data);
      if (text === KEEPALIVE_PING) {
        if (!this.silent) socket.send(KEEPALIVE_PONG);
        return;
      }
      const frame = parseFrame(ClientFrame, text);
      if (!frame) return;
      if (frame.type === "hello") {
        this.hellos.push({ peer, last_acked: frame.last_acked });
        const after = frame.last_acked ?? this.ackedSeq.get(peer) ?? 0;
        for (const m of this.messages) if (m.seq > after && this.concerns(m, peer)) socket.send(JSON.stringify(notice(m)));
        socket.send(JSON.stringify({ type: "replay_done", after_seq: after, through_seq: this.latestSeq() }));
        client.ready = true;
      } else {
        this.acks.push({ peer, seq: frame.seq });
        this.ackedSeq.set(peer, Math.max(frame.seq, this.ackedSeq.get(peer) ?? 0));
      }
    });
    socket.send(JSON.stringify({ type: "welcome", group, peer, latest_seq: this.latestSeq() }));
  }

  private concerns(m: PeerMessage, peer: string): boolean {
    return m.to === peer || (m.to === null && m.from !== peer);
  }

  latestSeq(): number {
    return this.messages.at(-1)?.seq ?? 0;
  }

  /** Appends a message and pushes its notice to every ready socket it concerns. */
  post(message: Partial<PeerMessage> & { from: string }): PeerMessage {
    const seq = this.latestSeq() + 1;
    const m: PeerMessage = { seq, id: `m_${seq}`, to: null, kind: "group", urgent: false, ...message };
    m.seq = seq;
    this.messages.push(m);
    if (!this.silent) {
      for (const c of this.clients) if (c.ready && this.concerns(m, c.peer)) c.socket.send(JSON.stringify(notice(m)));
    }
    return m;
  }

  connected(): number {
    return this.clients.size;
  }

  /** Tells `peer`'s ready sockets that mail was read, as the relay's `read` frame does. */
  announceRead(peer: string, through_seq: number, seqs?: number[]): void {
    const frame = JSON.stringify({ type: "read", through_seq, ...(seqs && { seqs }) });
    for (const c of this.clients) if (c.ready && c.peer === peer) c.socket.send(frame);
  }

  /** Closes every open socket with `code`. */
  closeAll(code: number, reason = ""): void {
    for (const c of this.clients) c.socket.close(code, reason);
  }

  /** Stops listening and drops every socket abruptly (as a crashed relay would). */
  async stop(): Promise<void> {
    for (const c of this.clients) c.socket.terminate();
    this.clients.clear();
    this.wss?.close();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    this.server = null;
  }
}

function notice(m: PeerMessage): NoticeFrame {
  return { type: "notice", seq: m.seq, id: m.id, from: m.from, kind: m.kind, urgent: m.urgent };
}

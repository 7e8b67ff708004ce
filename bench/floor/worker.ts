/**
 * The floor: the least a relay-shaped trip can cost on this platform. No auth, no MCP, no
 * validation: a Worker forwards a POST to one Durable Object over RPC, the object inserts one row
 * into SQLite and sends one frame to every connected hibernatable socket, and answers.
 *
 *   GET  /rooms/<room>/ws      WebSocket upgrade (hibernatable)
 *   POST /rooms/<room>/send    body = text; answers {"seq":N,"instance":"…","fresh":bool}
 *
 * `instance` changes whenever the object is constructed again, so the wake scenario can prove the
 * object really was evicted between two samples.
 */
import { DurableObject } from "cloudflare:workers";

interface Env {
  ROOMS: DurableObjectNamespace<Room>;
}

export class Room extends DurableObject<Env> {
  private readonly instance = crypto.randomUUID();
  private calls = 0;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.storage.sql.exec(
      `CREATE TABLE IF NOT EXISTS messages (seq INTEGER PRIMARY KEY AUTOINCREMENT, text TEXT NOT NULL, created_at INTEGER NOT NULL)`,
    );
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair("ping", "pong"));
  }

  async send(text: string): Promise<{ seq: number; instance: string; fresh: boolean }> {
    const seq = this.ctx.storage.sql
      .exec<{ seq: number }>(`INSERT INTO messages (text, created_at) VALUES (?, ?) RETURNING seq`, text, Date.now())
      .one().seq;
    const frame = JSON.stringify({ type: "notice", seq });
    for (const ws of this.ctx.getWebSockets()) {
      try {
        ws.send(frame);
      } catch {
        // Closing socket.
      }
    }
    return { seq, instance: this.instance, fresh: this.calls++ === 0 };
  }

  override async fetch(): Promise<Response> {
    const { 0: client, 1: server } = new WebSocketPair();
    this.ctx.acceptWebSocket(server);
    server.send(JSON.stringify({ type: "welcome", instance: this.instance }));
    return new Response(null, { status: 101, webSocket: client });
  }

  override async webSocketMessage(): Promise<void> {}

  override async webSocketClose(ws: WebSocket, code: number, reason: string): Promise<void> {
    try {
      ws.close(code === 1005 || code === 1006 ? 1000 : code, reason);
    } catch {
      // Already closed.
    }
  }
}

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    const match = /^\/rooms\/([a-z0-9-]{1,64})\/(ws|send)$/.exec(new URL(request.url).pathname);
    if (!match) return new Response("not found", { status: 404 });
    const stub = env.ROOMS.get(env.ROOMS.idFromName(match[1]!));
    if (match[2] === "ws") return stub.fetch(request);
    if (request.method !== "POST") return new Response("POST only", { status: 405 });
    return Response.json(await stub.send(await request.text()));
  },
} satisfies ExportedHandler<Env>;

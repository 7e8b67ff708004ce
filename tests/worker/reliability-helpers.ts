/**
 * Helpers shared by the fault, fuzz and security suites: bridge sockets opened straight
 * into the Worker, raw JSON-RPC posts that bypass the MCP client's own validation, and a digest of
 * everything a group object has stored.
 */
import { env } from "cloudflare:workers";
import { runInDurableObject } from "cloudflare:test";
import { BASE, stubFor, workerFetch } from "./helpers.ts";

export { stubFor as groupStub };

/** Rejects if `promise` has not settled within `ms`: every fault and fuzz case is bounded in time. */
export function within<T>(ms: number, what: string, promise: Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout>;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms (a hang)`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

export type Frame = { type: string; [key: string]: any };

/** A bridge socket as the relay sees it: every frame it received, and how it closed. */
export interface TestSocket {
  ws: WebSocket;
  frames: Frame[];
  /** Raw text frames that were not JSON (there should be none). */
  junk: string[];
  closed: { code: number; reason: string } | null;
  send(frame: unknown): void;
  notices(): Frame[];
  /** Resolves once `predicate` holds for the frames received so far. */
  until(predicate: (frames: Frame[]) => boolean, what: string, ms?: number): Promise<void>;
  close(): void;
}

/** Opens `GET /groups/<group>/ws` with a bearer token; resolves with the HTTP response when refused. */
export async function openSocket(token: string | null, group: string): Promise<TestSocket | Response> {
  const headers: Record<string, string> = { Upgrade: "websocket" };
  if (token !== null) headers.Authorization = `Bearer ${token}`;
  const response = await workerFetch(`${BASE}/groups/${group}/ws`, { headers });
  const ws = response.webSocket;
  if (!ws) return response;
  ws.accept();
  const waiters = new Set<() => void>();
  const socket: TestSocket = {
    ws,
    frames: [],
    junk: [],
    closed: null,
    send: (frame) => ws.send(typeof frame === "string" ? frame : JSON.stringify(frame)),
    notices: () => socket.frames.filter((f) => f.type === "notice"),
    until: (predicate, what, ms = 10_000) =>
      within(
        ms,
        `socket: ${what} (frames so far: ${JSON.stringify(socket.frames).slice(-500)})`,
        new Promise<void>((resolve) => {
          const check = () => {
            if (predicate(socket.frames)) {
              waiters.delete(check);
              resolve();
            }
          };
          waiters.add(check);
          check();
        }),
      ),
    close: () => {
      try {
        ws.close(1000, "test done");
      } catch {
        // Already closed.
      }
    },
  };
  const poke = () => {
    for (const waiter of [...waiters]) waiter();
  };
  ws.addEventListener("message", (event) => {
    const data = typeof event.data === "string" ? event.data : "";
    try {
      socket.frames.push(JSON.parse(data) as Frame);
    } catch {
      socket.junk.push(data);
    }
    poke();
  });
  ws.addEventListener("close", (event) => {
    socket.closed = { code: event.code, reason: event.reason };
    socket.frames.push({ type: "__closed", code: event.code, reason: event.reason });
    poke();
  });
  return socket;
}

/** Opens a socket that must be accepted, says hello, and waits for the replay to finish. */
export async function bridge(token: string, group: string, lastAcked: number | null = null): Promise<TestSocket> {
  const socket = await openSocket(token, group);
  if (socket instanceof Response) throw new Error(`socket refused: ${socket.status} ${await socket.text()}`);
  await socket.until((f) => f.some((x) => x.type === "welcome"), "welcome");
  socket.send({ type: "hello", last_acked: lastAcked });
  await socket.until((f) => f.some((x) => x.type === "replay_done"), "replay_done");
  return socket;
}

export interface RawAnswer {
  status: number;
  contentType: string | null;
  body: string;
  /** JSON-RPC messages in the answer: the JSON body, or every SSE `data:` line. */
  messages: any[];
}

/** POSTs any body to /mcp with the headers a real MCP client sends. */
export async function rawMcp(token: string | null, body: BodyInit | null, headers: Record<string, string> = {}, method = "POST"): Promise<RawAnswer> {
  const all: Record<string, string> = { "Content-Type": "application/json", Accept: "application/json, text/event-stream", ...headers };
  if (token !== null) all.Authorization = `Bearer ${token}`;
  const response = await workerFetch(`${BASE}/mcp`, { method, headers: all, body: method === "GET" || method === "HEAD" ? null : body });
  const text = await response.text();
  const contentType = response.headers.get("content-type");
  const messages: any[] = [];
  if (contentType?.includes("text/event-stream")) {
    for (const line of text.split("\n")) if (line.startsWith("data: ")) messages.push(JSON.parse(line.slice(6)));
  } else if (contentType?.includes("application/json") && text !== "") {
    const parsed: unknown = JSON.parse(text);
    messages.push(...(Array.isArray(parsed) ? parsed : [parsed]));
  }
  return { status: response.status, contentType, body: text, messages };
}

/**
 * Everything the group object keeps, table by table, as sorted JSON rows.
 *
 * Excluded, on purpose: `peers.last_seen`. Every authorised call records that the caller is alive
 * (list_peers shows "last seen"), refused ones included once the token checks out, so it
 * moves by design and says nothing about whether a refused call changed the group. Everything else,
 * profiles, cursors, acks, messages, read marks, state, revocations and the migration log, must not move.
 * `_cf_*` and `sqlite_*` tables belong to the platform, not to the relay.
 */
export async function storedState(group: string): Promise<Record<string, unknown[]>> {
  return runInDurableObject(stubFor(group), (_instance, state) => {
    const sql = state.storage.sql;
    const tables = sql
      .exec<{ name: string }>(`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE '\\_cf\\_%' ESCAPE '\\' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name`)
      .toArray()
      .map((r) => r.name);
    const out: Record<string, unknown[]> = {};
    for (const table of tables) {
      const rows = sql.exec(`SELECT * FROM "${table}"`).toArray().map((row) => {
        const copy: Record<string, unknown> = { ...row };
        if (table === "peers") delete copy.last_seen;
        return JSON.stringify(copy);
      });
      out[table] = rows.sort();
    }
    return out;
  });
}

export async function digest(group: string): Promise<string> {
  const bytes = new TextEncoder().encode(JSON.stringify(await storedState(group)));
  const hash = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return Array.from(hash, (b) => b.toString(16).padStart(2, "0")).join("");
}

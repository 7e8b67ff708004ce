/**
 * Shared set-up for the in-workerd suite: tokens signed with the suite's secret, and a real MCP
 * client (SDK v1 Client over streamable HTTP) whose fetch goes straight into the Worker.
 */
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { runInDurableObject } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { signToken, type TokenClaims } from "../../contract/token.ts";
import {
  type ClientFrame,
  KEEPALIVE_PONG,
  type NoticeFrame,
  type ReplayDoneFrame,
  ServerFrame,
  type WelcomeFrame,
} from "../../contract/frames.ts";
import { TEST_SECRET } from "../test-secret.ts";

export const BASE = "http://localhost";

export function mint(group: string, peer: string, extra: Partial<TokenClaims> = {}, secret = TEST_SECRET): Promise<string> {
  return signToken(secret, { g: group, p: peer, iat: Date.now(), ...extra });
}

/** Like a real HTTP client, always sends a Host header (a Request built in-process has none). */
export function workerFetch(input: string | URL | Request, init?: RequestInit): Promise<Response> {
  const request = new Request(input, init);
  if (!request.headers.has("Host")) request.headers.set("Host", new URL(request.url).host);
  return exports.default.fetch(request);
}

/**
 * The two ways the relay answers a tools/call (worker/mcp/route.ts): the fast lane takes a plain
 * single call; the SDK's handler takes everything else, here forced by sending the call as a
 * JSON-RPC batch of one, which the fast lane never takes.
 */
export type Lane = "fast" | "sdk";
export const LANES: readonly Lane[] = ["fast", "sdk"];

function isToolCallBody(body: unknown): boolean {
  return typeof body === "object" && body !== null && (body as { method?: unknown }).method === "tools/call";
}

/**
 * A fetch for the MCP client that sends every tools/call by `lane` and fails the call if another
 * lane answered it, so a suite run per lane really covers both.
 */
function laneFetch(lane: Lane | undefined) {
  return async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    if (!lane || init?.method !== "POST" || typeof init.body !== "string") return workerFetch(input as string, init);
    const body: unknown = JSON.parse(init.body);
    if (!isToolCallBody(body)) return workerFetch(input as string, init);
    const sent = lane === "sdk" ? { ...init, body: JSON.stringify([body]) } : init;
    const response = await workerFetch(input as string, sent);
    const served = response.headers.get("X-Relay-Lane");
    if (response.ok && served !== lane) throw new Error(`tools/call answered by the ${served} lane, expected ${lane}`);
    return response;
  };
}

/** A real MCP client for `token`, at `path` (the relay also answers at /mcp/ and /). */
export async function connect(token: string, options: { lane?: Lane; path?: string } = {}): Promise<Client> {
  const transport = new StreamableHTTPClientTransport(new URL(`${BASE}${options.path ?? "/mcp"}`), {
    requestInit: { headers: { Authorization: `Bearer ${token}` } },
    fetch: laneFetch(options.lane),
  });
  const client = new Client({ name: "relay-test", version: "1.0.0" });
  await client.connect(transport);
  return client;
}

export interface ToolOutcome {
  isError: boolean;
  text: string;
  data: Record<string, any>;
}

export async function call(client: Client, name: string, args: Record<string, unknown> = {}): Promise<ToolOutcome> {
  const result = (await client.callTool({ name, arguments: args })) as {
    isError?: boolean;
    content: { type: string; text?: string }[];
    structuredContent?: Record<string, unknown>;
  };
  return {
    isError: result.isError === true,
    text: result.content.map((c) => c.text ?? "").join("\n"),
    data: (result.structuredContent ?? {}) as Record<string, any>,
  };
}

/** A peer with its own MCP client: the usual unit of a test. */
export async function peer(group: string, name: string, lane?: Lane) {
  const token = await mint(group, name);
  const client = await connect(token, lane ? { lane } : {});
  return {
    name,
    token,
    client,
    call: (tool: string, args: Record<string, unknown> = {}) => call(client, tool, args),
    close: () => client.close(),
  };
}

/** alice, bob and carol in a fresh group, bob and carol already seen by it (so DMs to them work). */
export async function trio(prefix = "g", lane?: Lane) {
  const group = freshGroup(prefix);
  const alice = await peer(group, "alice", lane);
  const bob = await peer(group, "bob", lane);
  const carol = await peer(group, "carol", lane);
  await bob.call("list_peers");
  await carol.call("list_peers");
  return { group, alice, bob, carol };
}

let groupCounter = 0;
/** Storage is shared by the tests of one file: give each test its own group. */
export function freshGroup(prefix = "g"): string {
  groupCounter++;
  return `${prefix}-${groupCounter}-${Math.random().toString(36).slice(2, 8)}`;
}

// ---------------------------------------------------------------------------------------------
// Reaching the group object directly (storage snapshots, alarms, eviction)
// ---------------------------------------------------------------------------------------------

export function stubFor(group: string) {
  return env.GROUPS.get(env.GROUPS.idFromName(group));
}

const TABLES = ["_migrations", "peers", "messages", "read_marks", "state", "revocations"] as const;
export type Snapshot = Record<(typeof TABLES)[number], Record<string, SqlStorageValue>[]>;

/** Every row the group object has stored, table by table: compare two to prove nothing changed. */
export function snapshot(group: string): Promise<Snapshot> {
  return runInDurableObject(stubFor(group), (_instance, state) => {
    const out = {} as Snapshot;
    for (const table of TABLES) out[table] = state.storage.sql.exec(`SELECT * FROM ${table} ORDER BY 1, 2`).toArray();
    return out;
  });
}

/** Runs SQL inside the group object (seeding, backdating) and returns the rows. */
export function sqlIn(group: string, query: string, ...binds: SqlStorageValue[]): Promise<Record<string, SqlStorageValue>[]> {
  return runInDurableObject(stubFor(group), (_instance, state) => state.storage.sql.exec(query, ...binds).toArray());
}

/**
 * Marks the running instance of the group object, so a test can tell afterwards whether the
 * instance it talks to is still the same one (an eviction or restart really happened).
 */
export function markInstance(group: string): Promise<void> {
  return runInDurableObject(stubFor(group), (instance) => {
    (instance as unknown as { __testMark?: boolean }).__testMark = true;
  });
}

export function isMarkedInstance(group: string): Promise<boolean> {
  return runInDurableObject(stubFor(group), (instance) => (instance as unknown as { __testMark?: boolean }).__testMark === true);
}

// ---------------------------------------------------------------------------------------------
// Bridge sockets, opened through the Worker exactly as the bridge opens them
// ---------------------------------------------------------------------------------------------

export interface BridgeSocket {
  ws: WebSocket;
  /** Every text frame received, raw, in order. */
  raw: string[];
  /** The same frames parsed as the protocol's ServerFrame (a frame that fails to parse throws). */
  frames: ServerFrame[];
  closed: Promise<{ code: number; reason: string }>;
  send(frame: ClientFrame | string): void;
  /** The first frame at index >= from that matches; waits for it up to timeoutMs. */
  waitFor(match: (frame: ServerFrame) => boolean, options?: { from?: number; timeoutMs?: number }): Promise<{ frame: ServerFrame; index: number }>;
  /** Sends hello and returns the notices replayed before replay_done, and replay_done itself. */
  hello(lastAcked: number | null): Promise<{ notices: NoticeFrame[]; done: ReplayDoneFrame }>;
  notices(): NoticeFrame[];
  close(): void;
}

const openSockets = new Set<BridgeSocket>();

/** Close every socket a test opened (call from afterEach in files that open sockets). */
export function closeSockets(): void {
  for (const socket of openSockets) socket.close();
  openSockets.clear();
}

export function upgradeRequest(group: string, token: string | null, headers: Record<string, string> = {}): Request {
  const all: Record<string, string> = { Upgrade: "websocket", Host: "localhost", ...headers };
  if (token !== null) all.Authorization = `Bearer ${token}`;
  return new Request(`${BASE}/groups/${group}/ws`, { headers: all });
}

/** Opens a socket and waits for its welcome frame. Throws with the refusal when not upgraded. */
export async function openSocket(group: string, token: string): Promise<BridgeSocket & { welcome: WelcomeFrame }> {
  const response = await workerFetch(upgradeRequest(group, token));
  const ws = response.webSocket;
  if (response.status !== 101 || !ws) throw new Error(`upgrade refused: ${response.status} ${await response.text()}`);
  const raw: string[] = [];
  const frames: ServerFrame[] = [];
  const listeners = new Set<() => void>();
  let resolveClosed!: (value: { code: number; reason: string }) => void;
  const closed = new Promise<{ code: number; reason: string }>((resolve) => (resolveClosed = resolve));
  ws.addEventListener("message", (event) => {
    const text = typeof event.data === "string" ? event.data : new TextDecoder().decode(event.data as ArrayBuffer);
    raw.push(text);
    // Keep-alive answers are bare text, not frames.
    if (text !== KEEPALIVE_PONG) frames.push(ServerFrame.parse(JSON.parse(text)));
    for (const listener of listeners) listener();
  });
  ws.addEventListener("close", (event) => {
    resolveClosed({ code: event.code, reason: event.reason });
    for (const listener of listeners) listener();
  });
  ws.accept();

  const socket: BridgeSocket = {
    ws,
    raw,
    frames,
    closed,
    send: (frame) => ws.send(typeof frame === "string" ? frame : JSON.stringify(frame)),
    waitFor: (match, { from = 0, timeoutMs = 5_000 } = {}) =>
      new Promise((resolve, reject) => {
        const check = () => {
          for (let index = from; index < frames.length; index++) {
            const frame = frames[index]!;
            if (match(frame)) {
              done();
              resolve({ frame, index });
              return;
            }
          }
        };
        const timer = setTimeout(() => {
          done();
          reject(new Error(`no matching frame within ${timeoutMs} ms; got ${JSON.stringify(frames.slice(from))}`));
        }, timeoutMs);
        const done = () => {
          clearTimeout(timer);
          listeners.delete(check);
        };
        listeners.add(check);
        check();
      }),
    hello: async (lastAcked) => {
      const from = frames.length;
      socket.send({ type: "hello", last_acked: lastAcked });
      const { frame, index } = await socket.waitFor((f) => f.type === "replay_done", { from });
      const notices = frames.slice(from, index).filter((f): f is NoticeFrame => f.type === "notice");
      return { notices, done: frame as ReplayDoneFrame };
    },
    notices: () => frames.filter((f): f is NoticeFrame => f.type === "notice"),
    close: () => {
      openSockets.delete(socket);
      try {
        ws.close(1000, "test done");
      } catch {
        // Already closed.
      }
    },
  };
  openSockets.add(socket);
  const { frame } = await socket.waitFor((f) => f.type === "welcome");
  return Object.assign(socket, { welcome: frame as WelcomeFrame });
}

/** A bridge as the real one behaves: open, hello, replay done; live notices follow. */
export async function bridge(group: string, token: string, lastAcked: number | null = null) {
  const socket = await openSocket(group, token);
  const replay = await socket.hello(lastAcked);
  return Object.assign(socket, { replay });
}

/** Milliseconds a promise takes to settle, with its value. */
export async function timed<T>(promise: Promise<T>): Promise<{ value: T; ms: number }> {
  const start = Date.now();
  const value = await promise;
  return { value, ms: Date.now() - start };
}

/**
 * How many calls are parked in the group object right now, waiting for mail or for a reply.
 * Tests poll this before sending, so a "woken by a send" test really wakes a parked wait rather
 * than racing it.
 */
export function parkedWaits(group: string): Promise<{ mail: number; reply: number }> {
  return runInDurableObject(stubFor(group), (instance) => instance.waits.counts());
}

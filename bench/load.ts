/**
 * `npm run bench:load` (or `node bench/load.ts`): 100 peers, each with a real MCP client and a
 * bridge-protocol WebSocket, exchange DMs and broadcasts for 60 s against the real relay
 * (`npm start`, i.e. wrangler dev, on a free port with fresh storage). Issue 5's load run.
 *
 * It checks, per message and per recipient:
 *   - notices: every recipient's socket got exactly one notice (zero lost, zero duplicated), and
 *     nobody else got one (a DM's notice goes to its recipient only);
 *   - mail: every recipient read it exactly once through read_new_messages (peers read as they go,
 *     then drain at the end), and nobody else read it;
 * and reports delivery latency (send call start -> notice on the recipient's socket) p50/p90/p99,
 * send-call latency, and throughput. Exits 1 if anything was lost or duplicated.
 *
 *   node bench/load.ts [--peers 100] [--seconds 60] [--rate 40] [--broadcast-every 10] [--url URL]
 *
 * --rate is messages per second across all peers (each broadcast fans out to every other peer).
 * The relay keeps its default per-peer send limit (30 per 10 s): at the default rate each peer
 * sends well under it, and any rate_limited refusal is counted and reported, not hidden.
 * --url drives a relay that is already running (its RELAY_SECRET must be in the environment or
 * .dev.vars) instead of starting one. Results also go to bench/.out/load.json.
 */
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { parseArgs } from "node:util";
import WebSocket from "ws";
import { findSecret } from "../scripts/secret.ts";
import { type RelayServer, startRelay } from "../tests/helpers/relay-server.ts";
import { signToken } from "../contract/token.ts";
import { summarize } from "./lib/stats.ts";

const { values: args } = parseArgs({
  options: {
    peers: { type: "string", default: "100" },
    seconds: { type: "string", default: "60" },
    rate: { type: "string", default: "40" },
    "broadcast-every": { type: "string", default: "10" },
    url: { type: "string" },
  },
});
const PEERS = Number(args.peers);
const SECONDS = Number(args.seconds);
const RATE = Number(args.rate);
const BROADCAST_EVERY = Number(args["broadcast-every"]);
const GROUP = "load";
const MAX_IN_FLIGHT = 64;
const READ_EVERY_MS = 3_000;
const DRAIN_TIMEOUT_MS = 60_000;

const now = () => performance.now();
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const log = (line: string) => process.stderr.write(`${line}\n`);

interface Sent {
  seq: number;
  id: string;
  from: string;
  to: string | null;
  startedAt: number;
  returnedAt: number;
}

interface Peer {
  name: string;
  client: Client;
  socket: WebSocket;
  /** Every notice seq this peer's socket received, with the time it arrived (duplicates kept). */
  notices: { seq: number; at: number }[];
  /** Every seq this peer read through read_new_messages (duplicates kept). */
  read: number[];
  closedUnexpectedly: string | null;
}

/** Runs `task` over `items` with at most `limit` at a time. */
async function pool<T>(items: readonly T[], limit: number, task: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) await task(items[next++]!);
    }),
  );
}

async function call(client: Client, name: string, toolArgs: Record<string, unknown>): Promise<{ isError: boolean; data: any; text: string }> {
  const r = (await client.callTool({ name, arguments: toolArgs }, undefined, { timeout: 120_000 })) as {
    isError?: boolean;
    content: { text?: string }[];
    structuredContent?: unknown;
  };
  return { isError: r.isError === true, data: r.structuredContent ?? {}, text: r.content.map((c) => c.text ?? "").join(" ") };
}

async function connectPeer(url: string, name: string, token: string): Promise<Peer> {
  const client = new Client({ name: `load-${name}`, version: "1.0.0" });
  await client.connect(new StreamableHTTPClientTransport(new URL(`${url}/mcp`), { requestInit: { headers: { Authorization: `Bearer ${token}` } } }));
  const registered = await call(client, "register", { summary: `load peer ${name}` });
  if (registered.isError) throw new Error(`register ${name}: ${registered.text}`);
  const socket = new WebSocket(`${url.replace(/^http/, "ws")}/groups/${GROUP}/ws`, { headers: { Authorization: `Bearer ${token}` }, perMessageDeflate: false });
  const peer: Peer = { name, client, socket, notices: [], read: [], closedUnexpectedly: null };
  let highest = 0;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name}: no replay_done within 30 s`)), 30_000);
    socket.on("message", (data) => {
      const at = now();
      const frame = JSON.parse(String(data)) as { type: string; seq?: number };
      if (frame.type === "welcome") socket.send(JSON.stringify({ type: "hello", last_acked: null }));
      else if (frame.type === "replay_done") {
        clearTimeout(timer);
        resolve();
      } else if (frame.type === "notice") {
        peer.notices.push({ seq: frame.seq!, at });
        // Ack like a bridge does, so the relay's view matches a real deployment.
        if (frame.seq! > highest) {
          highest = frame.seq!;
          socket.send(JSON.stringify({ type: "ack", seq: highest }));
        }
      }
    });
    socket.once("error", reject);
  });
  socket.on("close", (code, reason) => {
    if (!stopping) peer.closedUnexpectedly = `${code} ${String(reason)}`;
  });
  return peer;
}

let stopping = false;

async function main(): Promise<void> {
  let relay: RelayServer | null = null;
  let url = args.url;
  if (!url) {
    log("starting the relay (npm start, wrangler dev) ...");
    // Peers here read and answer at random all over the group: their chains merge and would be
    // held by the chain and group budgets (docs/chains.md), which this bench does not measure.
    relay = await startRelay({ vars: { CHAIN_BUDGET: "1000000", GROUP_AGENT_MESSAGES_PER_HOUR: "1000000" } });
    url = relay.url;
  }
  const secret = findSecret();
  if (!secret) throw new Error("no RELAY_SECRET (environment or .dev.vars)");
  try {
    const names = Array.from({ length: PEERS }, (_, i) => `p${String(i).padStart(3, "0")}`);
    log(`connecting ${PEERS} peers (MCP client + socket each) to ${url} ...`);
    const peers: Peer[] = [];
    const setupStart = now();
    await pool(names, 10, async (name) => {
      peers.push(await connectPeer(url!, name, await signToken(secret, { g: GROUP, p: name, iat: Date.now() })));
    });
    peers.sort((a, b) => a.name.localeCompare(b.name));
    log(`connected in ${Math.round(now() - setupStart)} ms; sending ~${RATE} msg/s for ${SECONDS} s (1 in ${BROADCAST_EVERY} a broadcast) ...`);

    const sent: Sent[] = [];
    const refusals = new Map<string, number>();
    const sendLatency: number[] = [];
    const errors: string[] = [];
    let inFlight = 0;
    let skipped = 0;
    let counter = 0;
    const sends: Promise<void>[] = [];

    // Readers: each peer reads its mail every few seconds, staggered, as a Claude session would.
    const readers = peers.map(async (peer, index) => {
      await sleep((index * READ_EVERY_MS) / peers.length);
      while (!stopping) {
        try {
          const inbox = await call(peer.client, "read_new_messages", { limit: 200 });
          if (inbox.isError) errors.push(`${peer.name} read: ${inbox.text}`);
          else peer.read.push(...(inbox.data.messages as { seq: number }[]).map((m) => m.seq));
        } catch (error) {
          errors.push(`${peer.name} read threw: ${(error as Error).message}`);
        }
        await sleep(READ_EVERY_MS);
      }
    });

    const sendOne = async (n: number) => {
      const from = peers[Math.floor(Math.random() * peers.length)]!;
      const broadcast = n % BROADCAST_EVERY === 0;
      let to: Peer | null = null;
      if (!broadcast) do to = peers[Math.floor(Math.random() * peers.length)]!; while (to === from);
      const text = `load ${n} from ${from.name}${to ? ` to ${to.name}` : ""}`;
      const startedAt = now();
      inFlight++;
      try {
        const result = broadcast ? await call(from.client, "send_message", { text }) : await call(from.client, "send_dm", { to: to!.name, text });
        const returnedAt = now();
        if (result.isError) {
          const code = String(result.data.error ?? "error");
          refusals.set(code, (refusals.get(code) ?? 0) + 1);
          return;
        }
        sendLatency.push(returnedAt - startedAt);
        sent.push({ seq: result.data.seq, id: result.data.id, from: from.name, to: to?.name ?? null, startedAt, returnedAt });
      } catch (error) {
        errors.push(`send ${n} threw: ${(error as Error).message}`);
      } finally {
        inFlight--;
      }
    };

    const started = now();
    const interval = 1000 / RATE;
    while (now() - started < SECONDS * 1000) {
      const due = started + counter * interval;
      if (now() < due) await sleep(due - now());
      if (inFlight >= MAX_IN_FLIGHT) {
        // The relay is not keeping up; say so in the report rather than queue without bound.
        skipped++;
        counter++;
        continue;
      }
      sends.push(sendOne(counter++));
    }
    await Promise.all(sends);
    const sendingMs = now() - started;
    log(`sent ${sent.length} messages in ${Math.round(sendingMs)} ms; waiting for every notice ...`);

    // Who should hear about each message.
    const expected = new Map<number, { message: Sent; recipients: string[] }>();
    for (const m of sent) expected.set(m.seq, { message: m, recipients: m.to ? [m.to] : names.filter((n) => n !== m.from) });
    const expectedPairs = [...expected.values()].reduce((sum, e) => sum + e.recipients.length, 0);
    const noticed = () => peers.reduce((sum, p) => sum + new Set(p.notices.map((n) => n.seq).filter((s) => expected.has(s))).size, 0);
    const drainStart = now();
    while (noticed() < expectedPairs && now() - drainStart < DRAIN_TIMEOUT_MS) await sleep(100);

    stopping = true;
    await Promise.all(readers);
    // Final drain of unread mail, through the same tool.
    await pool(peers, 10, async (peer) => {
      for (;;) {
        const inbox = await call(peer.client, "read_new_messages", { limit: 200 });
        if (inbox.isError) throw new Error(`${peer.name} drain: ${inbox.text}`);
        peer.read.push(...(inbox.data.messages as { seq: number }[]).map((m) => m.seq));
        if (inbox.data.remaining === 0) break;
      }
    });

    // The account.
    let lostNotices = 0;
    let duplicateNotices = 0;
    let strayNotices = 0;
    let lostReads = 0;
    let duplicateReads = 0;
    let strayReads = 0;
    const latency: number[] = [];
    for (const peer of peers) {
      const noticeCounts = new Map<number, number>();
      const firstAt = new Map<number, number>();
      for (const n of peer.notices) {
        noticeCounts.set(n.seq, (noticeCounts.get(n.seq) ?? 0) + 1);
        if (!firstAt.has(n.seq)) firstAt.set(n.seq, n.at);
      }
      const readCounts = new Map<number, number>();
      for (const seq of peer.read) readCounts.set(seq, (readCounts.get(seq) ?? 0) + 1);
      for (const [seq, { message, recipients }] of expected) {
        const isRecipient = recipients.includes(peer.name);
        const notices = noticeCounts.get(seq) ?? 0;
        const reads = readCounts.get(seq) ?? 0;
        if (isRecipient) {
          if (notices === 0) lostNotices++;
          if (notices > 1) duplicateNotices += notices - 1;
          if (reads === 0) lostReads++;
          if (reads > 1) duplicateReads += reads - 1;
          const at = firstAt.get(seq);
          if (at !== undefined) latency.push(at - message.startedAt);
        } else {
          if (notices > 0) strayNotices += notices;
          if (reads > 0) strayReads += reads;
        }
      }
      for (const seq of noticeCounts.keys()) if (!expected.has(seq)) strayNotices++;
    }
    const socketsClosed = peers.filter((p) => p.closedUnexpectedly).map((p) => `${p.name}: ${p.closedUnexpectedly}`);

    const result = {
      when: new Date().toISOString(),
      machine: { cpus: cpus().length, loadavg: loadavg().map((l) => Math.round(l * 100) / 100) },
      config: { peers: PEERS, seconds: SECONDS, target_rate_per_s: RATE, broadcast_every: BROADCAST_EVERY, relay: relay ? "npm start (wrangler dev), fresh storage" : url },
      sent: {
        messages: sent.length,
        broadcasts: sent.filter((m) => m.to === null).length,
        dms: sent.filter((m) => m.to !== null).length,
        achieved_rate_per_s: Math.round((sent.length / (sendingMs / 1000)) * 10) / 10,
        refused: Object.fromEntries(refusals),
        skipped_backpressure: skipped,
        errors: errors.length,
      },
      notices: { expected: expectedPairs, delivered: noticed(), lost: lostNotices, duplicated: duplicateNotices, to_wrong_peer: strayNotices },
      mail: { lost: lostReads, read_twice: duplicateReads, to_wrong_peer: strayReads },
      delivery_ms: summarize(latency),
      send_call_ms: summarize(sendLatency),
      sockets_closed_unexpectedly: socketsClosed,
      first_errors: errors.slice(0, 5),
    };
    mkdirSync(new URL("./.out/", import.meta.url), { recursive: true });
    writeFileSync(new URL("./.out/load.json", import.meta.url), `${JSON.stringify(result, null, 2)}\n`);
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);

    const d = result.delivery_ms;
    log(
      `\n${PEERS} peers, ${SECONDS} s: ${sent.length} messages (${result.sent.broadcasts} broadcasts), ${expectedPairs} notices expected` +
        `\n  notices: lost ${lostNotices}, duplicated ${duplicateNotices}, to the wrong peer ${strayNotices}` +
        `\n  mail:    lost ${lostReads}, read twice ${duplicateReads}, to the wrong peer ${strayReads}` +
        `\n  delivery (send start -> notice): p50 ${d.p50} ms, p90 ${d.p90} ms, p99 ${d.p99} ms, max ${d.max} ms` +
        `\n  send call: p50 ${result.send_call_ms.p50} ms, p99 ${result.send_call_ms.p99} ms; refused ${JSON.stringify(result.sent.refused)}, skipped ${skipped}, errors ${errors.length}`,
    );
    stopping = true;
    for (const p of peers) {
      p.socket.close();
      await p.client.close().catch(() => {});
    }
    const clean =
      lostNotices + duplicateNotices + strayNotices + lostReads + duplicateReads + strayReads === 0 && errors.length === 0 && socketsClosed.length === 0 && sent.length > 0;
    log(clean ? "PASS: zero lost, zero duplicated" : "FAIL: see above");
    process.exitCode = clean ? 0 : 1;
  } finally {
    await relay?.stop();
  }
}

await main();

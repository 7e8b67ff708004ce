/**
 * What one tools/call costs the Worker in each lane of the MCP endpoint (worker/mcp/route.ts),
 * measured in Node with the group object stubbed out: the route's own work, from the request to
 * the last byte of the response, without the trip to the object.
 *
 *   node bench/mcp-lanes.ts [calls=3000]
 *
 * Not part of `npm run bench`; prints numbers, asserts nothing.
 */
import { serveMcp } from "../worker/mcp/route.ts";
import type { Env } from "../worker/env.ts";
import type { Caller } from "../worker/types.ts";
import { summarize } from "./lib/stats.ts";

const calls = Number(process.argv[2] ?? 3000);
const caller: Caller = { group: "bench", peer: "alice", iat: Date.now() };
const peers = [
  { name: "alice", online: true, last_seen: new Date().toISOString(), observer: false, profile: { summary: "benching" } },
  { name: "bob", online: false, last_seen: new Date().toISOString(), observer: false, profile: {} },
];
// Only what the measured tools call; answers as the group object would, at once.
const group = {
  listPeers: async () => ({ ok: true, value: { peers, paused: null } }),
  send: async () => ({ ok: true, value: { id: "m_0123456789abcdef", seq: 42, time: new Date().toISOString() } }),
};
const env = { GROUPS: { idFromName: (name: string) => name, get: () => group } } as unknown as Env;

function request(params: object, lane: "fast" | "sdk"): Request {
  const message = { jsonrpc: "2.0", id: 1, method: "tools/call", params };
  return new Request("http://localhost/mcp", {
    method: "POST",
    headers: { Host: "localhost", "Content-Type": "application/json", Accept: "application/json, text/event-stream", Authorization: "Bearer verified-already" },
    // A batch of one is a request the fast lane leaves to the SDK; otherwise the same call.
    body: JSON.stringify(lane === "sdk" ? [message] : message),
  });
}

async function once(params: object, lane: "fast" | "sdk"): Promise<number> {
  const built = request(params, lane);
  const start = process.hrtime.bigint();
  const response = await serveMcp({ request: built, env, caller, authorize: async () => ({ ok: true }), waitUntil: () => {} });
  const text = await response.text();
  const micros = Number(process.hrtime.bigint() - start) / 1000;
  if (response.headers.get("X-Relay-Lane") !== lane || !text.includes('"result"')) throw new Error(`unexpected answer: ${text.slice(0, 200)}`);
  return micros;
}

const cases = {
  list_peers: { name: "list_peers", arguments: {} },
  send_message: { name: "send_message", arguments: { text: "hello team", tags: ["bench"] } },
};

for (const [name, params] of Object.entries(cases)) {
  for (const lane of ["sdk", "fast"] as const) {
    for (let i = 0; i < 300; i++) await once(params, lane); // warm-up
    const samples: number[] = [];
    for (let i = 0; i < calls; i++) samples.push(await once(params, lane));
    const s = summarize(samples);
    console.log(`${name.padEnd(13)} ${lane.padEnd(4)} p50 ${s.p50.toFixed(1).padStart(7)} µs  p90 ${s.p90.toFixed(1).padStart(7)} µs  mean ${s.mean.toFixed(1).padStart(7)} µs  (${calls} calls)`);
  }
}

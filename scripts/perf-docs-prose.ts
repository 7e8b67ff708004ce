/**
 * The words of docs/performance.md (scripts/perf-docs.ts adds the figures): what the bench is,
 * what each scenario measures, how to reproduce. Figures never go here; they come from
 * bench/results.json so the page cannot go stale.
 */

export const PAGE_INTRO = [
  "`npm run bench` (a few minutes) starts the relay (`npm start`) and a *floor* worker on `wrangler dev`,",
  "each on a free port with fresh storage. `bench/floor/` is the least a relay can do on this platform: an",
  "HTTP POST into a Durable Object that inserts one SQLite row and sends one WebSocket frame, with no",
  "auth, no MCP and no validation. The relay's latencies are measured with floor trips interleaved one for",
  "one (random order each round), so both see the same machine noise, and each is given as a ratio to the",
  "floor's. The run prints a table, writes `bench/results.json` (date, machine, versions, p50/p90/p99,",
  "ratios, each target with met true/false) and regenerates this page from it.",
  "",
  "Latencies are in milliseconds, given as p50 / p99 (nearest rank); the \"relay / floor\" column is the",
  "ratio of the two p50s, then of the two p99s. The load scenarios lift the per-peer send limit",
  "(`RATE_LIMIT_COUNT=1000000`) so they measure the relay, not its limiter. A run fails (non-zero exit)",
  "when a scenario could not finish or counted a message lost or duplicated.",
  "",
  "This is a two-core machine shared by the relay, wrangler's proxy and the bench's own clients: a busy",
  "machine measures the same code slower, so compare runs with the load figures below in view, and",
  "compare a change against the current code in one run (`node bench/compare.ts`).",
];

/** What each scenario measures, keyed by its name in bench/run.ts. */
export const SCENARIO_PROSE: Record<string, string> = {
  floor:
    "The platform's own cost for the relay's trip, alone: one POST = Worker -> Durable Object RPC -> SQLite insert -> a frame on the one connected hibernatable socket. Call = POST start to the response read; delivery = POST start to the socket receiving the frame (same clock, same process). The other scenarios compare against floor trips taken in their own rounds; these standalone figures are the fallback.",
  tool_call:
    "`send_message` through a real MCP client (SDK v1 `Client` + `StreamableHTTPClientTransport`, one stateless POST per call, as Claude Code makes it), from `callTool()` to its result. One bridge-protocol socket listens in the group, as the floor's one socket does, so both trips do the same work.",
  delivery:
    "From the start of a `send_dm` call to the recipient's bridge emitting the notice: the real bridge process in `--stdout` mode, its JSON line timestamped when it reaches the bench. The recipient also holds a raw bridge-protocol socket that receives the same notice, so each sample splits into the relay's time (to the socket) and the bridge's (socket to line).",
  fanout:
    "One broadcast (`send_message` from a real MCP client) to 10, 100 and 500 connected sockets, each a distinct peer that said hello, timed from the call's start until the last socket has the notice; the floor does the same with one POST to a room with as many sockets. All sockets live in the bench's one Node process, so Node's own frame handling is included.",
  throughput:
    "10 concurrent senders (real MCP clients, distinct peers, each calling `send_message` back to back) for 20 s into one group where 10 other peers listen on bridge-protocol sockets that ack as a bridge does; the floor runs the same shape for 10 s. Every accepted message must reach every listener exactly once: lost and duplicated notices are counted per listener and fail the run. On two cores the rate is bound by the CPU of everything on the machine, the load generator included, so the CPU each process spends per message is read from /proc.",
  wake:
    "Delivery of the first message after the group's object was evicted. `wrangler dev` cannot evict on demand, so several groups (and floor rooms), each with a connected recipient, are left idle until local workerd evicts them (about 10 s; hibernatable sockets stay open), then each gets one message and a second one right after. The floor reports whether its object was freshly constructed, which proves the idle period evicts.",
  context:
    "What the relay's tool list costs in every Claude Code session that has it: the bytes of the `tools/list` result (names, descriptions, input schemas) as JSON, and bytes/4 as a rough token estimate.",
  bundle: "What `wrangler deploy --dry-run` would upload, as it reports it (offline: a dry run bundles without contacting Cloudflare).",
  bridge:
    "The real bridge process (`connect --stdout`), connected and caught up, left idle for 30 s (RSS and CPU from /proc every second), then made to handle 100 notices. Both forms a person runs: the bundle behind the `relay-bridge` bin (the target) and the TypeScript CLI run by Node's type stripping (for information).",
  hooks:
    "How long Claude Code waits for the relay's hook command (`relay-bridge hook prompt|stop`) per prompt and per stop, as a whole process (start-up, reading its profile, the unread-summary call, printing), with two unread DMs so every run has something to say; the summary call alone is the relay's share. Every form a hook can run as, and the fail-open cost against a relay that refuses connections.",
  web:
    "The people's room in a real browser (Chromium): how soon a send shows in the page, next to how soon the same message's notice reaches a bridge socket in the same rounds (the page is timed by a MutationObserver calling back through a CDP binding, about 1 ms); how long the room takes to draw with 200 messages; and what the page weighs.",
};

/** Where a send's CPU goes, and what the relay does that the floor does not. */
export const WHERE_TIME_GOES = [
  "## Where a send's time goes",
  "",
  "Under `wrangler dev` the Worker and the group object run in one workerd process; in production they are",
  "apart, and they scale differently: the Worker's share is spread over as many isolates as there are",
  "requests, while the object's share is one group's ceiling. `node bench/cost.ts` separates them by",
  "driving raw POSTs (no MCP client, so the client's cost is alike for both) and reading each process's",
  "CPU from /proc: a `send_message` tools/call, the same call with an invalid argument (the Worker's",
  "share alone: token, body, the fast lane's validation and framing, no call to the object), and the",
  "floor's POST, each with and without 10 listening sockets.",
  "",
  "What a send costs the relay beyond the floor's insert-and-frame, and what was done about each:",
  "",
  "- The Worker: the bearer token's HMAC (each isolate remembers tokens it has verified, re-checking",
  "  expiry on every use; revocation is the object's check on every call, so remembering is safe), the",
  "  MCP JSON-RPC envelope (the fast lane answers a single `tools/call` from the tool table; a tool that",
  "  answers within a second goes out as one plain body, the same bytes as the SDK's event stream), the",
  "  input's zod parse and the compact result.",
  "- The object: the send rules (one statement; the rate limit's count of recent sends is kept in memory,",
  "  so it no longer walks one index entry per message in the window, which under the bench's lifted",
  "  limit was hundreds per send), the insert with its byte-counting triggers, and the audience rule per",
  "  socket. The trigram search index, which FTS5 updates with a new segment per transaction, is filled",
  "  in batches a second after sends and before every search, so it is off the send path without any",
  "  search missing a message.",
  "- The listeners: a bridge acks the notices it handles, so each message brings a frame back from every",
  "  listener; the floor's sockets send nothing. Acks are read by hand, checked against seqs known",
  "  issued, and the peers' `acked_seq` rows are written together a quarter of a second after the first",
  "  (and before any replay reads them), not once per listener per message. What remains is the",
  "  runtime's cost of delivering each ack frame to the object, which the floor never pays.",
  "",
];

export const REPRODUCE = [
  "## Reproduce",
  "",
  "```sh",
  "npm run bench                          # every scenario; rewrites bench/results.json and this page",
  "npm run bench -- delivery throughput   # only these (the floor always runs); results go to bench/.out/",
  "npm run bench:docs                     # this page again from bench/results.json",
  "node bench/compare.ts wrangler.toml <other wrangler.toml>   # a changed worker against the current one",
  "node bench/profile.ts 400              # where a send's CPU goes, per process",
  "node bench/cost.ts 1500 3              # CPU per send by process: relay, its Worker alone, the floor",
  "npm run bench:load                     # 100 peers for 60 s: lost, duplicated or misdelivered mail",
  "npm run bench:abuse                    # what one hostile token costs a bystander (see security.md)",
  "```",
  "",
  "`npm run bench:load` runs 100 peers (an MCP client and an acking socket each) exchanging DMs and",
  "broadcasts, and checks that every recipient got exactly one notice and read each message exactly once;",
  "it exits 1 if anything was lost, duplicated or misdelivered (`node bench/load.ts --peers 20 --seconds 10`",
  "for a short run).",
];

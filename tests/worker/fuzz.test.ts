/**
 * A seeded fuzzer for bad input: well over 1,000 malformed requests and socket frames
 * thrown at the real Worker inside workerd. Every case must be refused - an HTTP 4xx, a JSON-RPC
 * error or an MCP tool error, or an error frame on a socket - and never a 5xx or a hang; the group
 * object must not crash, and what it has stored must be byte-for-byte what it was before.
 *
 * The cases come from a small deterministic PRNG, so a failure names its seed and case number and
 * replays exactly. Another seed: `FUZZ_SEED=1234 npx vitest run --project worker tests/worker/fuzz.test.ts`.
 */
import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { signAdminProof } from "../../contract/token.ts";
import { isValidName } from "../../contract/names.ts";
import { TEST_SECRET } from "../test-secret.ts";
import { BASE, freshGroup, mint, peer, workerFetch } from "./helpers.ts";
import { digest, groupStub, openSocket, type RawAnswer, rawMcp, storedState, type TestSocket, within } from "./reliability-helpers.ts";

/** The default seed is fixed so `npm test` is repeatable; vitest.config.ts passes FUZZ_SEED through. */
const SEED = Number((env as { FUZZ_SEED?: string }).FUZZ_SEED || 0x5eed2026) >>> 0;
const CASE_TIMEOUT_MS = 10_000;

/** mulberry32: tiny, fast, and good enough to pick test cases. */
function prng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  const pick = <T>(items: readonly T[]): T => items[int(items.length)]!;
  return { next, int, pick, chance: (p: number) => next() < p };
}
type Rng = ReturnType<typeof prng>;

// ---------------------------------------------------------------------------------------------
// Ingredients
// ---------------------------------------------------------------------------------------------

/** Unicode and control-character edge cases; each one is illegal in a name. */
const EDGES = [
  "\ud800", // lone high surrogate
  "\udfff", // lone low surrogate
  "\u202e", // right-to-left override
  "\u200f", // right-to-left mark
  "مرحبا", // Arabic (RTL)
  "שלום", // Hebrew (RTL)
  "\u200b", // zero-width space
  "\u200d", // zero-width joiner
  "\ufeff", // byte-order mark
  "😀",
  "👨‍👩‍👧",
  "🇺🇸",
  "e\u0301", // combining accent
  "ａ", // full-width a
  "а", // Cyrillic a, looks Latin
  "\u0000",
  "\u0007",
  "\u001b[31m",
  "\r\n",
  "\t",
  "\u007f",
  "\u0085",
  "\u2028",
  "A",
  " ",
  "/",
  "\\",
  "'",
  '"',
  "%",
  "*",
  "<script>",
  "İ", // upper-case dotted I: lower-cases to two code points
];

const VALID_NAME_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789._-";

function validName(rng: Rng, length = 1 + rng.int(12)): string {
  let name = "abcdefghijklmnopqrstuvwxyz0123456789"[rng.int(36)]!;
  while (name.length < length) name += VALID_NAME_CHARS[rng.int(VALID_NAME_CHARS.length)];
  return name;
}

/** A string that breaks the naming rule in one of many ways. */
function invalidName(rng: Rng): string {
  for (;;) {
    let name: string;
    switch (rng.int(7)) {
      case 0:
        name = "";
        break;
      case 1:
        name = validName(rng, 65 + rng.int(200));
        break;
      case 2:
        name = rng.pick([".", "_", "-"]) + validName(rng);
        break;
      case 3:
        name = validName(rng).toUpperCase() + "X";
        break;
      default: {
        const base = validName(rng);
        const at = rng.int(base.length + 1);
        name = base.slice(0, at) + rng.pick(EDGES) + base.slice(at);
      }
    }
    if (!isValidName(name)) return name;
  }
}

function junkText(rng: Rng, max = 80): string {
  let out = "";
  const length = rng.int(max);
  while (out.length < length) {
    out += rng.chance(0.3) ? rng.pick(EDGES) : String.fromCharCode(rng.chance(0.2) ? rng.int(32) : 32 + rng.int(95));
  }
  return out;
}

/** Values of every JSON type but the one a field wants. */
const WRONG_FOR_STRING = [0, 42, -1.5, true, false, null, [], ["x"], {}, { text: "x" }];
const WRONG_FOR_NUMBER = ["5", "", "ten", true, null, [], [5], {}, { n: 5 }];
const WRONG_FOR_BOOL = ["true", "false", 1, 0, null, [], {}];

type ArgKind = "name" | "target" | "text" | "profile" | "replyTo" | "bool" | "tags" | "limit" | "timeout" | "before" | "query" | "prefix" | "value";

interface ToolSpec {
  args: Record<string, ArgKind>;
  required: string[];
  /** Valid arguments; a case mutates at least one of them into something invalid. */
  base: () => Record<string, unknown>;
}

/** The peers that exist in the fuzzed group besides the fuzzing peer itself. */
const OTHERS = ["alice", "bob"];
const FUZZER = "fz";

const TOOLS: Record<string, ToolSpec> = {
  register: { args: { summary: "profile", hostname: "profile", cwd: "profile", branch: "profile" }, required: [], base: () => ({ summary: "fuzzing" }) },
  send_message: { args: { text: "text", reply_to: "replyTo", urgent: "bool", tags: "tags" }, required: ["text"], base: () => ({ text: "should never be stored", urgent: false, tags: ["a"] }) },
  send_dm: { args: { to: "target", text: "text", reply_to: "replyTo", urgent: "bool" }, required: ["to", "text"], base: () => ({ to: "alice", text: "should never be stored" }) },
  read_new_messages: { args: { limit: "limit" }, required: [], base: () => ({ limit: 5 }) },
  get_history: { args: { peer: "target", before: "before", limit: "limit", query: "query" }, required: [], base: () => ({ limit: 5 }) },
  ask_peer: { args: { to: "target", question: "text", timeout_seconds: "timeout" }, required: ["to", "question"], base: () => ({ to: "bob", question: "never asked?", timeout_seconds: 1 }) },
  wait_for_messages: { args: { timeout_seconds: "timeout" }, required: [], base: () => ({ timeout_seconds: 0 }) },
  set_state: { args: { key: "name", value: "value" }, required: ["key", "value"], base: () => ({ key: "fuzz-key", value: { never: "stored" } }) },
  get_state: { args: { key: "name", prefix: "prefix" }, required: [], base: () => ({ prefix: "zzz" }) },
};

/** A value `kind` refuses. `tool` matters where the same kind is refused differently (keys, targets). */
function invalidValue(rng: Rng, tool: string, kind: ArgKind): unknown {
  const roll = rng.int(10);
  switch (kind) {
    case "name":
      if (tool === "get_state" && roll < 2) return validName(rng) + "-missing"; // not_found, nothing stored
      return roll < 8 ? invalidName(rng) : rng.pick(WRONG_FOR_STRING);
    case "target":
      if (roll < 2) return `nobody-${validName(rng)}`; // well-formed but no such peer
      if (roll < 3 && tool !== "get_history") return FUZZER; // a DM or question to yourself
      return roll < 8 ? invalidName(rng) : rng.pick(WRONG_FOR_STRING);
    case "text":
      if (roll < 2) return "";
      if (roll < 4) return junkText(rng, 20) + "\ud800!" + junkText(rng, 20); // a lone surrogate ("!" keeps it from pairing)
      if (roll < 5) return "y".repeat(65_537 + rng.int(1000)); // over MAX_MESSAGE_BYTES
      if (roll < 6) return "😀".repeat(16_385 + rng.int(100)); // 4 bytes each: over the limit in UTF-8, not in chars
      return rng.pick(WRONG_FOR_STRING);
    case "profile":
      return roll < 4 ? junkText(rng, 20) + "p".repeat(513 + rng.int(1000)) : rng.pick(WRONG_FOR_STRING);
    case "replyTo":
      if (roll < 3) return `m_${"0123456789abcdef"[rng.int(16)]!.repeat(16)}`; // well-formed, no such message
      if (roll < 5) return rng.pick(["", "m".repeat(65 + rng.int(100))]);
      if (roll < 6) return junkText(rng, 30) || "\u0000";
      return rng.pick(WRONG_FOR_STRING);
    case "bool":
      return rng.pick(WRONG_FOR_BOOL);
    case "tags":
      if (roll < 2) return Array.from({ length: 9 + rng.int(20) }, (_, i) => `t${i}`);
      if (roll < 4) return ["ok", "t".repeat(33 + rng.int(100))];
      if (roll < 5) return [""];
      if (roll < 7) return [rng.pick(WRONG_FOR_STRING.filter((v) => typeof v !== "string"))];
      return rng.pick(["a,b", 5, true, null, {}, { 0: "a" }]);
    case "limit":
      return roll < 6 ? rng.pick([0, -1, 201, 1000, 1.5, 2 ** 53, -(2 ** 31), 1e308]) : rng.pick(WRONG_FOR_NUMBER);
    case "timeout":
      return roll < 6 ? rng.pick([-1, 601, 3600, 0.5, 1.25, 2 ** 53, 1e308, -0.1]) : rng.pick(WRONG_FOR_NUMBER);
    case "before":
      return roll < 6 ? rng.pick([0, -1, -100, 1.5, 2 ** 60, 1e308]) : rng.pick(WRONG_FOR_NUMBER);
    case "query":
      return roll < 5 ? junkText(rng, 10) + "q".repeat(201 + rng.int(500)) : rng.pick(WRONG_FOR_STRING);
    case "prefix":
      return roll < 5 ? "x".repeat(65 + rng.int(500)) : rng.pick(WRONG_FOR_STRING);
    case "value":
      if (roll < 5) return { blob: "v".repeat(16_385 + rng.int(2000)) }; // over 16 KiB of JSON
      if (roll < 7) return Array.from({ length: 3000 + rng.int(3000) }, () => "abcdef"); // over 16 KiB as an array
      return "deep"; // replaced by a deeply nested value in toolCase
  }
}

function deeplyNested(depth: number): string {
  return "[".repeat(depth) + "]".repeat(depth);
}

// ---------------------------------------------------------------------------------------------
// Cases
// ---------------------------------------------------------------------------------------------

type HttpCase = {
  kind: "http";
  category?: string;
  label: string;
  path?: string;
  method?: string;
  body?: BodyInit | null;
  headers?: Record<string, string>;
  /** Omit the token; or use another one. */
  token?: string | null;
  /** A JSON-RPC notification: the protocol forbids an answer, so 202 with an empty body is right. */
  notification?: boolean;
};
type FrameCase = { kind: "frame"; label: string; frame: string | ArrayBuffer };
type Case = HttpCase | FrameCase;

let nextId = 1;
const rpc = (method: unknown, params?: unknown, id: unknown = nextId++) => ({ jsonrpc: "2.0", id, method, ...(params === undefined ? {} : { params }) });

function toolCall(rng: Rng): { label: string; message: Record<string, unknown>; raw?: string } {
  const name = rng.pick(Object.keys(TOOLS));
  const spec = TOOLS[name]!;
  const args = spec.base();
  const fields = Object.keys(spec.args);
  const mutations = 1 + (rng.chance(0.2) ? rng.int(2) : 0);
  const done: string[] = [];
  let deep: number | null = null;
  for (let i = 0; i < mutations; i++) {
    const field = rng.pick(fields);
    if (spec.required.includes(field) && rng.chance(0.15)) {
      delete args[field];
      done.push(`${field}:missing`);
      continue;
    }
    const value = invalidValue(rng, name, spec.args[field]!);
    if (value === "deep" && spec.args[field] === "value") {
      deep = 3000 + rng.int(20_000);
      args[field] = "__DEEP__";
      done.push(`${field}:nested ${deep} deep`);
    } else {
      args[field] = value;
      done.push(`${field}=${JSON.stringify(value)?.slice(0, 40)}`);
    }
  }
  const message = rpc("tools/call", { name, arguments: args });
  const raw = deep === null ? undefined : JSON.stringify(message).replace('"__DEEP__"', deeplyNested(deep));
  return { label: `${name} ${done.join(" ")}`, message, ...(raw ? { raw } : {}) };
}

function envelope(rng: Rng): { label: string; body: string; notification?: boolean } {
  const valid = JSON.stringify(rpc("tools/call", { name: "send_message", arguments: { text: "hi" } }));
  switch (rng.int(14)) {
    case 0:
      return { label: "random text", body: junkText(rng, 200) };
    case 1: {
      const cut = 1 + rng.int(valid.length - 2);
      return { label: `truncated at ${cut}`, body: valid.slice(0, cut) };
    }
    case 2:
      return { label: "JSON scalar", body: JSON.stringify(rng.pick([0, 1, -1, "tools/call", true, false, null, 3.14])) };
    case 3: {
      const version = rng.pick([undefined, "1.0", "2", 2, 2.0, null, "2.0 ", ""]);
      return { label: `jsonrpc=${JSON.stringify(version)}`, body: JSON.stringify({ ...rpc("tools/list"), jsonrpc: version }) };
    }
    case 4: {
      const id = rng.pick([{}, [], [1], true, false, 1.5, { id: 1 }]);
      return { label: `id=${JSON.stringify(id)}`, body: JSON.stringify(rpc("tools/list", undefined, id)) };
    }
    case 5: {
      const method = rng.pick([5, null, true, [], {}, ["tools/call"]]);
      return { label: `method=${JSON.stringify(method)}`, body: JSON.stringify(rpc(method)) };
    }
    case 6: {
      const method = rng.pick(["tools/call ", "Tools/Call", "tools/cal", "tools\u200b/call", "tools/list/x", "", "resources/read", "prompts/get", "completion/complete", "sampling/createMessage", "x".repeat(1000)]) + (rng.chance(0.3) ? junkText(rng, 5) : "");
      return { label: `method=${JSON.stringify(method).slice(0, 40)}`, body: JSON.stringify(rpc(method, {})) };
    }
    case 7: {
      const params = rng.pick(["send_message", 5, true, [], [{ name: "send_message" }], null]);
      return { label: `tools/call params=${JSON.stringify(params)}`, body: JSON.stringify(rpc("tools/call", params)) };
    }
    case 8: {
      const name = rng.chance(0.5) ? rng.pick([5, null, [], {}, true]) : rng.pick(["Send_Message", "send_message ", "send-message", "sendMessage", "", "send_message\u0000", "register\u200b", "😀"]) + junkText(rng, 3);
      return { label: `tool name=${JSON.stringify(name)}`, body: JSON.stringify(rpc("tools/call", { name, arguments: {} })) };
    }
    case 9: {
      const args = rng.pick(["hi", 5, true, ["text"], null]);
      return { label: `arguments=${JSON.stringify(args)}`, body: JSON.stringify(rpc("tools/call", { name: rng.pick(Object.keys(TOOLS)), arguments: args })) };
    }
    case 10:
      return { label: "initialize with garbage params", body: JSON.stringify(rpc("initialize", rng.pick([{ protocolVersion: 5 }, { capabilities: "all" }, [], "x", { protocolVersion: "2025-06-18", clientInfo: 7 }]))) };
    case 11:
      return { label: "deeply nested body", body: deeplyNested(1000 + rng.int(100_000)) };
    case 12: {
      // A notification (no id) asking for a real, valid send: the protocol says it gets no answer,
      // and it must not be executed (the digest proves nothing was stored).
      const { id: _, ...notification } = rpc("tools/call", { name: "send_message", arguments: { text: "notification, never sent" } });
      return { label: "tools/call as a notification", body: JSON.stringify(notification), notification: true };
    }
    default:
      return { label: "JSON with an illegal escape", body: `{"jsonrpc":"2.0","id":1,"method":"tools/\\x${rng.int(99)}call"}` };
  }
}

function batch(rng: Rng): { label: string; body: string; notification?: boolean } {
  const roll = rng.int(10);
  if (roll === 0) return { label: "empty batch", body: "[]" };
  if (roll === 1) {
    const items = Array.from({ length: 1 + rng.int(4) }, () => {
      const { id: _, ...n } = rpc("tools/call", { name: "send_message", arguments: { text: "batched notification" } });
      return n;
    });
    return { label: `batch of ${items.length} notifications`, body: JSON.stringify(items), notification: true };
  }
  const items: unknown[] = [];
  const labels: string[] = [];
  for (let i = 0, n = 2 + rng.int(5); i < n; i++) {
    if (rng.chance(0.7)) {
      const call = toolCall(rng);
      if (call.raw) continue;
      items.push(call.message);
      labels.push(call.label.split(" ")[0]!);
    } else {
      const env = envelope(rng);
      if (env.notification || env.label === "deeply nested body") continue;
      try {
        items.push(JSON.parse(env.body));
        labels.push(env.label);
      } catch {
        items.push(env.body); // a string inside a batch
        labels.push("string item");
      }
    }
  }
  if (rng.chance(0.1)) items.push(junkText(rng, 10));
  return { label: `batch [${labels.join(", ").slice(0, 80)}]`, body: JSON.stringify(items) };
}

/** encodeURIComponent, except that a lone surrogate becomes the (invalid UTF-8) bytes it would be. */
function encodeSegment(text: string): string {
  try {
    return encodeURIComponent(text);
  } catch {
    return encodeURIComponent(text.replace(/[\ud800-\udfff]/g, "")) + "%ED%A0%80";
  }
}

async function adminCases(rng: Rng, group: string): Promise<HttpCase[]> {
  const revoke = `/groups/${group}/revoke`;
  const now = Date.now();
  const json = (value: unknown) => JSON.stringify(value);
  const cases: HttpCase[] = [
    { kind: "http", label: "revoke: not JSON", path: revoke, body: junkText(rng, 50) + "{" },
    { kind: "http", label: "revoke: empty", path: revoke, body: "" },
    { kind: "http", label: "revoke: no proof", path: revoke, body: json({ peer: "alice" }) },
    { kind: "http", label: "revoke: invalid peer", path: revoke, body: json({ peer: invalidName(rng), proof: "1.x" }) },
    { kind: "http", label: "revoke: proof is a number", path: revoke, body: json({ peer: "alice", proof: 12345 }) },
    { kind: "http", label: "revoke: oversized proof", path: revoke, body: json({ peer: "alice", proof: "1".repeat(5000) }) },
    { kind: "http", label: "revoke: garbage proof", path: revoke, body: json({ peer: "alice", proof: `${now}.${junkText(rng, 40)}` }) },
    { kind: "http", label: "revoke: proof signed with another secret", path: revoke, body: json({ peer: "alice", proof: await signAdminProof("another-secret-0123456789abcdef0123456789", "revoke", `${group}/alice`, now) }) },
    { kind: "http", label: "revoke: proof for another peer", path: revoke, body: json({ peer: "alice", proof: await signAdminProof(TEST_SECRET, "revoke", `${group}/bob`, now) }) },
    { kind: "http", label: "revoke: proof for another group", path: revoke, body: json({ peer: "alice", proof: await signAdminProof(TEST_SECRET, "revoke", `other/alice`, now) }) },
    { kind: "http", label: "revoke: proof for another action", path: revoke, body: json({ peer: "alice", proof: await signAdminProof(TEST_SECRET, "mint", `${group}/alice`, now) }) },
    { kind: "http", label: "revoke: stale proof", path: revoke, body: json({ peer: "alice", proof: await signAdminProof(TEST_SECRET, "revoke", `${group}/alice`, now - 6 * 60_000) }) },
    { kind: "http", label: "revoke: proof from the future", path: revoke, body: json({ peer: "alice", proof: await signAdminProof(TEST_SECRET, "revoke", `${group}/alice`, now + 6 * 60_000) }) },
    { kind: "http", label: "revoke: GET", path: revoke, method: "GET", body: null },
    { kind: "http", label: "socket: invalid group in path", path: `/groups/${encodeSegment(invalidName(rng))}/ws`, method: "GET", body: null, headers: { Upgrade: "websocket" } },
    { kind: "http", label: "socket: no upgrade", path: `/groups/${group}/ws`, method: "GET", body: null },
    { kind: "http", label: "socket: another group's path", path: `/groups/${group}-x/ws`, method: "GET", body: null, headers: { Upgrade: "websocket" } },
    { kind: "http", label: "socket: POST", path: `/groups/${group}/ws`, method: "POST", body: "{}" },
  ];
  for (let i = 0; i < 12; i++) {
    const path = rng.pick([`/mcp/${validName(rng)}`, `/groups/${group}`, `/groups/${group}/ws/x`, `/${junkText(rng, 10)}`, "/.env", "/admin", "/groups//ws", "/MCP"]);
    cases.push({ kind: "http", label: `unknown route ${JSON.stringify(path)}`, path: path.split("/").map(encodeSegment).join("/"), method: rng.pick(["GET", "POST", "PUT"]), body: rng.chance(0.5) ? null : "{}" });
  }
  return cases;
}

async function protocolCases(rng: Rng, group: string): Promise<HttpCase[]> {
  const good = JSON.stringify(rpc("tools/call", { name: "send_message", arguments: { text: "should never be stored" } }));
  const expired = await mint(group, FUZZER, { exp: Date.now() - 1000 });
  const forged = await mint(group, FUZZER, {}, "not-the-relay-secret-0123456789abcdef0123");
  const valid = await mint(group, FUZZER);
  const [head, claims, sig] = valid.split(".");
  const tamperedClaims = btoa(JSON.stringify({ g: group, p: "alice", iat: Date.now() })).replace(/=+$/, "").replace(/\+/g, "-").replace(/\//g, "_");
  const cases: HttpCase[] = [];
  for (const method of ["GET", "DELETE", "PUT", "PATCH", "HEAD", "OPTIONS"]) cases.push({ kind: "http", label: `${method} /mcp`, method, body: method === "GET" || method === "HEAD" ? null : good });
  for (const type of ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/jsonx", ""]) {
    cases.push({ kind: "http", label: `Content-Type ${JSON.stringify(type)}`, body: good, headers: { "Content-Type": type } });
  }
  for (const accept of ["text/html", "application/json", "text/event-stream", "", "*/x"]) {
    cases.push({ kind: "http", label: `Accept ${JSON.stringify(accept)}`, body: good, headers: { Accept: accept } });
  }
  for (let i = 0; i < 6; i++) {
    const bytes = new Uint8Array(1 + rng.int(300));
    for (let j = 0; j < bytes.length; j++) bytes[j] = 0x80 + rng.int(128); // never valid UTF-8 on its own
    cases.push({ kind: "http", label: `invalid UTF-8 body (${bytes.length} bytes)`, body: bytes });
  }
  // Oversized bodies: past the MCP transport's 4 MiB cap, and a large message text under it.
  cases.push({ kind: "http", label: "4 MiB + 1 body", body: `{"jsonrpc":"2.0","id":1,"method":"ping","pad":"${"p".repeat(4 * 1024 * 1024)}"}` });
  cases.push({ kind: "http", label: "1 MiB message text", body: JSON.stringify(rpc("tools/call", { name: "send_message", arguments: { text: "z".repeat(1024 * 1024) } })) });
  cases.push({ kind: "http", label: "3 MiB state value", body: JSON.stringify(rpc("tools/call", { name: "set_state", arguments: { key: "big", value: "v".repeat(3 * 1024 * 1024) } })) });
  // Tokens: none, malformed, forged, tampered, expired. None of these reaches the group.
  const tokens: [string, string | null, Record<string, string>?][] = [
    ["no Authorization", null],
    ["Authorization: Bearer (empty)", null, { Authorization: "Bearer " }],
    ["Authorization: Basic", null, { Authorization: `Basic ${btoa("fz:pw")}` }],
    ["two tokens", null, { Authorization: `Bearer ${valid} ${valid}` }],
    ["latin-1 junk token", "rly1.\u00ff\u00fe.\u00e9"],
    ["garbage token", junkText(rng, 30).replace(/[^\x21-\x7e]/g, "") || "x"],
    ["forged token", forged],
    ["expired token", expired],
    ["claims swapped to alice", `${head}.${tamperedClaims}.${sig}`],
    ["signature truncated", `${head}.${claims}.${sig!.slice(0, 20)}`],
    ["signature of another length", `${head}.${claims}.${sig}AA`],
    ["rly2 prefix", `rly2.${claims}.${sig}`],
    ["4 parts", `${valid}.x`],
  ];
  for (const [label, token, headers] of tokens) cases.push({ kind: "http", label: `token: ${label}`, body: good, token, ...(headers ? { headers } : {}) });
  return cases;
}

function frameCase(rng: Rng, latestSeq: number): FrameCase {
  const roll = rng.int(12);
  const frame = (label: string, value: unknown): FrameCase => ({ kind: "frame", label, frame: JSON.stringify(value) });
  switch (roll) {
    case 0:
      return { kind: "frame", label: "random text", frame: junkText(rng, 100) || "{" };
    case 1: {
      const text = JSON.stringify({ type: "hello", last_acked: null });
      const cut = 1 + rng.int(text.length - 2);
      return { kind: "frame", label: `truncated hello at ${cut}`, frame: text.slice(0, cut) };
    }
    case 2:
      return frame("JSON scalar", rng.pick([0, "hello", null, true, [], [{ type: "ack", seq: 1 }]]));
    case 3:
      return frame("unknown type", { type: rng.pick(["Hello", "ACK", "notice", "welcome", "send", "hello\u200b", "", 5, null]), seq: 1 });
    case 4:
      return frame("hello with a bad last_acked", { type: "hello", last_acked: rng.pick([-1, "5", 1.5, {}, [], true, 2 ** 53 + 2]) });
    case 5:
      return frame("hello without last_acked", { type: "hello" });
    case 6:
      return frame("ack with a bad seq", { type: "ack", seq: rng.pick([-1, "3", 1.5, null, {}, [1], true, 1e308]) });
    case 7:
      return frame("ack without seq", { type: "ack" });
    case 8:
      // Well-formed, but acknowledges mail that does not exist: it would silence future replays.
      return frame("ack beyond the newest seq", { type: "ack", seq: latestSeq + 1 + rng.int(1_000_000) });
    case 9: {
      const size = 4097 + rng.int(60_000);
      return { kind: "frame", label: `oversized frame (${size} chars)`, frame: JSON.stringify({ type: "ack", seq: 1, pad: "x".repeat(size) }) };
    }
    case 10: {
      const bytes = new Uint8Array(1 + rng.int(64));
      for (let i = 0; i < bytes.length; i++) bytes[i] = rng.int(256);
      return { kind: "frame", label: `binary frame (${bytes.length} bytes)`, frame: bytes.buffer };
    }
    default:
      return { kind: "frame", label: "unicode keys", frame: JSON.stringify({ [rng.pick(EDGES)]: "hello", type: "hello\u202e", last_acked: null }) };
  }
}

// ---------------------------------------------------------------------------------------------
// Judging answers
// ---------------------------------------------------------------------------------------------

/** Null when the answer is a proper refusal; otherwise what is wrong with it. */
function judge(c: HttpCase, answer: RawAnswer): string | null {
  if (answer.status >= 500) return `HTTP ${answer.status}: ${answer.body.slice(0, 300)}`;
  if (answer.status >= 400) return null;
  if (c.notification) return answer.status === 202 && answer.body === "" ? null : `notification answered ${answer.status} ${answer.body.slice(0, 200)}`;
  if (answer.status !== 200) return `unexpected HTTP ${answer.status}: ${answer.body.slice(0, 200)}`;
  if (answer.messages.length === 0) return `200 with no JSON-RPC answer: ${answer.body.slice(0, 200)}`;
  for (const m of answer.messages) {
    const refused = (m && typeof m === "object" && "error" in m) || m?.result?.isError === true;
    if (!refused) return `accepted: ${JSON.stringify(m).slice(0, 300)}`;
    const text: string = m.error?.message ?? m.result?.content?.map((x: { text?: string }) => x.text ?? "").join(" ") ?? "";
    if (text.trim() === "") return `refusal without a message: ${JSON.stringify(m).slice(0, 200)}`;
  }
  return null;
}

// ---------------------------------------------------------------------------------------------
// The run
// ---------------------------------------------------------------------------------------------

describe(`seeded fuzzer (seed ${SEED})`, () => {
  const group = freshGroup("fuzz");
  let token: string;
  let latestSeq = 0;

  beforeAll(async () => {
    // A group with something in every table, so "unchanged" means something.
    const alice = await peer(group, "alice");
    const bob = await peer(group, "bob");
    const fz = await peer(group, FUZZER);
    token = fz.token;
    await alice.call("register", { summary: "alice's work", branch: "main" });
    await bob.call("register", { summary: "bob's work" });
    await fz.call("register", { summary: "the fuzzer" });
    const first = await alice.call("send_message", { text: "hello all", tags: ["x"] });
    await bob.call("send_dm", { to: "alice", text: "private: alice and bob only" });
    await alice.call("send_dm", { to: FUZZER, text: "a DM to the fuzzer", reply_to: first.data.id });
    const last = await bob.call("send_message", { text: "from bob", urgent: true });
    latestSeq = last.data.seq;
    await fz.call("read_new_messages", { limit: 1 });
    await alice.call("set_state", { key: "build", value: { status: "green", n: [1, 2, 3] } });
    await runInDurableObject(groupStub(group), async (instance) => {
      await instance.revoke("mallory", Date.now());
    });
    for (const p of [alice, bob, fz]) await p.close();
  });

  it(`refuses >= 1,000 malformed requests and frames without a 5xx, a hang, a crash or a change`, { timeout: 240_000 }, async () => {
    console.log(`fuzz seed ${SEED} (replay: FUZZ_SEED=${SEED} npx vitest run --project worker tests/worker/fuzz.test.ts)`);
    const rng = prng(SEED);
    const cases: Case[] = [];
    // Systematically: every argument of every tool, with a value of every wrong JSON type.
    for (const [name, spec] of Object.entries(TOOLS)) {
      for (const [field, kind] of Object.entries(spec.args)) {
        if (kind === "value") continue; // any JSON is a valid value; its size is fuzzed below
        const wrong = kind === "bool" ? WRONG_FOR_BOOL : ["limit", "timeout", "before"].includes(kind) ? WRONG_FOR_NUMBER : kind === "tags" ? ["a", 5, true, null, {}, [5], [null]] : WRONG_FOR_STRING;
        for (const value of wrong) {
          const message = rpc("tools/call", { name, arguments: { ...spec.base(), [field]: value } });
          cases.push({ kind: "http", category: "every argument, wrong type", label: `${name} ${field}=${JSON.stringify(value)}`, body: JSON.stringify(message) });
        }
      }
    }
    for (let i = 0; i < 520; i++) {
      const call = toolCall(rng);
      cases.push({ kind: "http", category: "tool arguments", label: `tool ${call.label}`, body: call.raw ?? JSON.stringify(call.message) });
    }
    for (let i = 0; i < 230; i++) {
      const env = envelope(rng);
      cases.push({ kind: "http", category: "JSON-RPC envelope", label: `envelope ${env.label}`, body: env.body, ...(env.notification ? { notification: true } : {}) });
    }
    for (let i = 0; i < 100; i++) {
      const b = batch(rng);
      cases.push({ kind: "http", category: "batch", label: b.label, body: b.body, ...(b.notification ? { notification: true } : {}) });
    }
    cases.push(...(await protocolCases(rng, group)).map((c) => ({ ...c, category: "HTTP, headers, tokens, sizes" })));
    cases.push(...(await adminCases(rng, group)).map((c) => ({ ...c, category: "routes, revoke, socket upgrade" })));
    for (let i = 0; i < 230; i++) cases.push(frameCase(rng, latestSeq));
    expect(cases.length).toBeGreaterThanOrEqual(1000);

    // A crashed or reset object would come back without this in memory.
    await runInDurableObject(groupStub(group), (instance) => {
      (instance as unknown as { fuzzMarker: number }).fuzzMarker = SEED;
    });
    const before = await storedState(group);
    const beforeDigest = await digest(group);

    const failures: string[] = [];
    const counts: Record<string, number> = {};
    let socket: TestSocket | null = null;
    let onSocket = 0;
    for (const [index, c] of cases.entries()) {
      const name = `#${index} ${c.label}`;
      const category = c.kind === "frame" ? "socket frame" : (c.category ?? "other");
      counts[category] = (counts[category] ?? 0) + 1;
      try {
        if (c.kind === "http") {
          const answer = await within(CASE_TIMEOUT_MS, name, sendHttp(c, token));
          const problem = judge(c, answer);
          if (problem) failures.push(`${name}: ${problem}`);
        } else {
          // The relay closes a socket after 10 bad frames; use a fresh one every 9.
          if (!socket || onSocket === 9) {
            socket?.close();
            const opened = await openSocket(token, group);
            if (opened instanceof Response) throw new Error(`socket refused: ${opened.status}`);
            socket = opened;
            await socket.until((f) => f.some((x) => x.type === "welcome"), "welcome");
            onSocket = 0;
          }
          const s: TestSocket = socket;
          const errorsBefore = s.frames.filter((f) => f.type === "error").length;
          s.ws.send(c.frame);
          onSocket++;
          await s.until((f) => f.filter((x) => x.type === "error").length > errorsBefore || s.closed !== null, `error frame for ${name}`, CASE_TIMEOUT_MS);
          if (s.closed) failures.push(`${name}: socket closed (${s.closed.code} ${s.closed.reason}) instead of an error frame`);
          const unexpected = s.frames.filter((f) => !["welcome", "error"].includes(f.type));
          if (unexpected.length > 0) failures.push(`${name}: answered with ${JSON.stringify(unexpected).slice(0, 200)}`);
        }
      } catch (error) {
        failures.push(`${name}: ${error instanceof Error ? error.message : String(error)}`);
      }
      if (failures.length >= 20) break;
    }
    socket?.close();

    // Ten bad frames in a row end the socket with the protocol-error code, not a crash.
    const last = await openSocket(token, group);
    if (last instanceof Response) throw new Error("socket refused");
    for (let i = 0; i < 10; i++) last.ws.send(`not json ${i}`);
    await last.until(() => last.closed !== null, "close after ten bad frames");
    expect(last.closed!.code).toBe(4400);

    console.log(`fuzz seed ${SEED}: ${cases.length} cases`, counts);
    expect(failures, `seed ${SEED}`).toEqual([]);

    const alive = await runInDurableObject(groupStub(group), (instance) => (instance as unknown as { fuzzMarker?: number }).fuzzMarker);
    expect(alive, "the group object was reset during the run (a crash)").toBe(SEED);
    expect(await storedState(group)).toEqual(before);
    expect(await digest(group)).toBe(beforeDigest);

    // And the group still works.
    const alice = await peer(group, "alice");
    const bob = await peer(group, "bob");
    await bob.call("read_new_messages");
    const sent = await alice.call("send_message", { text: "still working" });
    expect(sent.data.seq).toBe(latestSeq + 1);
    expect((await bob.call("read_new_messages")).data.messages.map((m: { text: string }) => m.text)).toEqual(["still working"]);
    await alice.close();
    await bob.close();
  });
});

async function sendHttp(c: HttpCase, token: string): Promise<RawAnswer> {
  const useToken = c.token === undefined ? token : c.token;
  if (!c.path || c.path === "/mcp") return rawMcp(useToken, c.body ?? null, c.headers, c.method ?? "POST");
  const headers: Record<string, string> = { "Content-Type": "application/json", ...c.headers };
  if (useToken !== null) headers.Authorization = `Bearer ${useToken}`;
  const method = c.method ?? "POST";
  const response = await workerFetch(`${BASE}${c.path}`, { method, headers, body: method === "GET" || method === "HEAD" ? null : (c.body ?? null) });
  const body = await response.text();
  response.webSocket?.accept();
  response.webSocket?.close(1000, "fuzz");
  return { status: response.status, contentType: response.headers.get("content-type"), body, messages: [] };
}

describe("unicode edge cases that are valid text", () => {
  it("are stored and read back exactly; only a lone surrogate is refused, with a reason", async () => {
    const group = freshGroup("unicode");
    const alice = await peer(group, "alice");
    const bob = await peer(group, "bob");
    await bob.call("list_peers");
    const texts = ["مرحبا \u202eevil.exe", "zero\u200bwidth\u200d\ufeff", "👨‍👩‍👧 🇺🇸 e\u0301", "bell\u0007 nul\u0000 esc\u001b[31m\r\n\t\u2028end", "𐏿 a valid pair"];
    for (const text of texts) expect((await alice.call("send_message", { text, tags: ["intl"] })).isError).toBe(false);
    const inbox = await bob.call("read_new_messages");
    expect(inbox.data.messages.map((m: { text: string }) => m.text)).toEqual(texts);
    expect(inbox.data.messages[0].tags).toEqual(["intl"]);
    // Tags are printed in the header line of every message, so they keep to the name characters.
    const tagged = await alice.call("send_message", { text: "x", tags: ["ünï"] });
    expect(tagged.isError).toBe(true);
    expect(tagged.text).toMatch(/each tag must be 1 to 32 characters/);

    const lone = await alice.call("send_message", { text: "half an emoji: \ud83d!" });
    expect(lone.isError).toBe(true);
    expect(lone.text).toMatch(/lone UTF-16 surrogate/);
    expect((await bob.call("read_new_messages")).data.messages).toEqual([]);
    await alice.close();
    await bob.close();
  });
});

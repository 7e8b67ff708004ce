/**
 * The relay from a terminal: every verb of the CLI against the real relay (`npm start`, shared), for a
 * person and with --json, its exit codes, and `tail` as a live log that marks nothing read.
 */
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { join } from "node:path";
import { REPO_ROOT } from "../helpers/relay-server.ts";
import { sharedRelay, type SharedRelay } from "../helpers/shared-relay.ts";
import { waitFor } from "../helpers/wait.ts";

const run = promisify(execFile);
/** The bundle `npm start` has just built (what /bridge.mjs serves): it starts in a tenth of the time of the .ts source. */
const CLI = join(REPO_ROOT, "local-bridge", "dist", "relay-bridge.mjs");
let relay: SharedRelay;
let groups = 0;
const children: ChildProcess[] = [];

beforeAll(async () => {
  relay = await sharedRelay();
});

afterAll(async () => {
  for (const child of children) child.kill("SIGTERM");
});

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

function envFor(token: string, url = relay.url): NodeJS.ProcessEnv {
  // No config file: the token and URL come from the environment, as in a CI job.
  return { ...process.env, RELAY_URL: url, RELAY_TOKEN: token, XDG_CONFIG_HOME: "/nonexistent" };
}

async function cli(token: string, args: string[], url?: string): Promise<Result> {
  try {
    const { stdout, stderr } = await run(process.execPath, [CLI, ...args], { env: envFor(token, url), timeout: 120_000 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

async function ok(token: string, args: string[]): Promise<string> {
  const result = await cli(token, args);
  if (result.code !== 0) throw new Error(`relay-bridge ${args.join(" ")} exited ${result.code}: ${result.stderr}`);
  return result.stdout;
}

async function okJson<T>(token: string, args: string[]): Promise<T> {
  const out = await ok(token, [...args, "--json"]);
  expect(out.trim().split("\n")).toHaveLength(1);
  return JSON.parse(out) as T;
}

async function pair(): Promise<{ g: string; ann: string; ben: string }> {
  const g = `cli${++groups}-${process.pid}`;
  const [ann, ben] = [await relay.mint(g, "ann"), await relay.mint(g, "ben")];
  // A DM needs its recipient to exist: both say who they are once.
  await ok(ann, ["peers"]);
  await ok(ben, ["peers"]);
  return { g, ann, ben };
}

// About forty CLI runs in the first test: a busy machine starts each Node process slowly.
describe("relay-bridge as a relay CLI", { timeout: 240_000 }, () => {
  it("send, dm, read, peers, history, ask and board, for a person and with --json, with documented exit codes", async () => {
    const { g, ann, ben } = await pair();

    // A script posts and gets the seq.
    const posted = await okJson<{ seq: number; id: string }>(ann, ["send", "deploy finished", "--tag", "ci"]);
    expect(posted.seq).toBeGreaterThan(0);
    expect(posted.id).toMatch(/^m_/);
    expect(await ok(ann, ["send", "second line\nof text", "--urgent"])).toMatch(new RegExp(`^sent to ${g}: seq ${posted.seq + 1}, id m_`));
    expect(await ok(ann, ["dm", "ben", "just for you"])).toMatch(/^sent to ben: seq \d+/);
    expect((await okJson<{ seq: number }>(ann, ["dm", "ben", "also for you"])).seq).toBe(posted.seq + 3);

    const inbox = await okJson<{ messages: { text: string; from: string; to: string | null; tags: string[] }[]; remaining: number }>(ben, ["read", "--limit", "2"]);
    expect(inbox.messages.map((m) => m.text)).toEqual(["deploy finished", "second line\nof text"]);
    expect(inbox.messages[0]!.tags).toEqual(["ci"]);
    expect(inbox.remaining).toBe(2);
    const human = await ok(ben, ["read"]);
    expect(human).toMatch(/^▌ \d\d:\d\d:\d\d #\d+ ann → you \(DM\): just for you\n/);
    expect(human).toContain("ann → you (DM): also for you");
    expect(await ok(ben, ["read"])).toBe("no unread messages\n");

    const peers = await okJson<{ peers: { name: string }[] }>(ann, ["peers"]);
    expect(peers.peers.map((p) => p.name)).toEqual(["ann", "ben"]);
    expect(await ok(ann, ["peers"])).toMatch(/^ann \(you\)  offline .*\nben  offline/);

    const history = await okJson<{ messages: { text: string }[]; next_before: number | null }>(ann, ["history", "--limit", "1"]);
    expect(history.messages.map((m) => m.text)).toEqual(["second line\nof text"]);
    expect(history.next_before).toBe(posted.seq + 1);
    expect(await ok(ann, ["history", "--before", String(posted.seq + 1)])).toMatch(/#\d+ ann \(you\) \[ci\]: deploy finished\n$/);
    expect(await ok(ben, ["history", "--peer", "ann", "--query", "also"])).toContain("ann → you (DM): also for you");
    expect(await ok(ann, ["history", "--query", "second"])).toContain("second line\n    of text");

    // ask waits for the reply; ben answers it from his own terminal (as soon as he can: the
    // timeout only bounds a hang).
    const asking = cli(ann, ["ask", "ben", "ready to ship?", "--timeout", "60", "--json"]);
    const question = await waitFor(async () => {
      const mail = await okJson<{ messages: { id: string; kind: string }[] }>(ben, ["read"]);
      return mail.messages.find((m) => m.kind === "question");
    }, { what: "the question in ben's mail" });
    await ok(ben, ["dm", "ann", "yes, ship it", "--reply-to", question.id]);
    const answered = await asking;
    expect(answered.code).toBe(0);
    expect(JSON.parse(answered.stdout)).toMatchObject({ reply: { from: "ben", text: "yes, ship it", reply_to: question.id } });
    const unanswered = await cli(ann, ["ask", "ben", "still there?", "--timeout", "1"]);
    expect(unanswered.code).toBe(4);
    expect(unanswered.stderr).toContain("no reply from ben in time");

    expect(await ok(ann, ["board", "set", "release", '{"version":"1.2.3"}'])).toBe("set release\n");
    expect(await okJson(ann, ["board", "get", "release"])).toMatchObject({ key: "release", value: { version: "1.2.3" }, updated_by: "ann" });
    expect(await ok(ben, ["board", "get", "release"])).toBe('{\n  "version": "1.2.3"\n}\n');
    expect(await ok(ben, ["board"])).toMatch(/^release  \(set by ann at /);
    expect(await okJson(ben, ["board", "set", "owner", '"ben"'])).toMatchObject({ key: "owner", value: "ben" });
    expect(await ok(ann, ["board", "rm", "release"])).toBe("removed release\n");
    expect((await okJson<{ keys: { key: string }[] }>(ann, ["board"])).keys.map((k) => k.key)).toEqual(["owner"]);

    // Exit codes: 3 refused by the relay, 2 usage, 1 unreachable or a refused token.
    const missing = await cli(ann, ["board", "get", "release"]);
    expect(missing).toMatchObject({ code: 3 });
    expect(missing.stderr).toContain("No state key 'release'");
    const unknown = await cli(ann, ["dm", "nobody", "hi"]);
    expect(unknown.code).toBe(3);
    expect(unknown.stderr).toContain("No peer named 'nobody'");
    expect((await cli(ann, ["send"])).code).toBe(2);
    expect((await cli(ann, ["board", "set", "k", "not json"])).stderr).toContain("the value must be JSON");
    const refused = await cli("rly1.bad.token", ["peers"]);
    expect(refused.code).toBe(2);
    const forged = await cli(`${ann.slice(0, -4)}AAAA`, ["peers"]);
    expect(forged.code).toBe(1);
    expect(forged.stderr).toContain("the relay refused the token (HTTP 401)");
  });

  it("explains the usual URL slips: /mcp at the end, a missing scheme, https against a plain-HTTP relay", async () => {
    const { ann } = await pair();
    const withMcp = await cli(ann, ["peers"], `${relay.url}/mcp`);
    expect(withMcp.code).toBe(0);
    expect(withMcp.stderr).toContain(`note: using the relay's base URL ${relay.url}`);
    const noScheme = await cli(ann, ["peers"], `localhost:${relay.port}`);
    expect(noScheme.code).toBe(2);
    expect(noScheme.stderr).toContain(`add http:// (http://localhost:${relay.port})`);
    const tls = await cli(ann, ["peers"], relay.url.replace("http:", "https:"));
    expect(tls.code).toBe(1);
    expect(tls.stderr).toContain("does not speak TLS; it looks like a plain-HTTP relay");
    expect(tls.stderr).toContain("use http:// instead of https://");
  });

  it("tail shows a DM and a broadcast as they arrive, for a person and as JSON lines, and leaves them unread", async () => {
    const { ann, ben } = await pair();
    await ok(ann, ["send", "before tail started"]);
    const tails = [[], ["--json"]].map((extra) => {
      const child = spawn(process.execPath, [CLI, "tail", ...extra], { env: envFor(ben), stdio: ["ignore", "pipe", "pipe"] });
      children.push(child);
      let out = "";
      child.stdout.on("data", (chunk) => (out += chunk));
      return () => out;
    });
    const [human, json] = tails as [() => string, () => string];
    // The backlog first: tail is running once it has printed it.
    await waitFor(() => human().includes("before tail started") && json().includes("before tail started"), { what: "the backlog" });

    // Live: each shows up while the tails keep running.
    await ok(ann, ["dm", "ben", "a DM for the log"]);
    await waitFor(() => human().includes("a DM for the log") && json().includes("a DM for the log"), { what: "the DM in both tails" });
    await ok(ann, ["send", "a broadcast for the log"]);
    await waitFor(() => human().includes("a broadcast for the log") && json().includes("a broadcast for the log"), { what: "the broadcast" });

    expect(human()).toMatch(/#\d+ ann → you \(DM\): a DM for the log\n/);
    const lines = json().trim().split("\n").map((l) => JSON.parse(l) as { text: string; to: string | null });
    expect(lines.map((l) => l.text)).toEqual(["before tail started", "a DM for the log", "a broadcast for the log"]);
    // Nothing was marked read by watching.
    const inbox = await okJson<{ messages: { text: string }[] }>(ben, ["read"]);
    expect(inbox.messages.map((m) => m.text)).toEqual(["before tail started", "a DM for the log", "a broadcast for the log"]);
  });
});

/**
 * A proxy in front of the relay that passes every request on, but for those `lose` picks it drops
 * the connection: "after" the relay answered (the relay did the work, the CLI never hears), or
 * "before" the request reaches the relay.
 */
async function lossyProxy(lose: (body: string) => boolean, when: "before" | "after" = "after"): Promise<{ url: string; bodies: string[]; close(): void }> {
  const bodies: string[] = [];
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks).toString();
    bodies.push(body);
    const losing = lose(body);
    if (losing && when === "before") {
      req.socket.destroy();
      return;
    }
    const headers: Record<string, string> = {};
    for (const name of ["authorization", "content-type", "accept"]) if (typeof req.headers[name] === "string") headers[name] = req.headers[name];
    const upstream = await fetch(`${relay.url}${req.url}`, { method: req.method ?? "GET", headers, ...(req.method === "POST" ? { body } : {}) });
    const answer = Buffer.from(await upstream.arrayBuffer());
    if (losing) {
      req.socket.destroy();
      return;
    }
    res.writeHead(upstream.status, { "Content-Type": upstream.headers.get("Content-Type") ?? "application/json" });
    res.end(answer);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, bodies, close: () => server.close() };
}

describe("relay-bridge when an answer is lost", { timeout: 180_000 }, () => {
  it("send and ask retry with the same idempotency key: the relay stores each once", async () => {
    const { ann, ben } = await pair();
    let lost = 0;
    // The first answer to each tools/call is lost.
    const proxy = await lossyProxy((body) => body.includes('"tools/call"') && lost++ % 2 === 0);
    try {
      const sent = await cli(ann, ["send", "sent once, answered late"], proxy.url);
      expect(sent.code, sent.stderr).toBe(0);
      expect(sent.stderr).toContain("with the same idempotency key");
      const asked = await cli(ann, ["ask", "ben", "asked once?", "--timeout", "0"], proxy.url);
      expect(asked.code, asked.stderr).toBe(4);
      const calls = proxy.bodies.map((b) => JSON.parse(b) as { params: { name: string; arguments: { idempotency_key?: string } } });
      expect(calls.map((c) => c.params.name)).toEqual(["send_message", "send_message", "ask_peer", "ask_peer"]);
      const keys = calls.map((c) => c.params.arguments.idempotency_key);
      expect(keys[0]).toMatch(/^[0-9a-f-]{36}$/);
      expect(keys[1]).toBe(keys[0]);
      expect(keys[3]).toBe(keys[2]);
      expect(keys[2]).not.toBe(keys[0]);
    } finally {
      proxy.close();
    }
    const mail = await okJson<{ messages: { text: string }[] }>(ben, ["read"]);
    expect(mail.messages.map((m) => m.text)).toEqual(["sent once, answered late", "asked once?"]);
  });

  it("read confirms only once it has printed: a lost confirmation leaves the mail unread, and it comes again", async () => {
    const { g, ann, ben } = await pair();
    await ok(ann, ["dm", "ben", "shown, not confirmed"]);
    const proxy = await lossyProxy((body) => body.includes('"limit":0'), "before");
    try {
      const read = await cli(ben, ["read"], proxy.url);
      expect(read.code, read.stderr).toBe(0);
      expect(read.stdout).toContain("shown, not confirmed");
      expect(read.stderr).toContain("could not confirm these messages as read");
    } finally {
      proxy.close();
    }
    const unread = (await (await fetch(`${relay.url}/groups/${g}/unread`, { headers: { Authorization: `Bearer ${ben}` } })).json()) as { total: number };
    expect(unread.total).toBe(1);
    // Once the read's short lease is over it is handed out again; confirmed this time.
    const again = await waitFor(async () => {
      const out = await ok(ben, ["read"]);
      return out.includes("shown, not confirmed") ? out : null;
    }, { what: "the unconfirmed DM again", timeoutMs: 60_000, intervalMs: 2_000 });
    expect(again).toContain("shown, not confirmed");
    expect(await ok(ben, ["read"])).toBe("no unread messages\n");
  });
});

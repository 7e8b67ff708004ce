/**
 * The bridge against the real relay (`npm start`, wrangler dev on local workerd), with messages
 * sent through the relay's MCP tools as Claude Code would send them: notices for DMs, broadcasts
 * and questions; SIGKILL during a burst; a relay restart; refusals; and two stand-in Claude Code
 * panes in real tmux, each with its own bridge.
 */
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { signAdminProof, signToken } from "../../contract/token.ts";
import { findSecret } from "../../scripts/secret.ts";
import { startBridge, stopBridge, type BridgeProcess } from "../helpers/bridge-process.ts";
import { startRelay, type RelayServer } from "../helpers/relay-server.ts";
import { TmuxLab } from "../helpers/tmux-lab.ts";
import { waitFor } from "../helpers/wait.ts";

let relay: RelayServer;
let lab: TmuxLab;
const bridges: BridgeProcess[] = [];
const clients: Client[] = [];
let groupCount = 0;

beforeAll(async () => {
  // The burst test sends 300 messages from one peer; the default limit is 30 per 10 s.
  // Bursts of hundreds of messages into one group: the group's hourly budget for agent messages
  // (docs/chains.md) is not what is tested here.
  relay = await startRelay({ vars: { RATE_LIMIT_COUNT: "100000", GROUP_AGENT_MESSAGES_PER_HOUR: "100000" } });
  lab = TmuxLab.start();
});

afterAll(async () => {
  lab?.kill();
  await relay?.stop();
});

afterEach(async () => {
  await Promise.all(bridges.splice(0).map(stopBridge));
  await Promise.all(clients.splice(0).map((c) => c.close().catch(() => {})));
});

/** A fresh group per test: seqs and cursors start clean. */
function group(): string {
  return `g${++groupCount}-${process.pid}`;
}

async function mcp(token: string): Promise<Client> {
  const client = new Client({ name: "bridge-test", version: "1.0.0" });
  await client.connect(
    new StreamableHTTPClientTransport(new URL(`${relay.url}/mcp`), { requestInit: { headers: { Authorization: `Bearer ${token}` } } }),
  );
  clients.push(client);
  return client;
}

async function call(client: Client, name: string, args: Record<string, unknown>): Promise<string> {
  const result = (await client.callTool({ name, arguments: args })) as { content: { text: string }[]; isError?: boolean };
  const text = result.content.map((c) => c.text).join("\n");
  if (result.isError) throw new Error(`${name} failed: ${text}`);
  return text;
}

function seqOf(text: string): number {
  const m = /seq (\d+)/.exec(text);
  if (!m) throw new Error(`no seq in ${JSON.stringify(text)}`);
  return Number(m[1]);
}

function bridge(token: string, args: string[], stateDir?: string): BridgeProcess {
  const b = startBridge(["connect", "--url", relay.url, "--token", token, ...args], { TMUX: lab.tmuxEnv() }, stateDir);
  bridges.push(b);
  return b;
}

/** The peer exists in the group once it has used a tool; a DM to it needs that. */
async function join(g: string, peer: string): Promise<{ token: string; client: Client }> {
  const token = await relay.mint(g, peer);
  const client = await mcp(token);
  await call(client, "register", { summary: `${peer} in tests` });
  return { token, client };
}

describe("bridge + real relay", { timeout: 120_000 }, () => {
  it("notices broadcasts, DMs and questions, acked so a restarted bridge does not repeat them", async () => {
    const g = group();
    const alice = await join(g, "alice");
    const bob = await join(g, "bob");
    const b = bridge(bob.token, ["--stdout"]);
    await waitFor(() => b.stderr().includes("connected"), { what: "bob's bridge to connect" });

    const s1 = seqOf(await call(alice.client, "send_message", { text: "deploy at 5" }));
    const s2 = seqOf(await call(alice.client, "send_dm", { to: "bob", text: "psst", urgent: true }));
    const asking = call(alice.client, "ask_peer", { to: "bob", question: "which port?", timeout_seconds: 60 });
    await waitFor(() => b.records().length === 3, { what: "three notices" });
    const [broadcast, dm, question] = b.records();
    expect(broadcast).toMatchObject({ group: g, kind: "group", from: ["alice"], seqs: [s1], urgent: false });
    expect(dm).toMatchObject({ group: g, kind: "dm", from: ["alice"], seqs: [s2], urgent: true });
    expect(question).toMatchObject({ group: g, kind: "question", from: ["alice"], count: 1 });
    expect(question!.line).toContain(`send_dm to alice with reply_to=${question!.questions[0]!.id}`);

    // Answering as the line says reaches the asker.
    await call(bob.client, "send_dm", { to: "alice", text: "8787", reply_to: question!.questions[0]!.id });
    expect(await asking).toContain("8787");

    // Restart the bridge with the same state: everything was acked, nothing is noticed again.
    await stopBridge(b);
    const again = bridge(bob.token, ["--stdout"], b.stateDir);
    await waitFor(() => again.stderr().includes("connected"), { what: "the restarted bridge" });
    const s4 = seqOf(await call(alice.client, "send_message", { text: "after restart" }));
    await waitFor(() => again.records().length >= 1, { what: "the next notice" });
    expect(again.records().map((r) => r.seqs)).toEqual([[s4]]);
  });

  it("SIGKILLed twice during a burst of 300 messages: every seq noticed, at most one duplicate per kill", async () => {
    const g = group();
    const alice = await join(g, "alice");
    const bob = await join(g, "bob");
    let b = bridge(bob.token, ["--stdout", "--quiet"]);
    const stateDir = b.stateDir;
    const runs: BridgeProcess[] = [b];
    // No need to wait for the bridge: whatever is sent before it connects is replayed to it.
    // Send the burst from a second task while we kill the bridge under it.
    const sent: number[] = [];
    const sending = (async () => {
      for (let i = 0; i < 300; i++) sent.push(seqOf(await call(alice.client, "send_message", { text: `burst ${i}` })));
    })();

    const kills = 2;
    const killedAt: number[] = [];
    for (let k = 1; k <= kills; k++) {
      await waitFor(() => runs.flatMap((r) => r.records()).length >= k * 80 || sent.length === 300, {
        what: `notices before kill ${k}`,
        timeoutMs: 60_000,
      });
      killedAt.push(sent.length);
      b.child.kill("SIGKILL");
      expect(await b.exited).toBe("SIGKILL");
      b = bridge(bob.token, ["--stdout", "--quiet"], stateDir);
      runs.push(b);
    }
    await sending;
    await waitFor(() => new Set(runs.flatMap((r) => r.records().flatMap((x) => x.seqs))).size >= 300, {
      what: "all 300 seqs noticed",
      timeoutMs: 60_000,
    });

    const noticed = runs.flatMap((r) => r.records().flatMap((x) => x.seqs));
    expect([...new Set(noticed)].sort((x, y) => x - y)).toEqual([...sent].sort((x, y) => x - y));
    expect(noticed.length - new Set(noticed).size).toBeLessThanOrEqual(kills);
    // The kills really landed mid-burst.
    expect(killedAt.every((n) => n > 0 && n < 300)).toBe(true);
  });

  it("reconnects after the relay stops and starts again, and catches up on what it missed", async () => {
    const g = group();
    const alice = await join(g, "alice");
    const bob = await join(g, "bob");
    const b = bridge(bob.token, ["--stdout"]);
    await waitFor(() => b.stderr().includes("connected"), { what: "connected" });
    const s1 = seqOf(await call(alice.client, "send_message", { text: "before" }));
    await waitFor(() => b.records().length === 1, { what: "the first notice" });

    // restart() stops, then starts on the same port and storage; the bridge retries meanwhile.
    const restarting = relay.restart();
    await waitFor(() => /retrying in \d+ s/.test(b.stderr()), { what: "a visible retry", timeoutMs: 30_000 });
    await restarting;

    // Sent after the restart, possibly before the bridge is back: replay or live, it must arrive.
    const aliceAgain = await mcp(await relay.mint(g, "alice"));
    const s2 = seqOf(await call(aliceAgain, "send_dm", { to: "bob", text: "after" }));
    await waitFor(() => b.records().length === 2, { what: "the notice sent after the restart", timeoutMs: 60_000 });
    expect(b.records().map((r) => r.seqs[0])).toEqual([s1, s2]);
  });

  it("exits with the relay's reason for a token signed with another secret", async () => {
    const forged = await signToken("another-secret-0123456789abcdef0123456789", { g: "core", p: "mallory", iat: Date.now() });
    const b = bridge(forged, ["--stdout"]);
    expect(await b.exited).toBe(1);
    expect(b.stderr()).toMatch(/refused this bridge \(HTTP 401\): Token refused: the token's signature does not match/);
  });

  it("exits with a message when its token is revoked while connected", async () => {
    const g = group();
    const { token } = await join(g, "bob");
    const b = bridge(token, ["--stdout"]);
    await waitFor(() => b.stderr().includes("connected"), { what: "connected" });
    const at = Date.now();
    const proof = await signAdminProof(findSecret()!, "revoke", `${g}/bob`, at);
    const response = await fetch(`${relay.url}/groups/${g}/revoke`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ peer: "bob", proof }),
    });
    expect(response.status).toBe(200);
    expect(await b.exited).toBe(1);
    expect(b.stderr()).toContain("the relay revoked this token");
  });

  it("two stand-in Claude Code panes, each with its bridge, get each other's mail as one line", async () => {
    const g = group();
    const alice = await join(g, "alice");
    const bob = await join(g, "bob");
    const alicePane = await lab.standin();
    const bobPane = await lab.standin();
    const ab = bridge(alice.token, ["--pane", alicePane.pane]);
    const bb = bridge(bob.token, ["--pane", bobPane.pane]);
    await waitFor(() => ab.stderr().includes("connected") && bb.stderr().includes("connected"), { what: "both bridges", timeoutMs: 60_000 });

    // How fast a notice lands is the bench's figure (delivery); here only that it does.
    await call(alice.client, "send_dm", { to: "bob", text: "the API moved to /v2" });
    await waitFor(() => bobPane.submissions().length === 1, { what: "bob's notice", timeoutMs: 60_000 });
    expect(bobPane.submissions()).toEqual([`[relay] 1 new message in ${g} (DM from alice). Call read_new_messages.`]);

    await call(bob.client, "send_message", { text: "thanks, on it" });
    await waitFor(() => alicePane.submissions().length === 1, { what: "alice's notice", timeoutMs: 60_000 });
    expect(alicePane.submissions()).toEqual([`[relay] 1 new message in ${g} (1 from bob). Call read_new_messages.`]);
    // Nobody hears about their own mail, and no message text ever reaches a pane.
    expect(bobPane.submissions()).toHaveLength(1);
    for (const pane of [alicePane, bobPane]) expect(pane.screen()).not.toMatch(/API moved|on it/);

    // Busy bob hears nothing until idle, then one line for everything.
    await bobPane.set({ busy: true });
    await call(alice.client, "send_message", { text: "one" });
    await call(alice.client, "send_dm", { to: "bob", text: "two" });
    await waitFor(() => bb.stderr().includes("waiting for Claude to be idle (Claude is busy)"), { what: "bob's bridge waiting" });
    expect(bobPane.submissions()).toHaveLength(1);
    await bobPane.set({ busy: false });
    await waitFor(() => bobPane.submissions().length === 2, { what: "the merged notice" });
    expect(bobPane.submissions()[1]).toBe(`[relay] 2 new messages in ${g} (DM from alice, 1 from alice). Call read_new_messages.`);
  });

  it("drops a waiting notice once the mail is read from another session, and types nothing", async () => {
    const g = group();
    const alice = await join(g, "alice");
    const bob = await join(g, "bob");
    const bobPane = await lab.standin({ busy: true });
    const bb = bridge(bob.token, ["--pane", bobPane.pane]);
    await waitFor(() => bb.stderr().includes("connected"), { what: "bob's bridge" });

    const sent = seqOf(await call(alice.client, "send_dm", { to: "bob", text: "read me elsewhere" }));
    await waitFor(() => bb.stderr().includes("waiting for Claude to be idle (Claude is busy)"), { what: "bob's bridge waiting" });
    // Bob reads it, say from his other machine, while this pane is still busy.
    expect(await call(bob.client, "read_new_messages", {})).toContain("read me elsewhere");
    await waitFor(() => !bb.stderr().split("\n").at(-1)?.includes("waiting for Claude"), { what: "the wait to clear" });
    await bobPane.set({ busy: false });

    // A notice that does arrive afterwards is typed on its own: the read one was dropped, not merged.
    await call(alice.client, "send_message", { text: "later" });
    await waitFor(() => bobPane.submissions().length === 1, { what: "the later notice" });
    expect(bobPane.submissions()).toEqual([`[relay] 1 new message in ${g} (1 from alice). Call read_new_messages.`]);
    expect(sent).toBeGreaterThan(0);
  });
});

/**
 * Reads are at-least-once for a client that acks, against the real `npm start`: each batch is
 * confirmed by the client's next read, so neither a relay killed in the middle of reads nor a
 * client that gives up after the relay answered loses anything. Without `ack` (Claude Code, unless
 * its model takes the result's invitation to pass it), the written response confirms: a response
 * handed to wrangler's proxy just before both die can be lost; the no-ack run counts and prints
 * those losses, the gap that remains. A message may come twice; the tests count those duplicates
 * and print them.
 */
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startRelay, type RelayServer } from "../helpers/relay-server.ts";

let relay: RelayServer;

beforeAll(async () => {
  relay = await startRelay({ vars: { RATE_LIMIT_COUNT: "100000" } });
});

afterAll(async () => {
  await relay?.stop();
});

type Mail = { id: string; seq: number; text: string };

async function mcpClient(token: string): Promise<Client> {
  const client = new Client({ name: "e2e-reads", version: "1.0.0" });
  await client.connect(new StreamableHTTPClientTransport(new URL(`${relay.url}/mcp`), { requestInit: { headers: { Authorization: `Bearer ${token}` } } }));
  return client;
}

async function tool<T>(client: Client, name: string, args: Record<string, unknown> = {}): Promise<T> {
  const result = (await client.callTool({ name, arguments: args })) as { isError?: boolean; structuredContent?: T; content: { text: string }[] };
  if (result.isError) throw new Error(result.content[0]?.text ?? "tool error");
  return result.structuredContent as T;
}

async function sendDms(group: string, count: number): Promise<Set<string>> {
  const alice = await mcpClient(await relay.mint(group, "alice"));
  const bob = await mcpClient(await relay.mint(group, "bob"));
  await tool(bob, "list_peers");
  const ids = new Set<string>();
  // Four at a time: the setup, not what is tested, and a busy machine makes each call slow.
  let next = 0;
  const lane = async () => {
    while (next < count) ids.add((await tool<{ id: string }>(alice, "send_dm", { to: "bob", text: `m${next++}` })).id);
  };
  await Promise.all([lane(), lane(), lane(), lane()]);
  await Promise.all([alice.close(), bob.close()]);
  return ids;
}

/**
 * One read_new_messages as a raw streamable-HTTP POST (what a client library does), abandoned
 * after `abortAfterMs`. Resolves with the batch and its `through`, or "failed".
 */
async function rawRead(token: string, args: Record<string, unknown>, abortAfterMs = 30_000): Promise<{ messages: Mail[]; through?: number; next?: string } | "failed"> {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), abortAfterMs);
  try {
    const response = await fetch(`${relay.url}/mcp`, {
      method: "POST",
      signal: abort.signal,
      headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json", Accept: "application/json, text/event-stream" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "read_new_messages", arguments: args } }),
    });
    const body = await response.text();
    const data = body.split("\n").find((line) => line.startsWith("data: "));
    const message = JSON.parse(data ? data.slice(6) : body) as { result?: { structuredContent?: { messages: Mail[]; through?: number; next?: string } } };
    return message.result?.structuredContent ?? "failed";
  } catch {
    return "failed";
  } finally {
    clearTimeout(timer);
  }
}

describe("reads are at-least-once on npm start", () => {
  /**
   * Both ways a client can read, measured the same way: with ack (the CLI, scripts, and a model
   * that takes the result's invitation) nothing may be lost; without it (a model that ignores the
   * invitation) a response the relay wrote just before it died can be lost, and the test prints
   * how many, the gap that remains for such a client.
   */
  for (const mode of ["ack", "no ack"] as const) {
    it(`SIGKILL of the relay during 200 reads (${mode}): ${mode === "ack" ? "nothing unread is lost" : "losses counted"}; duplicates counted`, { timeout: 240_000 }, async () => {
      const group = `reads-kill-${mode === "ack" ? "ack" : "plain"}`;
      const sent = await sendDms(group, 200);
      const token = await relay.mint(group, "bob");
      const received: string[] = [];
      const killAt = new Set([40, 110, 170]);
      let kills = 0;
      let ack = 0;
      let invited = 0;
      for (let reads = 0; reads < 400 && new Set(received).size < sent.size; reads++) {
        // Kill while a read is in flight: the relay may die before, during or after handing it over.
        const reading = rawRead(token, mode === "ack" ? { limit: 1, ack } : { limit: 1 });
        if (killAt.has(reads)) {
          await new Promise((resolve) => setTimeout(resolve, kills * 3));
          await relay.crash();
          kills++;
        }
        const batch = await reading;
        if (batch === "failed") continue;
        received.push(...batch.messages.map((m) => m.id));
        if (batch.through !== undefined) {
          ack = batch.through;
          // Every batch invites its reader to confirm it on the next read.
          if (batch.next?.includes(`ack: ${batch.through}`)) invited++;
        }
        // Mail handed out just before a kill comes back once its lease (memory) is gone.
        if (batch.messages.length === 0) await new Promise((resolve) => setTimeout(resolve, 200));
      }
      const unique = new Set(received);
      const lost = [...sent].filter((id) => !unique.has(id)).length;
      const batches = received.length;
      console.log(`reads ${mode}: SIGKILL x${kills} during reads of 200 DMs: ${received.length} received, ${unique.size} distinct, lost ${lost} of ${sent.size}, duplicates ${received.length - unique.size}`);
      expect(kills).toBe(3);
      expect(invited).toBe(batches);
      expect([...unique].every((id) => sent.has(id))).toBe(true);
      if (mode === "ack") expect(lost).toBe(0);
    });
  }

  /**
   * The load, scaled to a test: many readers at once, each reading broadcasts five at a
   * time, while the relay is SIGKILLed three times. Run both ways; prints the losses of each.
   */
  for (const mode of ["ack", "no ack"] as const) {
    it(`8 readers of 150 broadcasts each, three SIGKILLs (${mode}): ${mode === "ack" ? "nothing lost" : "losses counted"}`, { timeout: 300_000 }, async () => {
      const group = `reads-many-${mode === "ack" ? "ack" : "plain"}`;
      const readers = await Promise.all(Array.from({ length: 8 }, (_, i) => relay.mint(group, `r${i}`)));
      // Seen before the sends, so the broadcasts are their unread mail.
      for (const token of readers) await (await mcpClient(token)).close();
      const alice = await mcpClient(await relay.mint(group, "alice"));
      const sent = new Set<string>();
      let next = 0;
      const lane = async () => {
        while (next < 150) sent.add((await tool<{ id: string }>(alice, "send_message", { text: `b${next++}` })).id);
      };
      await Promise.all([lane(), lane(), lane(), lane()]);
      await alice.close();

      let reads = 0;
      let kills = 0;
      let done = false;
      const killAt = [40, 120, 200];
      const killing = (async () => {
        for (const at of killAt) {
          while (reads < at && !done) await new Promise((resolve) => setTimeout(resolve, 20));
          if (done) return;
          await relay.crash();
          kills++;
        }
      })();
      const read = async (token: string) => {
        const seen = new Set<string>();
        let received = 0;
        let ack = 0;
        let emptyAfterKills = 0;
        while (seen.size < sent.size && emptyAfterKills < 20) {
          const batch = await rawRead(token, mode === "ack" ? { limit: 5, ack } : { limit: 5 });
          if (batch !== "failed") {
            reads++;
            received += batch.messages.length;
            for (const m of batch.messages) seen.add(m.id);
            if (batch.through !== undefined) ack = batch.through;
          }
          const idle = batch === "failed" || batch.messages.length === 0;
          emptyAfterKills = idle && kills === killAt.length ? emptyAfterKills + 1 : 0;
          if (idle) await new Promise((resolve) => setTimeout(resolve, 200));
        }
        return { seen, received };
      };
      const results = await Promise.all(readers.map(read));
      done = true;
      await killing;
      const deliveries = sent.size * readers.length;
      const lost = results.reduce((n, r) => n + [...sent].filter((id) => !r.seen.has(id)).length, 0);
      const duplicates = results.reduce((n, r) => n + r.received - r.seen.size, 0);
      console.log(`reads ${mode}, 8 readers: SIGKILL x${kills} during ${deliveries} deliveries: lost ${lost} of ${deliveries}, duplicates ${duplicates}`);
      expect(kills).toBe(3);
      if (mode === "ack") expect(lost).toBe(0);
    });
  }

  it("clients that give up mid-read lose nothing: what they did not take stays unread", { timeout: 150_000 }, async () => {
    const group = "reads-abort";
    const sent = await sendDms(group, 60);
    const token = await relay.mint(group, "bob");
    const received: string[] = [];
    let aborted = 0;
    // Clients that give up after 0-28 ms: before the relay answered, or after it wrote the answer
    // but before they read it. They ack, so what they never took is not confirmed.
    for (let i = 0; i < 40; i++) {
      const batch = await rawRead(token, { limit: 3, ack: 0 }, (i % 8) * 4);
      if (batch === "failed") aborted++;
      else received.push(...batch.messages.map((m) => m.id));
    }
    // Then a patient client that acks reads whatever is left: unconfirmed mail comes back once
    // the short leases of the abandoned reads run out.
    let ack = 0;
    const deadline = Date.now() + 60_000;
    while (new Set(received).size < sent.size && Date.now() < deadline) {
      const batch = await rawRead(token, { limit: 200, ack });
      if (batch === "failed") continue;
      received.push(...batch.messages.map((m) => m.id));
      if (batch.through !== undefined) ack = batch.through;
      if (batch.messages.length === 0) await new Promise((resolve) => setTimeout(resolve, 500));
    }
    const unique = new Set(received);
    const lost = [...sent].filter((id) => !unique.has(id)).length;
    console.log(`${aborted} of 40 reads abandoned: ${received.length} received, ${unique.size} distinct, lost ${lost}, duplicates ${received.length - unique.size}`);
    expect(aborted).toBeGreaterThan(0);
    expect(lost).toBe(0);
  });
});

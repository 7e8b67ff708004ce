/**
 * Chains and budgets through the real Worker entry with real MCP clients, on both lanes: agents
 * answering each other are held within the chain's budget, a bystander never notices, a person's
 * message or a lead's continue lets the chain go on, and all of it survives an object restart.
 * The budget is wrangler.toml's default (CHAIN_BUDGET), read from the relay's own settings.
 */
import { evictDurableObject, runInDurableObject } from "cloudflare:test";
import { afterEach, describe, expect, it } from "vitest";
import { PERSON_CLIENT_HEADER, PERSON_CLIENT_VALUE, type ChainList } from "../../contract/chains.ts";
import { settingsFrom } from "../../worker/group/settings.ts";
import { BASE, call, connect, freshGroup, LANES, type Lane, mint, peer, sqlIn, stubFor, workerFetch } from "./helpers.ts";
import { env } from "cloudflare:workers";

const BUDGET = settingsFrom(env as never).chainBudget;

type Peer = Awaited<ReturnType<typeof peer>>;
const opened: Peer[] = [];
afterEach(async () => {
  for (const p of opened.splice(0)) await p.close();
});

async function agent(group: string, name: string, lane?: Lane): Promise<Peer> {
  const p = await peer(group, name, lane);
  await p.call("list_peers");
  opened.push(p);
  return p;
}

/** The person behind relay-bridge's verbs: the same kind of token, marked as the CLI marks itself. */
async function cliPerson(group: string, name: string, lane?: Lane) {
  const token = await mint(group, name);
  const client = await connect(token, lane ? { lane } : {});
  // The SDK client sends requestInit's headers on every request: add the CLI's mark to them.
  const transport = (client as unknown as { _transport: { _requestInit: RequestInit } })._transport;
  transport._requestInit = { headers: { Authorization: `Bearer ${token}`, [PERSON_CLIENT_HEADER]: PERSON_CLIENT_VALUE } };
  const p = { name, token, client, call: (tool: string, args: Record<string, unknown> = {}) => call(client, tool, args), close: () => client.close() };
  await p.call("list_peers");
  opened.push(p);
  return p;
}

async function api(group: string, token: string, path: string, method = "GET"): Promise<{ status: number; body: any }> {
  const response = await workerFetch(`${BASE}/g/${group}/api/${path}`, { method, headers: { Authorization: `Bearer ${token}` } });
  return { status: response.status, body: await response.json() };
}

/** Reads the agent's mail, so its next send joins the chains of what it read. */
async function read(p: Peer): Promise<any[]> {
  const inbox = await p.call("read_new_messages");
  expect(inbox.isError, inbox.text).toBe(false);
  return inbox.data.messages;
}

/**
 * Agents answering every message they read, round and round `ring`, until one is refused; returns
 * how many messages were accepted and the refusal. `replyTo` answers with reply_to.
 */
async function runaway(ring: Peer[], opts: { replyTo?: boolean; max?: number; first?: boolean } = {}) {
  let accepted = 0;
  let last: any = null;
  const max = opts.max ?? BUDGET * 3;
  if (opts.first !== false) {
    const sent = await ring[0]!.call("send_dm", { to: ring[1]!.name, text: "kick-off" });
    expect(sent.isError, sent.text).toBe(false);
    accepted++;
  }
  for (let i = 1; accepted < max; i++) {
    const me = ring[i % ring.length]!;
    const next = ring[(i + 1) % ring.length]!;
    const mail = await read(me);
    const replyTo = opts.replyTo ? mail.at(-1)?.id : undefined;
    const sent = await me.call("send_dm", { to: next.name, text: `round ${i}`, ...(replyTo && { reply_to: replyTo }) });
    if (sent.isError) return { accepted, refusal: sent, last, refused: me, next };
    last = sent;
    accepted++;
  }
  return { accepted, refusal: null, last, refused: null, next: null };
}

describe.each(LANES)("chains (%s lane)", (lane) => {
  it("holds the cascade alice -> bob -> carol -> alice without reply_to within its budget, and says so first", async () => {
    const group = freshGroup("cascade");
    const [alice, bob, carol] = [await agent(group, "alice", lane), await agent(group, "bob", lane), await agent(group, "carol", lane)];
    const before = await sqlIn(group, `SELECT COUNT(*) AS n FROM messages`);
    const lastRun = runaway([alice, bob, carol]);
    const { accepted, refusal, last } = await lastRun;
    expect(accepted).toBe(BUDGET);
    // The last accepted send said the chain was spent, in the text and in what the model reads.
    expect(last.data.chain).toMatchObject({ agent_messages: BUDGET, budget: BUDGET });
    expect(last.text).toContain("whole budget");
    expect(refusal!.isError).toBe(true);
    expect(refusal!.data.error).toBe("chain_held");
    const chain = last.data.chain.chain as number;
    expect(refusal!.text).toContain(`Chain ${chain} is held`);
    expect(refusal!.text).toContain(`${BUDGET} agent messages`);
    expect(refusal!.text).toContain("retrying will not help");
    expect(refusal!.text).toContain("Tell your user");
    // Nothing was stored for the refused send, and retrying changes nothing.
    const after = await sqlIn(group, `SELECT COUNT(*) AS n FROM messages`);
    expect(after[0]!.n).toBe((before[0]!.n as number) + BUDGET);
    const { refused, next } = await lastRun;
    const again = await refused!.call("send_dm", { to: next!.name, text: "again?" });
    expect(again.data.error).toBe("chain_held");
    // The room lists the chain as held, with who was refused and its last messages.
    const list = (await api(group, alice.token, "chains")).body as ChainList;
    const held = list.chains.find((c) => c.id === chain)!;
    expect(held).toMatchObject({ held: true, agent_messages: BUDGET, peers: ["alice", "bob", "carol"] });
    expect(held.held_by).toBeDefined();
    expect(held.last_messages!.length).toBeGreaterThan(0);
  });

  it("holds a two-agent ping-pong that answers with reply_to", async () => {
    const group = freshGroup("pingpong");
    const [alice, bob] = [await agent(group, "alice", lane), await agent(group, "bob", lane)];
    const { accepted, refusal } = await runaway([alice, bob], { replyTo: true });
    expect(accepted).toBe(BUDGET);
    expect(refusal!.data.error).toBe("chain_held");
  });
});

describe("chains", () => {
  it("holds one chain while another runs on, and a bystander is never refused", async () => {
    const group = freshGroup("two");
    const [alice, bob, carol, dave, eve] = await Promise.all(["alice", "bob", "carol", "dave", "eve"].map((n) => agent(group, n)));
    const first = await runaway([alice!, bob!]);
    expect(first.refusal!.data.error).toBe("chain_held");
    // A second pair works on, in a chain of its own, within its budget.
    const second = await runaway([carol!, dave!], { max: BUDGET - 2 });
    expect(second.refusal).toBeNull();
    expect(second.accepted).toBe(BUDGET - 2);
    // The bystander reads its own mail and broadcasts throughout: never refused.
    for (let i = 0; i < 5; i++) {
      await read(eve!);
      const sent = await eve!.call("send_message", { text: `status ${i}` });
      expect(sent.isError, sent.text).toBe(false);
      expect(sent.data.chain).toBeUndefined();
    }
    const list = (await api(group, eve!.token, "chains")).body as ChainList;
    expect(list.chains.filter((c) => c.held).map((c) => c.peers)).toEqual([["alice", "bob"]]);
  });

  it("mixing in unrelated mail does not free a held chain: the send joins every chain its agent was handed", async () => {
    const group = freshGroup("mix");
    const [alice, bob, eve] = await Promise.all(["alice", "bob", "eve"].map((n) => agent(group, n)));
    const { refusal, refused } = await runaway([alice!, bob!]);
    expect(refusal).not.toBeNull();
    // The held agent was handed the chain's mail; eve's fresh chain reaches it too. Answering
    // eve (with reply_to, or without) still joins the held chain, so it is refused.
    await eve!.call("send_dm", { to: refused!.name, text: "unrelated: how is the build?" });
    const mail = await read(refused!);
    const eves = mail.find((m) => m.from === "eve");
    for (const args of [{ reply_to: eves.id }, {}]) {
      const answer = await refused!.call("send_dm", { to: "eve", text: "fine", ...args });
      expect(answer.data.error, answer.text).toBe("chain_held");
    }
    // eve herself is in a chain of her own: she is never refused.
    expect((await eve!.call("send_message", { text: "anyone?" })).isError).toBe(false);
  });

  it("a non-lead's continue is refused; a lead's gives the chain a fresh budget, across an object restart", async () => {
    const group = freshGroup("cont");
    const [alice, bob] = [await agent(group, "alice"), await agent(group, "bob")];
    const { refusal, last } = await runaway([alice, bob]);
    expect(refusal!.data.error).toBe("chain_held");
    const chain = last.data.chain.chain as number;

    // A restart keeps the hold: it lives in SQLite.
    await evictDurableObject(stubFor(group), { webSockets: "hibernate" });
    const held = await bob.call("send_dm", { to: "alice", text: "still there?", reply_to: last.data.id });
    expect(held.data.error).toBe("chain_held");

    const refused = await api(group, bob.token, `chains/${chain}/continue`, "POST");
    expect(refused.status).toBe(403);
    expect(refused.body.error).toBe("forbidden");
    expect(refused.body.message).toContain("Only a lead");

    const lead = await mint(group, "lena", { r: "lead" });
    const continued = await api(group, lead, `chains/${chain}/continue`, "POST");
    expect(continued.status, JSON.stringify(continued.body)).toBe(200);
    expect(continued.body.chain).toMatchObject({ id: chain, held: false, agent_messages: 0, person_by: "lena" });

    await evictDurableObject(stubFor(group), { webSockets: "hibernate" });
    const again = await runaway([bob, alice], { first: false, max: 3 });
    expect(again.refusal).toBeNull();
    const list = (await api(group, lead, "chains")).body as ChainList;
    expect(list.chains.find((c) => c.id === chain)).toMatchObject({ held: false, agent_messages: 3 });
  });

  it("a lead's end closes the chain: it leaves the list, and a reply into it is refused", async () => {
    const group = freshGroup("end");
    const [alice, bob] = [await agent(group, "alice"), await agent(group, "bob")];
    const { last } = await runaway([alice, bob]);
    const chain = last.data.chain.chain as number;
    const lead = await mint(group, "lena", { r: "lead" });
    expect((await api(group, lead, `chains/${chain}/end`, "POST")).status).toBe(200);
    expect(((await api(group, lead, "chains")).body as ChainList).chains.map((c) => c.id)).not.toContain(chain);
    const reply = await alice.call("send_dm", { to: "bob", text: "one more", reply_to: last.data.id });
    expect(reply.data.error).toBe("chain_held");
    expect(reply.text).toContain("ended by lena");
    expect((await api(group, lead, `chains/${chain}/continue`, "POST")).status).toBe(404);
  });

  it.each(LANES)("a person's message through the CLI renews the chain it answers and is never charged (%s lane)", async (lane) => {
    const group = freshGroup("person");
    const [alice, bob] = [await agent(group, "alice", lane), await agent(group, "bob", lane)];
    const paula = await cliPerson(group, "paula", lane);
    // The person starts the work; her message is not charged to the chain it starts.
    const kickoff = await paula.call("send_dm", { to: "bob", text: "work out the release notes with alice" });
    const { last, refused, next, accepted } = await runaway([alice, bob], { first: false });
    expect(accepted).toBe(BUDGET);
    const chain = last.data.chain.chain as number;
    const said = await paula.call("send_dm", { to: "bob", text: "go on, finish it", reply_to: kickoff.data.id });
    expect(said.isError, said.text).toBe(false);
    const list = (await api(group, paula.token, "chains")).body as ChainList;
    expect(list.chains.find((c) => c.id === chain)).toMatchObject({ held: false, agent_messages: 0, person_by: "paula" });
    // The held agent goes on in the renewed chain.
    const goOn = await refused!.call("send_dm", { to: next!.name, text: "continuing" });
    expect(goOn.isError, goOn.text).toBe(false);
    const after = (await api(group, paula.token, "chains")).body as ChainList;
    expect(after.chains.find((c) => c.id === chain)).toMatchObject({ held: false, agent_messages: 1 });
  });

  it("an ask_peer to a person and the person's answer never count", async () => {
    const group = freshGroup("askperson");
    const [alice, bob] = [await agent(group, "alice"), await agent(group, "bob")];
    const paula = await cliPerson(group, "paula");
    await paula.call("send_message", { text: "hello team" });
    // An even count: bob sends last, so alice has the chain's mail in hand when she asks.
    const { last } = await runaway([alice, bob], { max: BUDGET - 2 });
    expect(last.data.chain).toMatchObject({ agent_messages: BUDGET - 2 });
    const chain = last.data.chain.chain as number;
    await read(alice);
    const asked = alice.call("ask_peer", { to: "paula", question: "may we go on?", timeout_seconds: 30 });
    let question: any;
    await expect.poll(async () => (question = (await paula.call("read_new_messages")).data.messages?.[0])).toBeTruthy();
    const count = () => api(group, paula.token, "chains").then((r) => (r.body as ChainList).chains.find((c) => c.id === chain)!);
    // The question joined the chain without being charged.
    expect(await count()).toMatchObject({ agent_messages: BUDGET - 2, total_messages: BUDGET - 1 });
    await paula.call("send_dm", { to: "alice", text: "yes", reply_to: question.id });
    const answer = await asked;
    expect(answer.isError, answer.text).toBe(false);
    // The person's answer renewed it.
    expect(await count()).toMatchObject({ agent_messages: 0, person_by: "paula" });
  });

  it("a person's prompt to their own session (the hook) renews the chains that session is in", async () => {
    const group = freshGroup("prompt");
    const [alice, bob] = [await agent(group, "alice"), await agent(group, "bob")];
    const { refusal, last } = await runaway([alice, bob]);
    expect(refusal!.data.error).toBe("chain_held");
    const chain = last.data.chain.chain as number;
    // The agent that was refused is the one whose person types a prompt.
    const heldBy = ((await api(group, alice.token, "chains")).body as ChainList).chains.find((c) => c.id === chain)!.held_by;
    const spoke = await api(group, heldBy === "alice" ? alice.token : bob.token, "chains/person-spoke", "POST");
    expect(spoke.status).toBe(200);
    expect(spoke.body.renewed).toContain(chain);
    const list = (await api(group, alice.token, "chains")).body as ChainList;
    expect(list.chains.find((c) => c.id === chain)).toMatchObject({ held: false, agent_messages: 0 });
  });

  it("a group's hourly budget holds many parallel chains while no person speaks", async () => {
    const group = freshGroup("hourly");
    const alice = await agent(group, "alice");
    const perHour = settingsFrom(env as never).groupAgentMessagesPerHour;
    // Backdate-free: alice's broadcasts each start a chain of their own; seed the hour's count directly.
    await runInDurableObject(stubFor(group), (_i, state) => {
      for (let i = 0; i < perHour; i++) {
        state.storage.sql.exec(`INSERT INTO chain_messages (id, chain, sender, voice, at, charge, joined) VALUES (?, 1000, 'seed', 'agent', ?, 1, '[1000]')`, `seed_${i}`, Date.now());
      }
    });
    const refused = await alice.call("send_message", { text: "one more" });
    expect(refused.data.error).toBe("chain_held");
    expect(refused.text).toContain("The group is held");
    const held = (await api(group, alice.token, "chains")).body as ChainList;
    expect(held.group.agent_messages_this_hour).toBe(perHour);
    const paula = await cliPerson(group, "paula");
    expect((await paula.call("send_message", { text: "I'm here" })).isError).toBe(false);
    const after = await alice.call("send_message", { text: "one more" });
    expect(after.isError, after.text).toBe(false);
  });

  it("retention takes a chain's rows with its messages, and the chain itself once it has none", async () => {
    const group = freshGroup("retention");
    const [alice, bob] = [await agent(group, "alice"), await agent(group, "bob")];
    const { last } = await runaway([alice, bob], { max: 4 });
    const chain = last.data.chain?.chain ?? ((await sqlIn(group, `SELECT chain FROM chain_messages WHERE id = ?`, last.data.id))[0]!.chain as number);
    await sqlIn(group, `DELETE FROM messages WHERE seq < ?`, last.data.seq);
    expect(await sqlIn(group, `SELECT COUNT(*) AS n FROM chain_messages WHERE chain = ?`, chain)).toEqual([{ n: 1 }]);
    expect(await sqlIn(group, `SELECT id FROM chains WHERE id = ?`, chain)).toHaveLength(1);
    await sqlIn(group, `DELETE FROM messages`);
    expect(await sqlIn(group, `SELECT id FROM chains WHERE id = ?`, chain)).toHaveLength(0);
    expect(await sqlIn(group, `SELECT * FROM chain_handed WHERE chain = ?`, chain)).toHaveLength(0);
  });
});

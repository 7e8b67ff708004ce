/**
 * Webhooks through the real Worker: a lead adds, lists and removes them; anyone else is refused;
 * SSRF targets are refused at the route; a question or (opt-in) DM to a listed peer queues a
 * delivery with the send, and nothing else does. Posting itself is tested end to end against a
 * real receiver (tests/e2e/webhooks.test.ts): workerd here cannot listen.
 */
import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { freshGroup, mint, peer, sqlIn, stubFor, workerFetch } from "./helpers.ts";

async function hooksCall(group: string, token: string, method: string, path = "", body?: unknown, host = "localhost") {
  const response = await workerFetch(`http://${host}/groups/${group}/webhooks${path}`, {
    method,
    headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json", Host: host },
    ...(body !== undefined && { body: JSON.stringify(body) }),
  });
  return { status: response.status, body: (await response.json()) as Record<string, any> };
}

describe("webhook routes", () => {
  it("a lead adds one (secret shown once), lists it with no secret, and removes it", async () => {
    const group = freshGroup("hooks");
    const lead = await mint(group, "lee", { r: "lead" });
    const added = await hooksCall(group, lead, "POST", "", { url: "https://hooks.example.com/relay", peers: ["bob"], events: ["question", "dm"], format: "slack" });
    expect(added.status).toBe(201);
    expect(added.body).toMatchObject({ id: expect.stringMatching(/^wh_/), url: "https://hooks.example.com/relay", peers: ["bob"], events: ["question", "dm"], format: "slack", failures: [] });
    expect(added.body.secret).toMatch(/^whsec_[0-9a-f]{64}$/);

    const listed = await hooksCall(group, lead, "GET");
    expect(listed.status).toBe(200);
    expect(listed.body.webhooks).toHaveLength(1);
    expect(listed.body.webhooks[0].id).toBe(added.body.id);
    expect(JSON.stringify(listed.body)).not.toContain(added.body.secret);

    expect((await hooksCall(group, lead, "DELETE", `/${added.body.id}`)).body).toEqual({ removed: added.body.id });
    expect((await hooksCall(group, lead, "GET")).body.webhooks).toEqual([]);
    const again = await hooksCall(group, lead, "DELETE", `/${added.body.id}`);
    expect(again.status).toBe(404);
    expect(again.body.message).toContain("relay-bridge webhook list");
  });

  it("refuses a peer or an observer who is not a lead, saying how to get a lead's token", async () => {
    const group = freshGroup("hooks");
    for (const token of [await mint(group, "bob"), await mint(group, "owl", { r: "observer" })]) {
      for (const [method, body] of [["POST", { url: "https://hooks.example.com/x" }], ["GET", undefined]] as const) {
        const refused = await hooksCall(group, token, method, "", body);
        expect(refused.status).toBe(403);
        expect(refused.body.error).toBe("forbidden");
        expect(refused.body.message).toMatch(/Only a lead may .* --lead/);
      }
    }
    expect((await hooksCall(group, await mint("other", "lee", { r: "lead" }), "GET")).status).toBe(403);
  });

  it("refuses SSRF targets on a deployed relay, and plain http to loopback is for a local relay only", async () => {
    const group = freshGroup("hooks");
    const lead = await mint(group, "lee", { r: "lead" });
    const deployed = "relay.example.workers.dev";
    for (const url of ["http://hooks.example.com/x", "https://127.0.0.1/x", "https://169.254.169.254/latest", "https://10.0.0.1/x", "https://[::1]/x", "https://[fd00::1]/x", "https://localhost/x", "https://db.internal/x", "http://127.0.0.1:8080/x"]) {
      const refused = await hooksCall(group, lead, "POST", "", { url }, deployed);
      expect(refused.status, url).toBe(400);
      expect(refused.body.error).toBe("invalid_input");
    }
    expect((await hooksCall(group, lead, "POST", "", { url: "http://127.0.0.1:8080/x", peers: ["bob"] })).status).toBe(201);
    expect((await hooksCall(group, lead, "POST", "", { url: "http://10.0.0.1/x", peers: ["bob"] })).status).toBe(400);
    expect((await hooksCall(group, lead, "GET", "", undefined, deployed)).body.webhooks).toHaveLength(1);
  });

  it("refuses bad bodies with a sentence that says what to send", async () => {
    const group = freshGroup("hooks");
    const lead = await mint(group, "lee", { r: "lead" });
    const badEvent = await hooksCall(group, lead, "POST", "", { url: "https://hooks.example.com/x", events: ["everything"] });
    expect(badEvent.status).toBe(400);
    expect(badEvent.body.message).toContain("events are question, dm, chain_held");
    const badFormat = await hooksCall(group, lead, "POST", "", { url: "https://hooks.example.com/x", format: "xml" });
    expect(badFormat.body.message).toContain("format is json or slack");
    // Questions and DMs go only to the people a webhook names: one for everyone would carry the DMs
    // between any two peers to its URL. chain_held alone needs no names.
    for (const events of [undefined, ["question"], ["dm"], ["question", "dm", "chain_held"]]) {
      const everyone = await hooksCall(group, lead, "POST", "", { url: "https://hooks.example.com/x", ...(events && { events }) });
      expect(everyone.status, JSON.stringify(events)).toBe(400);
      expect(everyone.body.error).toBe("invalid_input");
      expect(everyone.body.message).toContain("--for PEER");
    }
    expect((await hooksCall(group, lead, "POST", "", { url: "https://hooks.example.com/x", events: ["chain_held"] })).status).toBe(201);
  });

  it("a question to a listed peer queues a delivery with the send; DMs only when asked for; other peers none", async () => {
    const group = freshGroup("hooks");
    const lead = await mint(group, "lee", { r: "lead" });
    const questionsOnly = await hooksCall(group, lead, "POST", "", { url: "https://q.example.com/x", peers: ["bob"] });
    const withDms = await hooksCall(group, lead, "POST", "", { url: "https://dm.example.com/x", peers: ["bob"], events: ["dm"] });
    const alice = await peer(group, "alice");
    const bob = await peer(group, "bob");
    const carol = await peer(group, "carol");
    await bob.call("list_peers");
    await carol.call("list_peers");

    const asked = await alice.call("ask_peer", { to: "bob", question: "Ship it?", timeout_seconds: 0, default_answer: "not yet" });
    await alice.call("ask_peer", { to: "carol", question: "Not for a webhook", timeout_seconds: 0 });
    await alice.call("send_dm", { to: "bob", text: "a dm" });
    await alice.call("send_message", { text: "a broadcast" });

    const rows = await sqlIn(group, `SELECT hook, event, notice FROM webhook_deliveries ORDER BY created_at, event`);
    const byHook = (id: string) => rows.filter((r) => r.hook === id).map((r) => ({ event: r.event, ...JSON.parse(String(r.notice)) }));
    expect(byHook(questionsOnly.body.id)).toEqual([
      expect.objectContaining({ event: "question", for: "bob", from: "alice", text: "Ship it?", message_id: asked.data.question.id, default_answer: "not yet", deadline: expect.any(String) }),
    ]);
    expect(byHook(withDms.body.id)).toEqual([expect.objectContaining({ event: "dm", for: "bob", from: "alice", text: "a dm" })]);
    // The alarm that posts them is due now, not at the next retention sweep.
    const alarm = await runInDurableObject(stubFor(group), (_instance, state) => state.storage.getAlarm());
    expect(alarm).not.toBeNull();
    expect(alarm!).toBeLessThan(Date.now() + 60_000);
  });

  it("a refused send queues nothing", async () => {
    const group = freshGroup("hooks");
    const lead = await mint(group, "lee", { r: "lead" });
    await hooksCall(group, lead, "POST", "", { url: "https://q.example.com/x", peers: ["nobody"] });
    const alice = await peer(group, "alice");
    const refused = await alice.call("ask_peer", { to: "nobody", question: "?", timeout_seconds: 0 });
    expect(refused.isError).toBe(true);
    expect(await sqlIn(group, `SELECT * FROM webhook_deliveries`)).toEqual([]);
  });

  it("the room's panel API (/g/:group/api/webhooks) answers a lead and refuses anyone else", async () => {
    const group = freshGroup("hooks");
    const api = (token: string, path: string, body?: unknown) =>
      workerFetch(`http://localhost/g/${group}/api/${path}`, {
        method: body === undefined ? "GET" : "POST",
        headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
        ...(body !== undefined && { body: JSON.stringify(body) }),
      });
    const lead = await mint(group, "lee", { r: "lead" });
    const added = await api(lead, "webhooks", { url: "https://hooks.example.com/room", peers: ["dana"] });
    expect(added.status).toBe(201);
    const { id, secret } = (await added.json()) as { id: string; secret: string };
    expect(secret).toMatch(/^whsec_/);
    expect(((await (await api(lead, "webhooks")).json()) as { id: string }[]).map((h) => h.id)).toEqual([id]);
    const bob = await mint(group, "bob");
    expect((await api(bob, "webhooks")).status).toBe(403);
    expect((await api(bob, "webhooks/remove", { id })).status).toBe(403);
    expect((await api(lead, "webhooks/remove", { id })).status).toBe(200);
    expect(await (await api(lead, "webhooks")).json()).toEqual([]);
  });

  it("a chain that becomes held queues one chain_held for every webhook that hears it, whatever its peers", async () => {
    const group = freshGroup("hooks");
    const lead = await mint(group, "lee", { r: "lead" });
    const narrow = await hooksCall(group, lead, "POST", "", { url: "https://held.example.com/x", peers: ["nobody"], events: ["chain_held"] });
    const questionsOnly = await hooksCall(group, lead, "POST", "", { url: "https://q.example.com/x", peers: ["bob"], events: ["question"] });
    const alice = await peer(group, "alice");
    const bob = await peer(group, "bob");
    await alice.call("list_peers");
    await bob.call("list_peers");
    // Two agents answering each other until the relay holds their chain.
    let refused: { by: typeof alice; to: string; result: Awaited<ReturnType<typeof alice.call>> } | null = null;
    await alice.call("send_dm", { to: "bob", text: "kick-off" });
    for (let i = 1; i < 100 && !refused; i++) {
      const [me, next] = i % 2 === 1 ? [bob, alice] : [alice, bob];
      await me.call("read_new_messages");
      const sent = await me.call("send_dm", { to: next.name, text: `round ${i}` });
      if (sent.isError) refused = { by: me, to: next.name, result: sent };
    }
    expect(refused?.result.data.error).toBe("chain_held");
    // A retry is refused again, but the chain was already held: no second event.
    const again = await refused!.by.call("send_dm", { to: refused!.to, text: "once more" });
    expect(again.data.error).toBe("chain_held");
    const rows = await sqlIn(group, `SELECT hook, event, notice FROM webhook_deliveries WHERE event = 'chain_held'`);
    expect(rows.map((r) => r.hook)).toEqual([narrow.body.id]);
    expect(JSON.parse(String(rows[0]!.notice))).toMatchObject({ text: expect.stringMatching(/^Chain \d+ is held after \d+ agent messages/), extra: { chain: expect.any(Number), budget: expect.any(Number) } });
    expect(rows.some((r) => r.hook === questionsOnly.body.id)).toBe(false);
  });
});

/**
 * Hostile peers against the newer surfaces, through the real Worker entry: an observer may not
 * renew chains or restart the group's hourly hold; no route reads a body past the relay's cap,
 * even one that checks a proof only after reading it; an answer by link is a person's; a queued
 * webhook delivery keeps no more of a DM than it can post.
 */
import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { MAX_MCP_BODY_BYTES, WEBHOOK_TEXT_CHARS } from "../../contract/limits.ts";
import { settingsFrom } from "../../worker/group/settings.ts";
import { answerClaims, signAnswerLink } from "../../worker/group/webhooks/answer-link.ts";
import { deliveryBody } from "../../worker/group/webhooks/events.ts";
import { TEST_SECRET } from "../test-secret.ts";
import { BASE, freshGroup, mint, peer, sqlIn, stubFor, workerFetch } from "./helpers.ts";

async function api(group: string, token: string, path: string, method = "GET") {
  const response = await workerFetch(`${BASE}/g/${group}/api/${path}`, { method, headers: { Authorization: `Bearer ${token}` } });
  return { status: response.status, body: (await response.json()) as Record<string, any> };
}

describe("chains: an observer is not a person", () => {
  it("an observer's person-spoke is refused, and the group's hourly hold stays", async () => {
    const group = freshGroup("obs-spoke");
    const alice = await peer(group, "alice");
    const perHour = settingsFrom(env as never).groupAgentMessagesPerHour;
    await runInDurableObject(stubFor(group), (_i, state) => {
      for (let i = 0; i < perHour; i++) {
        state.storage.sql.exec(`INSERT INTO chain_messages (id, chain, sender, voice, at, charge, joined) VALUES (?, 1000, 'seed', 'agent', ?, 1, '[1000]')`, `seed_${i}`, Date.now());
      }
    });
    expect((await alice.call("send_message", { text: "one more" })).data.error).toBe("chain_held");

    const observer = await mint(group, "olga", { r: "observer" });
    const spoke = await api(group, observer, "chains/person-spoke", "POST");
    expect(spoke.status).toBe(403);
    expect(spoke.body.error).toBe("read_only");
    // Still held: the observer's call restarted nothing.
    expect((await alice.call("send_message", { text: "and another" })).data.error).toBe("chain_held");
    await alice.close();
  });
});

describe("request bodies are capped on every route", () => {
  const huge = "x".repeat(MAX_MCP_BODY_BYTES + 1);

  it("refuses an oversized body before a proof is checked (name reservations, revocation)", async () => {
    const group = freshGroup("big-body");
    for (const path of [`/groups/${group}/names`, `/groups/${group}/revoke`]) {
      const response = await workerFetch(`${BASE}${path}`, { method: "POST", headers: { "Content-Type": "application/json" }, body: huge });
      expect(response.status, path).toBe(413);
      expect(((await response.json()) as { error: string }).error).toBe("body_too_large");
    }
  });

  it("refuses an oversized body on a token route and a room API route", async () => {
    const group = freshGroup("big-body");
    const token = await mint(group, "alice");
    for (const path of [`/groups/${group}/announced`, `/g/${group}/api/send`, `/groups/${group}/webhooks`]) {
      const response = await workerFetch(`${BASE}${path}`, { method: "POST", headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" }, body: huge });
      expect(response.status, path).toBe(413);
    }
  });

  it("refuses an oversized body sent without a Content-Length (a stream)", async () => {
    const group = freshGroup("big-body");
    const chunk = new TextEncoder().encode("x".repeat(1024 * 1024));
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent > MAX_MCP_BODY_BYTES) return controller.close();
        sent += chunk.byteLength;
        controller.enqueue(chunk);
      },
    });
    const response = await workerFetch(`${BASE}/groups/${group}/names`, { method: "POST", headers: { "Content-Type": "application/json" }, body, duplex: "half" } as RequestInit);
    expect(response.status).toBe(413);
  });

  it("still takes an ordinary body", async () => {
    const group = freshGroup("big-body");
    const token = await mint(group, "alice");
    const response = await workerFetch(`${BASE}/g/${group}/api/send`, {
      method: "POST",
      headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
      body: JSON.stringify({ text: "hello" }),
    });
    expect(response.status).toBe(200);
  });
});

describe("one-click answers are a person's", () => {
  it("an answer by link to a question in a spent chain is sent, and renews the chain", async () => {
    const group = freshGroup("link-answer");
    const alice = await peer(group, "alice");
    const bob = await peer(group, "bob");
    await bob.call("list_peers");
    const asking = alice.call("ask_peer", { to: "bob", question: "ship it?", timeout_seconds: 60 });
    let question: Record<string, SqlStorageValue> | undefined;
    await expect.poll(async () => (question = (await sqlIn(group, `SELECT m.id, cm.chain FROM messages m JOIN chain_messages cm ON cm.id = m.id WHERE m.kind = 'question'`))[0])).toBeTruthy();
    // The question's chain has spent its budget: an agent's reply in it would be refused.
    const budget = settingsFrom(env as never).chainBudget;
    await sqlIn(group, `UPDATE chains SET agent_messages = ? WHERE id = ?`, budget, question!.chain!);

    const code = await signAnswerLink(TEST_SECRET, answerClaims(group, question!.id as string, "bob", "alice", Date.now()));
    const page = await (await workerFetch(`${BASE}/answer/${code}`)).text();
    const csrf = /name="csrf" value="([^"]+)"/.exec(page)![1]!;
    const posted = await workerFetch(`${BASE}/answer/${code}`, {
      method: "POST",
      headers: { Origin: BASE, "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ csrf, answer: "yes, ship it" }).toString(),
    });
    expect(posted.status, await posted.clone().text()).toBe(200);
    expect(await posted.text()).toContain("Answer sent");
    const answered = await asking;
    expect(answered.data.reply).toMatchObject({ from: "bob", text: "yes, ship it" });
    expect(await sqlIn(group, `SELECT agent_messages, person_by FROM chains WHERE id = ?`, question!.chain!)).toEqual([{ agent_messages: 0, person_by: "bob" }]);
    await alice.close();
    await bob.close();
  });
});

describe("webhook deliveries keep no more text than they post", () => {
  it("a long DM's queued delivery holds only what the receiver can be shown", async () => {
    const group = freshGroup("hook-text");
    const lead = await mint(group, "lee", { r: "lead" });
    const added = await workerFetch(`${BASE}/groups/${group}/webhooks`, {
      method: "POST",
      headers: { Authorization: `Bearer ${lead}`, "Content-Type": "application/json" },
      body: JSON.stringify({ url: "https://hooks.example.com/x", peers: ["bob"], events: ["dm"] }),
    });
    expect(added.status).toBe(201);
    const alice = await peer(group, "alice");
    const bob = await peer(group, "bob");
    await bob.call("list_peers");
    const long = "y".repeat(20_000);
    expect((await alice.call("send_dm", { to: "bob", text: long })).isError).toBe(false);
    const [row] = await sqlIn(group, `SELECT notice FROM webhook_deliveries`);
    const notice = JSON.parse(String(row!.notice)) as { for: string; text: string };
    expect(notice.text.length).toBe(WEBHOOK_TEXT_CHARS + 1);
    // What is posted is cut and marked as before.
    const body = JSON.parse(deliveryBody("json", { event: "dm", delivery: "dl_x", group, time: new Date().toISOString() }, notice)) as { text: string; truncated?: boolean };
    expect(body).toMatchObject({ text: `${"y".repeat(WEBHOOK_TEXT_CHARS)}…`, truncated: true });
    await alice.close();
    await bob.close();
  });
});

describe("signing out", () => {
  it("a group name that is not one never reaches the Set-Cookie header", async () => {
    const response = await workerFetch(`${BASE}/g/a%3B%20Path%3D%2F%3B%20Domain%3Dlocalhost/session/end`, { method: "POST", headers: { Origin: BASE } });
    expect(response.status).toBe(404);
    expect(response.headers.get("Set-Cookie")).toBeNull();
  });
});

/**
 * Hostile peers against the newer surfaces, through the real Worker entry: an observer may not
 * renew chains or restart the group's hourly hold; no route reads a body past the relay's cap,
 * even one that checks a proof only after reading it.
 */
import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { MAX_MCP_BODY_BYTES } from "../../contract/limits.ts";
import { settingsFrom } from "../../worker/group/settings.ts";
import { BASE, freshGroup, mint, peer, stubFor, workerFetch } from "./helpers.ts";

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

/**
 * Hostile peers against the newer surfaces, through the real Worker entry: an observer may not
 * renew chains or restart the group's hourly hold.
 */
import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
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

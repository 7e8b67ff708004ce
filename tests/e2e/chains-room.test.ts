/**
 * The room's held chains in a real browser (Chromium) against the real relay (`npm start`,
 * shared): two agents answer each other until the relay holds their chain; a lead sees it with
 * who, how many and the last messages, and Continue lets the agents go on; a plain peer sees the
 * chain but no buttons.
 */
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_CHAIN_BUDGET } from "../../contract/limits.ts";
import { launchBrowser, linkFor, mintAs, type Person, signIn } from "../helpers/browser.ts";
import { sharedRelay, type SharedRelay } from "../helpers/shared-relay.ts";

let relay: SharedRelay;
let browser: Browser;
const people: Person[] = [];

beforeAll(async () => {
  [relay, browser] = await Promise.all([sharedRelay(), launchBrowser()]);
});

afterAll(async () => {
  await Promise.allSettled(people.map((p) => p.context.close()));
  await browser?.close();
});

/** One tools/call as an agent's client makes it. */
async function tool(token: string, name: string, args: Record<string, unknown>): Promise<{ isError: boolean; data: any }> {
  const response = await fetch(`${relay.url}/mcp`, {
    method: "POST",
    headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json", Accept: "application/json, text/event-stream" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name, arguments: args } }),
  });
  const text = await response.text();
  const line = text.includes("data:") ? text.split("\n").find((l) => l.startsWith("data:"))!.slice(5) : text;
  const result = (JSON.parse(line) as { result: { isError?: boolean; structuredContent?: unknown } }).result;
  return { isError: result.isError === true, data: result.structuredContent ?? {} };
}

describe("held chains in the web room", { timeout: 180_000 }, () => {
  it("a lead sees the held chain and continues it with the button; a plain peer sees it without buttons", async () => {
    const g = `chains-room-${process.pid}`;
    const [ann, ben] = await Promise.all([mintAs(g, "ann"), mintAs(g, "ben")]);
    await tool(ann, "list_peers", {});
    await tool(ben, "list_peers", {});
    const names = ["ann", "ben"];
    let held = -1;
    let chain = 0;
    // Broadcasts, so the people in the room may see the chain's last messages.
    for (let i = 0; i < DEFAULT_CHAIN_BUDGET * 2 && held < 0; i++) {
      const me = [ann, ben][i % 2]!;
      await tool(me, "read_new_messages", {});
      const sent = await tool(me, "send_message", { text: `round ${i} from ${names[i % 2]}` });
      if (sent.isError) held = i % 2;
      else if (sent.data.chain) chain = sent.data.chain.chain;
    }
    expect(held).toBeGreaterThanOrEqual(0);

    const peerView = await signIn(browser, linkFor(relay.url, g, await mintAs(g, "pat")));
    people.push(peerView);
    const peerItem = peerView.page.locator(`#chains li[data-chain="${chain}"]`);
    await peerItem.waitFor({ timeout: 30_000 });
    expect(await peerItem.locator("button").count()).toBe(0);

    const lead = await signIn(browser, linkFor(relay.url, g, await mintAs(g, "lena", "lead")));
    people.push(lead);
    const item = lead.page.locator(`#chains li[data-chain="${chain}"]`);
    await item.waitFor({ timeout: 30_000 });
    await expect.poll(() => item.textContent()).toContain(`${DEFAULT_CHAIN_BUDGET} agent messages`);
    expect(await item.textContent()).toContain("ann, ben");
    expect(await item.textContent()).toContain(`round ${DEFAULT_CHAIN_BUDGET - 1}`);
    await item.locator('button[data-action="continue"]').click();
    await lead.page.locator("#chains-status", { hasText: `Chain ${chain} continues` }).waitFor({ timeout: 30_000 });
    await expect.poll(() => lead.page.locator(`#chains li[data-chain="${chain}"]`).count()).toBe(0);

    const again = await tool([ann, ben][held]!, "send_message", { text: "going on" });
    expect(again.isError, JSON.stringify(again.data)).toBe(false);
  });
});

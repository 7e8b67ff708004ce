/**
 * The room shows what needs the person, in Chromium against the shared relay: a DM that was
 * waiting and one that arrives live are listed above the fold with a count in the tab's title; a
 * long message folds; the person looking is listed online to the others; an observer is shown no
 * "Questions for you".
 */
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchBrowser, linkFor, mintAs, type Person, signIn } from "../helpers/browser.ts";
import { type SharedRelay, sharedRelay } from "../helpers/shared-relay.ts";

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

async function agent(group: string, name: string) {
  const client = new Client({ name: `attention-e2e-${name}`, version: "1.0.0" });
  await client.connect(new StreamableHTTPClientTransport(new URL(`${relay.url}/mcp`), { requestInit: { headers: { Authorization: `Bearer ${await mintAs(group, name)}` } } }));
  return {
    call: async (tool: string, args: Record<string, unknown> = {}) => {
      const r = (await client.callTool({ name: tool, arguments: args })) as { isError?: boolean; structuredContent?: Record<string, any> };
      return { isError: r.isError === true, data: r.structuredContent ?? {} };
    },
    close: () => client.close(),
  };
}

async function person(group: string, name: string, role?: "observer" | "lead"): Promise<Person> {
  const p = await signIn(browser, linkFor(relay.url, group, await mintAs(group, name, role)));
  people.push(p);
  return p;
}

describe("the room shows what needs you", { timeout: 120_000 }, () => {
  it("unread DMs above the fold with a count in the title; long messages fold; a page is presence; observers see no questions", async () => {
    const group = `attention-${process.pid}`;
    const builder = await agent(group, "builder");
    const dana = await agent(group, "dana");
    await dana.call("list_peers");
    await builder.call("send_dm", { to: "dana", text: "the build is red", urgent: true });

    const { page } = await person(group, "dana");
    const needsYou = page.locator("#needs-you-card");
    await expect.poll(() => needsYou.isVisible()).toBe(true);
    expect(await page.locator("#needs-you").textContent()).toContain("the build is red");
    await expect.poll(() => page.title()).toBe(`(1) ${group} · claude-relay`);

    await builder.call("send_dm", { to: "dana", text: "and the deploy is stuck" });
    await expect.poll(() => page.title()).toBe(`(2) ${group} · claude-relay`);
    await builder.call("ask_peer", { to: "dana", question: "roll back?", timeout_seconds: 0 });
    await expect.poll(() => page.title()).toBe(`(3) ${group} · claude-relay`);

    // Reply clears the sender's DMs; the question still counts until answered.
    await page.locator("#needs-you button", { hasText: "Reply to builder" }).first().click();
    expect(await page.locator("#to").inputValue()).toBe("builder");
    await page.fill("#message", "looking");
    await page.click("#composer button[type=submit]");
    await expect.poll(() => page.title()).toBe(`(1) ${group} · claude-relay`);
    await expect.poll(() => needsYou.isVisible()).toBe(false);

    // A long broadcast folds behind "Show more", which shows all of it.
    const long = `${"x".repeat(3_000)}END`;
    await builder.call("send_message", { text: long });
    const last = page.locator("#channel li.message").last();
    await expect.poll(() => last.locator("button.fold").isVisible()).toBe(true);
    expect((await last.locator(".text").textContent())!.length).toBeLessThan(1_600);
    await last.locator("button.fold").click();
    expect(await last.locator(".text").textContent()).toBe(long);

    // dana, looking at the room, is listed online to another person in it.
    const other = await person(group, "erin");
    await expect.poll(() => other.page.locator("#peers li", { hasText: "dana" }).textContent()).toContain("online");

    const owl = await person(group, "owl", "observer");
    expect(await owl.page.locator("#questions-card").isVisible()).toBe(false);
    expect(await owl.page.title()).toBe(`${group} · claude-relay`);
    await Promise.all([builder.close(), dana.close()]);
  });

  it("a lead manages webhooks from the room: add (secret shown once), an SSRF target refused, remove; others see no panel", async () => {
    const group = `attention-hooks-${process.pid}`;
    const { page } = await person(group, "lee", "lead");
    await page.locator("#webhooks-card").waitFor({ state: "visible" });
    await page.fill("#webhook-url", "https://hooks.example.com/relay");
    await page.fill("#webhook-for", "dana");
    await page.selectOption("#webhook-format", "slack");
    await page.click("#webhook-form button[type=submit]");
    await expect.poll(() => page.locator("#webhook-secret").textContent()).toMatch(/whsec_[0-9a-f]{64}/);
    await expect.poll(() => page.locator("#webhooks").textContent()).toContain("https://hooks.example.com/relay");
    expect(await page.locator("#webhooks").textContent()).toContain("for dana");
    expect(await page.locator("#webhooks").textContent()).not.toContain("whsec_");

    await page.fill("#webhook-url", "https://169.254.169.254/latest");
    await page.click("#webhook-form button[type=submit]");
    await expect.poll(() => page.locator("#webhook-status").textContent()).toContain("must not point at 169.254.169.254");

    await page.locator("#webhooks button", { hasText: "Remove" }).click();
    await expect.poll(() => page.locator("#webhooks").textContent()).toBe("No webhooks.");

    const dana = await person(group, "dana");
    expect(await dana.page.locator("#webhooks-card").isVisible()).toBe(false);
  });
});

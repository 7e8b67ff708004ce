/**
 * Read marks in the room, in a real browser (Debian's Chromium) against the shared relay: a person's
 * own broadcast shows who has read it once an agent read it through the relay's tools; someone
 * else's message shows no mark.
 */
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchBrowser, linkFor, type Person, signIn } from "../helpers/browser.ts";
import { callTool, relayClient } from "../helpers/relay-client.ts";
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

describe("read marks in the room", () => {
  it("shows who read the person's own message, and nothing on others' messages", async () => {
    const group = "read-marks";
    const danaToken = await relay.mint(group, "dana");
    const dana = await relayClient(relay.url, danaToken);
    const ada = await relayClient(relay.url, await relay.mint(group, "ada"));
    await callTool(ada, "list_peers");
    const mine = await callTool(dana, "send_message", { text: "release notes are up" });
    const theirs = await callTool(ada, "send_message", { text: "thanks" });
    await callTool(ada, "read_new_messages");

    const person = await signIn(browser, linkFor(relay.url, group, danaToken));
    people.push(person);
    await person.page.locator(`#m-${mine.seq} .read-mark`, { hasText: "✓ read by ada" }).waitFor({ timeout: 20_000 });
    await person.page.locator(`#m-${theirs.seq}`).waitFor();
    expect(await person.page.locator(`#m-${theirs.seq} .read-mark`).count()).toBe(0);
    await Promise.all([dana.close(), ada.close()]);
  }, 60_000);
});

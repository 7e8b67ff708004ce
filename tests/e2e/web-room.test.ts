/**
 * The people's room in a real browser (Debian's Chromium via playwright-core) against the real
 * relay (`npm start`), with real MCP agents: sign in by link, live messages, answering an agent
 * waiting in ask_peer, hostile text, observers, pause, revocation, and a 390 px phone screen.
 */
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { spawn } from "node:child_process";
import { join } from "node:path";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { ARTIFACTS, launchBrowser, linkFor, mintAs, type Person, signIn } from "../helpers/browser.ts";
import { REPO_ROOT, type RelayServer, startRelay } from "../helpers/relay-server.ts";

let relay: RelayServer;
let browser: Browser;
const people: Person[] = [];

beforeAll(async () => {
  [relay, browser] = await Promise.all([startRelay(), launchBrowser()]);
});

afterAll(async () => {
  await Promise.allSettled(people.map((p) => p.context.close()));
  await browser?.close();
  await relay?.stop();
});

function tokenCli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn("npm", ["run", "-s", "token", "--", ...args], { cwd: REPO_ROOT, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk) => (stdout += chunk));
    child.stderr.on("data", (chunk) => (stderr += chunk));
    child.once("error", reject);
    child.once("exit", (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

async function agent(group: string, name: string): Promise<{ call: (tool: string, args?: Record<string, unknown>) => Promise<{ isError: boolean; text: string; data: Record<string, any> }>; close: () => Promise<void> }> {
  const client = new Client({ name: `web-e2e-${name}`, version: "1.0.0" });
  const token = await mintAs(group, name);
  await client.connect(new StreamableHTTPClientTransport(new URL(`${relay.url}/mcp`), { requestInit: { headers: { Authorization: `Bearer ${token}` } } }));
  return {
    call: async (tool, args = {}) => {
      const r = (await client.callTool({ name: tool, arguments: args }, undefined, { timeout: 60_000 })) as { isError?: boolean; content: { text?: string }[]; structuredContent?: Record<string, any> };
      return { isError: r.isError === true, text: r.content.map((c) => c.text ?? "").join("\n"), data: r.structuredContent ?? {} };
    },
    close: () => client.close(),
  };
}

async function person(link: string, viewport?: { width: number; height: number }): Promise<Person> {
  const p = await signIn(browser, link, viewport);
  people.push(p);
  return p;
}

describe("the room in a real browser", () => {
  it("signs in by the CLI's link, shows a broadcast and a DM live, and an answer reaches ask_peer", async () => {
    const group = "core";
    const ada = await agent(group, "ada");
    await ada.call("register", { summary: "refactoring the parser", branch: "parser" });
    const minted = await tokenCli(["--group", group, "--peer", "dana", "--link", "--url", relay.url]);
    expect(minted.code, minted.stderr).toBe(0);
    const link = minted.stdout.trim();
    expect(minted.stdout).toBe(`${link}\n`);
    expect(link).toMatch(new RegExp(`^${relay.url}/g/core#t=rly1\\.`));
    const token = link.split("#t=")[1]!;

    const dana = await person(link);
    const { page } = dana;
    // The fragment is gone from the address bar; the token never went to the server in a URL.
    expect(page.url()).toBe(`${relay.url}/g/core`);
    expect(dana.requested.every((url) => !url.includes(token))).toBe(true);
    const cookie = (await dana.context.cookies()).find((c) => c.name === "relay_session")!;
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: "Strict", path: "/g/core" });
    expect(cookie.value).not.toContain(token.split(".")[2]);
    await expect.poll(() => page.locator("#peers").textContent()).toContain("ada");
    expect(await page.locator("#peers").textContent()).toContain("refactoring the parser");
    // ada's bridge connects: the page shows her online at once, not at the next poll (every 20 s).
    const adaBridge = new WebSocket(`${relay.url.replace("http", "ws")}/groups/${group}/ws`, { headers: { Authorization: `Bearer ${await mintAs(group, "ada")}` } });
    await page.locator("#peers li", { hasText: "ada" }).filter({ hasText: "online" }).waitFor({ timeout: 15_000 });
    adaBridge.close();
    await page.locator("#peers li", { hasText: "ada" }).filter({ hasText: "offline" }).waitFor({ timeout: 15_000 });

    // A broadcast and a DM from the agent appear live: the page never polls for messages, so
    // their arriving at all is the socket's push (the bound only catches a hang).
    await ada.call("send_message", { text: "parser is green", tags: ["ci"], urgent: true });
    await page.locator("#channel li", { hasText: "parser is green" }).waitFor({ timeout: 15_000 });
    expect(await page.locator("#channel li", { hasText: "parser is green" }).textContent()).toMatch(/urgent.*#ci/);
    await ada.call("send_dm", { to: "dana", text: "dana, a word in private" });
    await page.locator("#threads li", { hasText: "dana, a word in private" }).waitFor({ timeout: 15_000 });
    // Seeing it in the page marked it read, as read_new_messages would have.
    await expect.poll(async () => (await relayPost("core", token, "read")).read, { timeout: 5_000 }).toBe(0);

    // The agent waits in ask_peer; the person answers in the page; the agent's call returns it.
    const asked = ada.call("ask_peer", { to: "dana", question: "ship the parser today?", timeout_seconds: 30 });
    const question = page.locator("#questions li", { hasText: "ship the parser today?" });
    await question.waitFor({ timeout: 5_000 });
    await question.getByLabel("Answer", { exact: true }).fill("yes, after lunch");
    await question.getByRole("button", { name: /Send answer/ }).click();
    const reply = await asked;
    expect(reply.isError, reply.text).toBe(false);
    expect(reply.data.reply).toMatchObject({ from: "dana", to: "ada", text: "yes, after lunch", reply_to: reply.data.question.id });
    await expect.poll(() => page.locator("#questions").textContent()).toContain("No open questions");

    // The composer: a broadcast from the page reaches the agent, with the tools' limits and errors.
    await page.getByLabel("Message", { exact: true }).fill("hello agents");
    await page.getByRole("button", { name: "Send", exact: true }).click();
    await expect.poll(async () => (await ada.call("read_new_messages")).text).toContain("> hello agents");
    await page.getByLabel("Message", { exact: true }).fill("x".repeat(70_000));
    await page.getByRole("button", { name: "Send", exact: true }).click();
    await expect.poll(() => page.locator("#composer-status").textContent()).toContain("the limit is 65536");

    // A send whose answer is lost on the way back (the relay stored it): the page tries again with
    // the same idempotency key, and the relay stores the message once.
    const keys: string[] = [];
    await page.route("**/api/send", async (route) => {
      keys.push((JSON.parse(route.request().postData() ?? "{}") as { idempotency_key: string }).idempotency_key);
      const response = await route.fetch();
      if (keys.length === 1) await route.abort("connectionreset");
      else await route.fulfill({ response });
    });
    await page.getByLabel("Message", { exact: true }).fill("sent once, answered late");
    await page.getByRole("button", { name: "Send", exact: true }).click();
    await expect.poll(() => page.locator("#composer-status").textContent(), { timeout: 10_000 }).toMatch(/^Sent \(#\d+\)\.$/);
    await page.unroute("**/api/send");
    expect(keys).toHaveLength(2);
    expect(keys[0]).toMatch(/^web-[0-9a-f]{32}$/);
    expect(keys[1]).toBe(keys[0]);
    const channel = await ada.call("get_history", { query: "sent once, answered late" });
    expect(channel.data.messages).toHaveLength(1);
    await ada.close();
  });

  it("the sign-in page at / loads without a script error, and a pasted token opens the room", async () => {
    const context = await browser.newContext();
    people.push({ context, page: await context.newPage(), requested: [] });
    const page = people[people.length - 1]!.page;
    const errors: string[] = [];
    page.on("pageerror", (error) => errors.push(error.message));
    await page.goto(`${relay.url}/`);
    await page.getByLabel("Peer token").fill(await mintAs("front", "dana"));
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.locator("#connection", { hasText: "Live." }).waitFor({ timeout: 15_000 });
    expect(page.url()).toBe(`${relay.url}/g/front`);
    expect(errors).toEqual([]);
  });

  it("a sign-in link for someone else asks before switching: staying keeps carol, switching ends carol's session and makes mallory", async () => {
    const group = "switching";
    const carol = await person(linkFor(relay.url, group, await mintAs(group, "carol")));
    const carolCookie = (await carol.context.cookies()).find((c) => c.name === "relay_session")!.value;
    const malloryLink = linkFor(relay.url, group, await mintAs(group, "mallory"));
    const mallorysToken = malloryLink.split("#t=")[1]!;

    // The link opened in another tab of the same browser (same cookies): it asks, and changes nothing yet.
    const tab = await carol.context.newPage();
    await tab.goto(malloryLink);
    const prompt = tab.getByRole("alertdialog", { name: "Switch who you are?" });
    await prompt.waitFor({ timeout: 15_000 });
    expect(await prompt.textContent()).toContain("This browser is signed in to group switching as carol. The link you opened signs in as mallory.");
    expect(tab.url()).toBe(`${relay.url}/g/${group}`);
    expect(await tab.locator("#room").isHidden()).toBe(true);
    await tab.getByRole("button", { name: "Stay carol" }).click();
    await tab.locator("#connection", { hasText: "Live." }).waitFor({ timeout: 15_000 });
    expect(await tab.locator("#whoami").textContent()).toBe("signed in as carol");
    expect((await carol.context.cookies()).find((c) => c.name === "relay_session")!.value).toBe(carolCookie);

    // The same link pasted into the open room's address bar (only the fragment changes), then switching.
    await carol.page.goto(malloryLink);
    await carol.page.getByRole("button", { name: "Switch to mallory" }).click();
    await carol.page.locator("#whoami", { hasText: "signed in as mallory" }).waitFor({ timeout: 15_000 });
    expect(carol.page.url()).toBe(`${relay.url}/g/${group}`);
    // carol's session ended on the relay, not only in this browser: a copy of her cookie reads nothing.
    const copied = await fetch(`${relay.url}/g/${group}/api/room`, { headers: { Cookie: `relay_session=${carolCookie}` } });
    expect(copied.status).toBe(401);
    expect(carol.requested.every((url) => !url.includes(mallorysToken))).toBe(true);
    await tab.close();
  });

  it("signing out from the page ends the session on the relay: a copy of the cookie reads nothing", async () => {
    const group = "signout";
    const { page, context } = await person(linkFor(relay.url, group, await mintAs(group, "dana")));
    const cookie = (await context.cookies()).find((c) => c.name === "relay_session")!.value;
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.locator("#signin-error", { hasText: "Signed out." }).waitFor({ timeout: 5_000 });
    const copied = await fetch(`${relay.url}/g/${group}/api/room`, { headers: { Cookie: `relay_session=${cookie}` } });
    expect(copied.status).toBe(401);
    expect(((await copied.json()) as { message: string }).message).toContain("signed out");
  });

  it("pages the board: previews first, a key's whole value and the older keys on request", async () => {
    const group = "board";
    const ada = await agent(group, "ada");
    const bob = await agent(group, "bob");
    const long = `${"0123456789".repeat(100)}END`;
    await ada.call("set_state", { key: "long-note", value: long });
    // 55 keys from two agents (each stays under the write limit); the long one is the oldest.
    for (let i = 0; i < 54; i++) await (i % 2 ? ada : bob).call("set_state", { key: `k-${String(i).padStart(2, "0")}`, value: i });
    const { page } = await person(linkFor(relay.url, group, await mintAs(group, "dana")));
    await expect.poll(() => page.locator("#board dt").count()).toBe(50);
    expect(await page.locator("#board-count").textContent()).toBe("Showing 50 of 55 keys, the most recently changed.");
    await page.getByRole("button", { name: "Show more keys" }).click();
    await expect.poll(() => page.locator("#board dt").count()).toBe(55);
    expect(await page.getByRole("button", { name: "Show more keys" }).isHidden()).toBe(true);
    const entry = page.locator("#board dd", { has: page.getByRole("button", { name: "Show all of long-note" }) });
    expect(await entry.locator("code").textContent()).not.toContain("END");
    await page.getByRole("button", { name: "Show all of long-note" }).click();
    await expect.poll(() => page.locator("#board code", { hasText: "END" }).count()).toBe(1);
    await Promise.all([ada.close(), bob.close()]);
  });

  it("renders hostile text inert", async () => {
    const group = "hostile";
    const mallory = await agent(group, "mallory");
    await mallory.call("list_peers");
    const { page } = await person(linkFor(relay.url, group, await mintAs(group, "dana")));
    const hostile = ['<img src=x onerror="window.__pwned=1">', "javascript:window.__pwned=2", "<script>window.__pwned=3</script>", "abc\u202Egpj.exe"];
    for (const text of hostile) await mallory.call("send_message", { text, tags: ["t"] });
    await mallory.call("set_state", { key: "note", value: "<img src=y onerror=window.__pwned=4>" });
    await expect.poll(() => page.locator("#channel li.message").count()).toBe(hostile.length);
    const texts = await page.locator("#channel .text").allTextContents();
    expect(texts.slice(0, 3)).toEqual(hostile.slice(0, 3));
    // The direction override is shown as a visible code, so it cannot reorder the line.
    expect(texts[3]).toBe("abc[U+202E]gpj.exe");
    await expect.poll(() => page.locator("#board").textContent()).toContain("<img src=y");
    expect(await page.locator("#room img, #room script, #room a[href^='javascript']").count()).toBe(0);
    expect(await page.evaluate("window.__pwned")).toBeUndefined();
    // The strict policy: no inline script, no eval, nothing from elsewhere.
    const response = await page.request.get(`${relay.url}/g/${group}`);
    expect(response.headers()["content-security-policy"]).toContain("script-src 'self'");
    expect(response.headers()["content-security-policy"]).not.toContain("unsafe");
    await mallory.close();
  });

  it("an observer sees a DM between two agents, a peer does not; an observer cannot send; list_peers shows the observer", async () => {
    const group = "watched";
    const ada = await agent(group, "ada");
    const bob = await agent(group, "bob");
    await bob.call("list_peers");
    const owl = await person(linkFor(relay.url, group, await mintAs(group, "owl", "observer")));
    const dana = await person(linkFor(relay.url, group, await mintAs(group, "dana")));
    await ada.call("send_dm", { to: "bob", text: "between us two" });
    await ada.call("send_message", { text: "for everyone" });
    await owl.page.locator("#threads li", { hasText: "between us two" }).waitFor({ timeout: 2_000 });
    await dana.page.locator("#channel li", { hasText: "for everyone" }).waitFor({ timeout: 2_000 });
    expect(await dana.page.locator("body").textContent()).not.toContain("between us two");
    expect(await owl.page.locator("#whoami").textContent()).toContain("observer");
    expect(await owl.page.locator("#composer").isHidden()).toBe(true);
    // Even a hand-made request from the observer's page is refused.
    const sent = await owl.page.evaluate(async (g) => {
      const r = await fetch(`/g/${g}/api/send`, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ text: "sneaky" }) });
      return { status: r.status, body: (await r.json()) as { message: string } };
    }, group);
    expect(sent.status).toBe(403);
    expect(sent.body.message).toContain("observer");
    const peers = await bob.call("list_peers");
    expect(peers.text).toMatch(/owl \(observer/);
    expect(peers.data.peers.find((p: { name: string }) => p.name === "owl")).toMatchObject({ observer: true });
    await expect.poll(() => dana.page.locator("#peers").textContent(), { timeout: 25_000 }).toContain("owl");
    await Promise.all([ada.close(), bob.close()]);
  });

  it("a lead pauses from the page: an agent's send_message refuses with the reason; a resume lets it through", async () => {
    const group = "paused";
    const ada = await agent(group, "ada");
    const { page } = await person(linkFor(relay.url, group, await mintAs(group, "lee", "lead")));
    await page.getByLabel("Pause reason").fill("runaway loop, looking into it");
    await page.getByRole("button", { name: "Pause the group" }).click();
    await expect.poll(() => page.locator("#pause-banner").textContent()).toBe("The group is paused by lee: runaway loop, looking into it");
    const refused = await ada.call("send_message", { text: "more loop" });
    expect(refused.isError).toBe(true);
    expect(refused.text).toBe("the group is paused by lee: runaway loop, looking into it");
    expect((await ada.call("list_peers")).text).toContain("paused by lee");
    expect((await ada.call("get_history")).isError).toBe(false);
    await page.getByRole("button", { name: "Resume the group" }).click();
    await expect.poll(() => page.locator("#pause-banner").isHidden()).toBe(true);
    expect((await ada.call("send_message", { text: "back to work" })).isError).toBe(false);
    await page.locator("#channel li", { hasText: "back to work" }).waitFor({ timeout: 1_000 });
    await ada.close();
  });

  it("is usable at 390 px with the keyboard alone", async () => {
    const group = "phone";
    const ada = await agent(group, "ada");
    for (let i = 0; i < 12; i++) await ada.call("send_message", { text: `status line ${i}: ${"long words ".repeat(i)}` });
    const { page } = await person(linkFor(relay.url, group, await mintAs(group, "dana")), { width: 390, height: 844 });
    await page.locator("#channel li", { hasText: "status line 11" }).waitFor();
    expect(await page.evaluate("document.documentElement.scrollWidth")).toBeLessThanOrEqual(390);
    // Keyboard only: Tab reaches the message box, Ctrl+Enter sends.
    for (let i = 0; i < 30 && (await page.evaluate("document.activeElement?.id")) !== "message"; i++) await page.keyboard.press("Tab");
    expect(await page.evaluate("document.activeElement?.id")).toBe("message");
    await page.keyboard.type("typed on a phone");
    await page.keyboard.press("Control+Enter");
    await expect.poll(async () => (await ada.call("read_new_messages")).text).toContain("> typed on a phone");
    await page.screenshot({ path: join(ARTIFACTS, "web-room-390.png"), fullPage: true });
    await ada.close();
  });

  it("the token CLI says what is wrong with a link or role request", async () => {
    const [noUrl, both] = await Promise.all([
      tokenCli(["--group", "core", "--peer", "dana", "--link"]),
      tokenCli(["--group", "core", "--peer", "dana", "--observer", "--lead"]),
    ]);
    expect(noUrl.code).not.toBe(0);
    expect(noUrl.stderr).toContain("--link needs --url");
    expect(noUrl.stdout).toBe("");
    expect(both.code).not.toBe(0);
    expect(both.stderr).toContain("--observer and --lead exclude each other");
  });

  it("refuses a foreign Origin on the socket and on sign-in", async () => {
    const token = await mintAs("core", "eve");
    const foreign = await fetch(`${relay.url}/session`, { method: "POST", headers: { Origin: "http://localhost:1", "Content-Type": "application/json" }, body: JSON.stringify({ token }) });
    expect(foreign.status).toBe(403);
    const status = await new Promise<number>((resolve) => {
      const ws = new WebSocket(`${relay.url.replace("http", "ws")}/g/core/ws`, { headers: { Origin: "http://localhost:1" } });
      ws.once("unexpected-response", (_req, res) => resolve(res.statusCode ?? 0));
      ws.once("open", () => resolve(101));
      ws.once("error", () => undefined);
    });
    expect(status).toBe(403);
  });

  it("a page whose token expires signs itself out when it does", async () => {
    const group = "expiring";
    // Not the sign-in helper, which waits for the live socket: on a loaded machine the token may
    // expire before that. The room drawn at all, then this message, is the page ending itself.
    const context = await browser.newContext();
    const page = await context.newPage();
    people.push({ context, page, requested: [] });
    await page.goto(linkFor(relay.url, group, await mintAs(group, "dana", undefined, { exp: Date.now() + 6_000 })));
    await page.locator("#whoami", { hasText: "signed in as dana" }).waitFor({ timeout: 15_000 });
    await page.locator("#signin-error").filter({ hasText: /session has ended/ }).waitFor({ timeout: 20_000 });
    expect(await page.locator("#room").isHidden()).toBe(true);
    expect(await page.evaluate(`fetch("/g/${group}/api/room").then((r) => r.status)`)).toBe(401);
  });

  it("a revoked token's page is signed out and its socket closed", async () => {
    const group = "revoked";
    const { page } = await person(linkFor(relay.url, group, await mintAs(group, "dana")));
    const revoked = await tokenCli(["--revoke", "--group", group, "--peer", "dana", "--url", relay.url]);
    expect(revoked.code, revoked.stderr).toBe(0);
    expect(revoked.stderr).toContain("1 socket(s) closed");
    await page.locator("#signin-error").filter({ hasText: /revoked/ }).waitFor({ timeout: 2_000 });
    expect(await page.locator("#room").isHidden()).toBe(true);
    // The cookie alone gets nothing more either.
    const status = await page.evaluate(async (g) => (await fetch(`/g/${g}/api/room`)).status, group);
    expect(status).toBe(401);
  });
});

/** Marks a person's mail read through the HTTP API with their token (as a script would). */
async function relayPost(group: string, token: string, path: string, body: unknown = {}): Promise<Record<string, any>> {
  const response = await fetch(`${relay.url}/g/${group}/api/${path}`, { method: "POST", headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" }, body: JSON.stringify(body) });
  return (await response.json()) as Record<string, any>;
}

/**
 * Webhooks and one-click answers against the real relay (`npm start`, shared): a receiver on
 * 127.0.0.1 checks every signature; an agent's question reaches it with an answer link; a person
 * answers in Chromium and the agent's ask_peer returns the answer; the link works once, refuses
 * forgeries, expired links and cross-site posts; a receiver that fails is retried until it recovers.
 */
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { execFile } from "node:child_process";
import { createHmac, timingSafeEqual } from "node:crypto";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { promisify } from "node:util";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { answerClaims, signAnswerLink } from "../../worker/group/webhooks/answer-link.ts";
import { findSecret } from "../../scripts/secret.ts";
import { launchBrowser, mintAs } from "../helpers/browser.ts";
import { REPO_ROOT } from "../helpers/relay-server.ts";
import { type SharedRelay, sharedRelay } from "../helpers/shared-relay.ts";

const CLI = join(REPO_ROOT, "local-bridge", "dist", "relay-bridge.mjs");
const run = promisify(execFile);

interface Post {
  path: string;
  headers: IncomingMessage["headers"];
  body: string;
}

let relay: SharedRelay;
let browser: Browser;
let receiver: Server;
let receiverUrl: string;
const posts: Post[] = [];
/** Per path: how the receiver answers its nth post (default 200). */
const answers = new Map<string, (n: number) => number>();
/** Pages the receiver serves on GET (a hostile site for the cross-site test). */
const pages = new Map<string, string>();
let groups = 0;

beforeAll(async () => {
  receiver = createServer((req, res) => {
    let body = "";
    req.on("data", (chunk) => (body += chunk));
    req.on("end", () => {
      const path = req.url ?? "/";
      if (req.method === "GET") {
        res.writeHead(pages.has(path) ? 200 : 404, { "Content-Type": "text/html" }).end(pages.get(path) ?? "");
        return;
      }
      posts.push({ path, headers: req.headers, body });
      const nth = posts.filter((p) => p.path === path).length;
      res.writeHead(answers.get(path)?.(nth) ?? 200).end("ok");
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
  [relay, browser] = await Promise.all([sharedRelay(), launchBrowser()]);
});

afterAll(async () => {
  await browser?.close();
  await new Promise((resolve) => receiver?.close(resolve));
});

/** What a receiver does (docs/webhooks.md): HMAC over `${timestamp}.${body}`, compared in constant time. */
function signatureValid(secret: string, post: Post): boolean {
  const timestamp = String(post.headers["x-relay-timestamp"]);
  const expected = Buffer.from(`sha256=${createHmac("sha256", secret).update(`${timestamp}.${post.body}`).digest("hex")}`);
  const given = Buffer.from(String(post.headers["x-relay-signature"]));
  return given.length === expected.length && timingSafeEqual(given, expected) && Math.abs(Date.now() / 1000 - Number(timestamp)) < 300;
}

async function cli(token: string, args: string[]): Promise<string> {
  const env = { ...process.env, RELAY_URL: relay.url, RELAY_TOKEN: token, XDG_CONFIG_HOME: "/nonexistent" };
  const { stdout } = await run(process.execPath, [CLI, ...args], { env, timeout: 120_000 });
  return stdout;
}

async function agent(group: string, name: string) {
  const client = new Client({ name: `hooks-e2e-${name}`, version: "1.0.0" });
  await client.connect(new StreamableHTTPClientTransport(new URL(`${relay.url}/mcp`), { requestInit: { headers: { Authorization: `Bearer ${await mintAs(group, name)}` } } }));
  return {
    call: async (tool: string, args: Record<string, unknown> = {}) => {
      const r = (await client.callTool({ name: tool, arguments: args }, undefined, { timeout: 120_000 })) as { isError?: boolean; content: { text?: string }[]; structuredContent?: Record<string, any> };
      return { isError: r.isError === true, text: r.content.map((c) => c.text ?? "").join("\n"), data: r.structuredContent ?? {} };
    },
    close: () => client.close(),
  };
}

async function setUp(path: string, extra: string[] = []) {
  const group = `hooks${++groups}-${process.pid}`;
  const lead = await mintAs(group, "lee", "lead");
  const hook = JSON.parse(await cli(lead, ["webhook", "add", `${receiverUrl}${path}`, "--for", "bob", ...extra, "--json"])) as { id: string; secret: string };
  const alice = await agent(group, "alice");
  const bob = await agent(group, "bob");
  await bob.call("list_peers");
  return { group, lead, hook, alice, bob };
}

const postsTo = (path: string) => posts.filter((p) => p.path === path);

describe("webhooks and one-click answers", { timeout: 180_000 }, () => {
  it("a question reaches the webhook signed; the person answers by link in Chromium and ask_peer returns it; once only", async () => {
    const { hook, alice, bob } = await setUp("/questions");
    const asking = alice.call("ask_peer", { to: "bob", question: "Deploy to <prod> now?", timeout_seconds: 120, default_answer: "no" });

    await expect.poll(() => postsTo("/questions").length).toBe(1);
    const [post] = postsTo("/questions");
    expect(signatureValid(hook.secret, post!)).toBe(true);
    expect(signatureValid(`${hook.secret}x`, post!)).toBe(false);
    expect(post!.headers["x-relay-event"]).toBe("question");
    const body = JSON.parse(post!.body);
    expect(body).toMatchObject({ event: "question", for: "bob", from: "alice", text: "Deploy to <prod> now?", default_answer: "no", deadline: expect.any(String) });
    expect(body.answer_url).toMatch(new RegExp(`^${relay.url}/answer/ans1\\.`));

    // Two tabs open the link; the first answers, the second then tries to.
    const context = await browser.newContext();
    const [first, second] = [await context.newPage(), await context.newPage()];
    await first.goto(body.answer_url);
    await second.goto(body.answer_url);
    await expect.poll(() => first.locator("pre").first().textContent()).toBe("Deploy to <prod> now?");
    await first.fill("textarea[name=answer]", "yes, go ahead");
    await first.click("button[type=submit]");
    await first.waitForSelector("text=Answer sent");

    const answered = await asking;
    expect(answered.isError).toBe(false);
    expect(answered.data.default_used).toBeUndefined();
    expect(answered.data.reply).toMatchObject({ from: "bob", to: "alice", text: "yes, go ahead", reply_to: answered.data.question.id });

    await second.fill("textarea[name=answer]", "no, wait!");
    await second.click("button[type=submit]");
    await second.waitForSelector("text=Already answered");
    expect(await second.textContent("body")).toContain("yes, go ahead");
    await first.goto(body.answer_url);
    await first.waitForSelector("text=Already answered");
    const thread = await bob.call("get_history", { peer: "alice" });
    expect(thread.data.messages.map((m: { text: string }) => m.text)).toEqual(["Deploy to <prod> now?", "yes, go ahead"]);
    await context.close();
    await Promise.all([alice.close(), bob.close()]);
  });

  it("a forged link, an expired link and a cross-site post are refused and change nothing", async () => {
    const { group, alice, bob } = await setUp("/refusals");
    await alice.call("ask_peer", { to: "bob", question: "Which branch?", timeout_seconds: 0 });
    await expect.poll(() => postsTo("/refusals").length).toBe(1);
    const link = JSON.parse(postsTo("/refusals")[0]!.body).answer_url as string;
    const code = link.slice(link.lastIndexOf("/") + 1);
    const context = await browser.newContext();
    const page = await context.newPage();

    const forged = `${relay.url}/answer/${code.slice(0, -2)}${code.endsWith("AA") ? "BB" : "AA"}`;
    expect((await page.goto(forged))!.status()).toBe(403);
    expect(await page.textContent("body")).toContain("not made by this relay");

    const claims = JSON.parse(Buffer.from(code.split(".")[1]!, "base64url").toString()) as { q: string };
    const expired = await signAnswerLink(findSecret()!, answerClaims(group, claims.q, "bob", "alice", Date.now() - 2 * 24 * 3600_000));
    expect((await page.goto(`${relay.url}/answer/${expired}`))!.status()).toBe(410);
    expect(await page.textContent("body")).toContain("expired");

    // A page on another origin that even copied the form's token posts to the link: refused.
    const real = await (await fetch(link)).text();
    const csrf = /name="csrf" value="([^"]+)"/.exec(real)![1]!;
    pages.set("/evil", `<!doctype html><form method="post" action="${link}"><input type="hidden" name="csrf" value="${csrf}"><input name="answer" value="forged answer"><button>go</button></form>`);
    await page.goto(`${receiverUrl}/evil`);
    const [response] = await Promise.all([page.waitForNavigation(), page.click("button")]);
    expect(response!.status()).toBe(403);
    // A form without the page's token is refused too, even from the relay's own origin.
    const noToken = await fetch(link, { method: "POST", headers: { Origin: relay.url, "Content-Type": "application/x-www-form-urlencoded" }, body: "answer=sneaky" });
    expect(noToken.status).toBe(403);

    expect((await bob.call("get_history", { peer: "alice" })).data.messages.map((m: { text: string }) => m.text)).toEqual(["Which branch?"]);
    await page.goto(link);
    expect(await page.locator("textarea[name=answer]").count()).toBe(1);
    await context.close();
    await Promise.all([alice.close(), bob.close()]);
  });

  it("a receiver that fails is retried with the same delivery until it recovers; list shows the failures meanwhile", async () => {
    answers.set("/flaky", (n) => (n <= 2 ? 500 : 204));
    const { lead, hook, alice, bob } = await setUp("/flaky");
    await alice.call("ask_peer", { to: "bob", question: "Still up?", timeout_seconds: 0 });

    await expect.poll(() => postsTo("/flaky").length, { timeout: 60_000 }).toBeGreaterThanOrEqual(2);
    const listed = JSON.parse(await cli(lead, ["webhook", "list", "--json"])) as { webhooks: { failures: { error: string; attempts: number; retrying: boolean }[]; last_delivered_at: string | null }[] };
    const failures = listed.webhooks[0]!.failures;
    if (postsTo("/flaky").length < 3) {
      expect(failures).toEqual([expect.objectContaining({ error: "HTTP 500", retrying: true })]);
      expect(listed.webhooks[0]!.last_delivered_at).toBeNull();
    }

    await expect.poll(() => postsTo("/flaky").length, { timeout: 60_000 }).toBe(3);
    const flaky = postsTo("/flaky");
    expect(new Set(flaky.map((p) => p.headers["x-relay-delivery"])).size).toBe(1);
    for (const post of flaky) expect(signatureValid(hook.secret, post)).toBe(true);
    await expect
      .poll(async () => (JSON.parse(await cli(lead, ["webhook", "list", "--json"])) as { webhooks: { last_delivered_at: string | null; failures: unknown[] }[] }).webhooks[0])
      .toMatchObject({ last_delivered_at: expect.any(String), failures: [] });
    await Promise.all([alice.close(), bob.close()]);
  });

  it("slack format, DMs opted in, a text line for the add, and remove", async () => {
    const { group, lead, hook, alice, bob } = await setUp("/slack", ["--events", "dm", "--format", "slack"]);
    await alice.call("send_dm", { to: "bob", text: "look at <b>this</b> & that" });
    await expect.poll(() => postsTo("/slack").length).toBe(1);
    const post = postsTo("/slack")[0]!;
    expect(signatureValid(hook.secret, post)).toBe(true);
    expect(JSON.parse(post.body)).toEqual({ text: "*alice* → *bob* (group " + JSON.parse(post.body).text.match(/group ([^)]+)\)/)[1] + "):\n> look at &lt;b&gt;this&lt;/b&gt; &amp; that" });

    const printed = await cli(lead, ["webhook", "add", "https://hooks.example.com/x", "--for", "bob"]);
    expect(printed).toMatch(/signing secret \(shown only now[^\n]*\n {2}whsec_[0-9a-f]{64}/);
    expect(await cli(lead, ["webhook", "remove", hook.id])).toContain(`removed ${hook.id}`);
    // The CLI's ask with a default: the default on stdout for a script, marked as not bob's on stderr, exit 4.
    const defaulted = await cli(await mintAs(group, "alice"), ["ask", "bob", "ship?", "--timeout", "0", "--default", "not yet"]).catch((e: { code: number; stdout: string; stderr: string }) => e);
    expect(defaulted).toMatchObject({ code: 4, stdout: "not yet\n", stderr: expect.stringContaining("your default answer follows (not bob's words)") });
    const refused = await cli(await mintAs("hooksx", "bob"), ["webhook", "list"]).catch((e: { code: number; stderr: string }) => e);
    expect(refused).toMatchObject({ code: 3, stderr: expect.stringContaining("Only a lead may list") });
    await Promise.all([alice.close(), bob.close()]);
  });
});

/**
 * A teammate joins from one link, against the real relay (`npm start`): invites used up, taken
 * names, expired and revoked invites; `join` run from a clean HOME in an empty directory with the
 * bridge downloaded from the relay's own /bridge.mjs and plain `node`; the real Claude Code CLI
 * accepting the printed `claude mcp add` line; and a bridge started from the saved config typing a
 * notice into a tmux pane.
 */
import { type ChildProcess, execFile, execFileSync, spawn } from "node:child_process";
import { chmodSync, mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readInviteUnverified } from "../../contract/invite.ts";
import { OLDEST_NODE } from "../helpers/node20.ts";
import { claudeVersion } from "../helpers/claude-cli.ts";
import { REPO_ROOT, startRelay, type RelayServer } from "../helpers/relay-server.ts";
import { TmuxLab } from "../helpers/tmux-lab.ts";
import { hold, waitFor } from "../helpers/wait.ts";

const run = promisify(execFile);

const claude = claudeVersion();
if (!claude) console.warn("invites.test.ts: `claude` is not on PATH; the `claude mcp list` check is skipped (install @anthropic-ai/claude-code to run it).");

let relay: RelayServer;
let lab: TmuxLab;
let groups = 0;
const children: ChildProcess[] = [];

beforeAll(async () => {
  relay = await startRelay();
  lab = TmuxLab.start();
});

afterAll(async () => {
  for (const child of children) child.kill("SIGTERM");
  lab?.kill();
  await relay?.stop();
});

function group(): string {
  return `inv${++groups}-${process.pid}`;
}

/** `npm run -s invite -- …` as the secret holder runs it; its stdout. */
function invite(g: string, ...args: string[]): string {
  return execFileSync("npm", ["run", "-s", "invite", "--", "--group", g, "--url", relay.url, ...args], { cwd: REPO_ROOT, encoding: "utf8" }).trim();
}

async function joinApi(url: string, name: string): Promise<{ status: number; body: Record<string, string> }> {
  const response = await fetch(`${url}/join`, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ name }) });
  return { status: response.status, body: (await response.json()) as Record<string, string> };
}

async function submitForm(url: string, name: string): Promise<{ status: number; html: string; csp: string | null }> {
  const response = await fetch(url, { method: "POST", body: new URLSearchParams({ name }) });
  return { status: response.status, html: await response.text(), csp: response.headers.get("Content-Security-Policy") };
}

describe("invites", { timeout: 60_000 }, () => {
  it("prints one URL; an invite for one use works once, on the page, and is refused the second time", async () => {
    const g = group();
    const url = invite(g, "--uses", "1");
    expect(url.split("\n")).toHaveLength(1);
    expect(url).toMatch(new RegExp(`^${relay.url}/invite/inv1\\.`));

    const page = await fetch(url);
    expect(page.status).toBe(200);
    expect(page.headers.get("Content-Security-Policy")).toContain("default-src 'none'");
    expect(page.headers.get("Cache-Control")).toBe("no-store");
    const form = await page.text();
    expect(form).toContain(`Join the relay group <code>${g}</code>`);
    expect(form).not.toContain("<script");

    const joined = await submitForm(url, "ann");
    expect(joined.status).toBe(200);
    expect(joined.csp).toContain("default-src 'none'");
    expect(joined.html).toContain(`claude mcp add --transport http relay ${relay.url}/mcp --header &quot;Authorization: Bearer rly1.`);
    expect(joined.html).toContain(`curl -fsSL ${relay.url}/bridge.mjs -o ~/.local/bin/relay-bridge &amp;&amp; chmod +x ~/.local/bin/relay-bridge`);

    const again = await joinApi(url, "bea");
    expect(again.status).toBe(403);
    expect(again.body.message).toMatch(/already been used once.*Ask whoever sent it for a new one/);
    const reopened = await fetch(url);
    expect(reopened.status).toBe(403);
    expect(await reopened.text()).toContain("already been used once");
  });

  it("refuses a taken name, an expired and a revoked invite, saying what to do", async () => {
    const g = group();
    const url = invite(g, "--uses", "3");
    expect((await joinApi(url, "ann")).status).toBe(200);
    const taken = await joinApi(url, "ann");
    expect(taken.status).toBe(409);
    expect(taken.body.message).toBe(`The name 'ann' is already taken in group '${g}'. Pick another name.`);
    const takenOnPage = await submitForm(url, "ann");
    expect(takenOnPage.status).toBe(409);
    expect(takenOnPage.html).toContain("already taken");
    expect(takenOnPage.html).toContain('<form method="post">');
    const badName = await joinApi(url, "Ann Smith");
    expect(badName.status).toBe(400);
    expect(badName.body.message).toContain("lower-case letters");

    const expiring = invite(g, "--ttl", "1s");
    await hold(1_100);
    const expired = await joinApi(expiring, "cy");
    expect(expired.status).toBe(403);
    expect(expired.body.message).toMatch(/expired at .*ask whoever sent it for a new one/);

    const revocable = invite(g);
    const id = readInviteUnverified(revocable.split("/invite/")[1]!)!.i;
    execFileSync("npm", ["run", "-s", "invite", "--", "--group", g, "--url", relay.url, "--revoke", id], { cwd: REPO_ROOT, stdio: "pipe" });
    const revoked = await joinApi(revocable, "dee");
    expect(revoked.status).toBe(403);
    expect(revoked.body.message).toBe("This invite was revoked. Ask whoever sent it for a new one.");

    const listed = JSON.parse(invite(g, "--list", "--json")) as { invites: { id: string; used_by: string[]; revoked_at: string | null }[] };
    expect(listed.invites).toHaveLength(3);
    expect(listed.invites.find((i) => i.id === id)!.revoked_at).not.toBeNull();
    expect(listed.invites.find((i) => i.used_by.length > 0)!.used_by).toEqual(["ann"]);
    expect(invite(g, "--list")).toMatch(new RegExp(`${id}\\s+revoked`));
  });

  it("an observer's token may read but not send", async () => {
    const g = group();
    const { body } = await joinApi(invite(g, "--observer"), "watcher");
    const env = { RELAY_URL: relay.url, RELAY_TOKEN: body.token };
    const read = await run(OLDEST_NODE, [join(REPO_ROOT, "local-bridge/dist/relay-bridge.mjs"), "read", "--json"], { env: { ...process.env, ...env } });
    expect(JSON.parse(read.stdout)).toEqual({ messages: [], remaining: 0 });
    const sent = await run(OLDEST_NODE, [join(REPO_ROOT, "local-bridge/dist/relay-bridge.mjs"), "send", "hi"], { env: { ...process.env, ...env } }).catch((e: { code: number; stderr: string }) => e);
    expect(sent).toMatchObject({ code: 3 });
    expect((sent as { stderr: string }).stderr).toContain("observer");
  });
});

/** Chromium through playwright-core, where both are installed (platform notes: Debian's chromium). */
async function browser() {
  try {
    const { chromium } = await import("playwright-core");
    statSync("/usr/bin/chromium");
    return await chromium.launch({ executablePath: "/usr/bin/chromium", args: ["--no-sandbox"] });
  } catch {
    console.warn("invites.test.ts: no playwright-core or /usr/bin/chromium; the browser check is skipped.");
    return null;
  }
}

/** PATH without node_modules: what a teammate's shell finds is the system's Node (20 here), not the project's 22. */
function teammatePath(extra?: string): string {
  const dirs = (process.env.PATH ?? "").split(":").filter((d) => !d.includes("node_modules"));
  return [...(extra ? [extra] : []), ...dirs].join(":");
}

/** Where `claude mcp add` lands: the real CLI, or (where it is not installed) a stand-in that accepts it. */
function claudeDir(): string | undefined {
  if (claude) return undefined;
  const stub = mkdtempSync(join(tmpdir(), "claude-stub-"));
  writeFileSync(join(stub, "claude"), "#!/bin/sh\nexit 0\n", { mode: 0o755 });
  return stub;
}

describe("the invite page in a real browser: open the link, run the commands it shows", { timeout: 90_000 }, () => {
  it("renders under its CSP with nothing refused, and its commands install the bridge and bring a notice to the pane", async (context) => {
    const chromium = await browser();
    if (!chromium) return context.skip();
    const g = group();
    const link = invite(g).replace("127.0.0.1", "localhost");
    const started = Date.now();
    let commands: string[];
    try {
      const page = await chromium.newPage();
      const problems: string[] = [];
      page.on("console", (m) => problems.push(m.text()));
      page.on("response", (r) => r.status() >= 400 && problems.push(`${r.status()} ${r.url()}`));
      // localhost, as people open it: the DNS-rebinding guard checks the form's Origin against it.
      await page.goto(link);
      expect(await page.locator("h1").textContent()).toContain("Join the relay group");
      // The stylesheet loaded (the CSP allows only the relay's own).
      expect(await page.locator("pre").evaluate((el) => (globalThis as unknown as { getComputedStyle(e: unknown): { whiteSpace: string } }).getComputedStyle(el).whiteSpace)).toBe("pre-wrap");
      await page.fill("input[name=name]", "eve");
      await page.click("button");
      await page.waitForSelector("text=Your token");
      expect(await page.locator("h1").textContent()).toContain("You are eve in");
      commands = (await page.locator("pre").first().textContent())!.trim().split("\n");
      expect(problems).toEqual([]);
    } finally {
      await chromium.close();
    }

    // The three lines of step 1, verbatim, in a shell with a clean HOME and the system's Node. Only
    // --pane is added: the tmux stand-in is not a process named claude, so setup could not find it.
    const home = mkdtempSync(join(tmpdir(), "page-home-"));
    const pane = await lab.standin();
    const env = { HOME: home, PATH: teammatePath(claudeDir()), TMUX: lab.tmuxEnv() };
    expect(commands).toHaveLength(3);
    await run("/bin/sh", ["-c", commands[0]!], { env });
    // The checksum line, with the real sha256sum, accepts the bridge just downloaded.
    expect((await run("/bin/sh", ["-c", commands[1]!], { env })).stdout.trim()).toBe(`${home}/.local/bin/relay-bridge: OK`);
    await run("/bin/sh", ["-c", `${commands[2]} --pane ${pane.pane}`], { env, timeout: 60_000 });
    const alice = await relay.mint(g, "alice");
    await run(OLDEST_NODE, [join(home, ".local/bin/relay-bridge"), "dm", "eve", "hello eve"], { env: { ...env, RELAY_URL: relay.url, RELAY_TOKEN: alice } });
    await waitFor(() => pane.events().some((e) => e.event === "submit" && e.line.includes("DM from alice")), { what: "the notice in eve's pane" });
    console.log(`invite page opened to first notice in the pane, the person's reading and typing excluded: ${Date.now() - started} ms`);
  });
});

describe("a teammate with Node and the invite link, no checkout", { timeout: 120_000 }, () => {
  it("downloads the bridge from the relay, joins, is accepted by Claude Code, and gets a notice in its pane", async () => {
    const g = group();
    const link = invite(g);
    const started = Date.now();
    // A clean HOME and an empty directory: nothing of this repository is reachable from there.
    const home = mkdtempSync(join(tmpdir(), "teammate-home-"));
    const work = mkdtempSync(join(tmpdir(), "teammate-work-"));
    const env = { PATH: process.env.PATH!, HOME: home, TMUX: lab.tmuxEnv() };

    const download = await fetch(`${relay.url}/bridge.mjs`);
    expect(download.status).toBe(200);
    const bin = join(work, "relay-bridge");
    writeFileSync(bin, Buffer.from(await download.arrayBuffer()));
    chmodSync(bin, 0o755);
    const version = await run(OLDEST_NODE, [bin, "--version"], { cwd: work, env });
    expect(version.stdout.trim()).toBe(`relay-bridge ${download.headers.get("X-Relay-Bridge-Version")}`);

    const joined = await run(OLDEST_NODE, [bin, "join", link, "--name", "bob"], { cwd: work, env });
    const config = join(home, ".config", "claude-relay", "config.json");
    expect(statSync(config).mode & 0o777).toBe(0o600);
    const saved = JSON.parse(readFileSync(config, "utf8")) as { default: string; profiles: Record<string, { url: string; group: string; peer: string; token: string }> };
    expect(saved.default).toBe(g);
    expect(saved.profiles[g]).toMatchObject({ url: relay.url, group: g, peer: "bob" });
    const mcpAdd = joined.stdout.split("\n").map((l) => l.trim()).find((l) => l.startsWith("claude mcp add"))!;
    expect(mcpAdd).toBe(`claude mcp add --transport http relay ${relay.url}/mcp --header "Authorization: Bearer ${saved.profiles[g]!.token}"`);

    if (claude) {
      const project = mkdtempSync(join(home, "project-"));
      const claudeEnv = { ...env, CLAUDE_CONFIG_DIR: join(home, ".claude") };
      // The line exactly as printed, through a shell, as the person pastes it.
      await run("/bin/sh", ["-c", mcpAdd], { cwd: project, env: claudeEnv, timeout: 60_000 });
      const { stdout } = await run("claude", ["mcp", "list"], { cwd: project, env: claudeEnv, timeout: 60_000 });
      expect(stdout).toMatch(/relay: .*Connected/);
    }

    // `setup` from the saved config alone (no --url, no --token), as the invite page says: it
    // registers the relay in the pane's project and opens the sidebar: tail under the status line.
    const pane = await lab.standin();
    const paneDir = lab.tmuxSync(["display-message", "-p", "-t", pane.pane, "#{pane_current_path}"]).trim();
    let setupPath = env.PATH;
    if (!claude) {
      // Without Claude Code installed, a stand-in that accepts `claude mcp add` lets the rest run.
      const stub = mkdtempSync(join(tmpdir(), "claude-stub-"));
      writeFileSync(join(stub, "claude"), "#!/bin/sh\nexit 0\n", { mode: 0o755 });
      setupPath = `${stub}:${env.PATH}`;
    }
    const setup = await run(OLDEST_NODE, [bin, "setup", "--pane", pane.pane], { cwd: work, env: { ...env, PATH: setupPath }, timeout: 60_000 });
    expect(setup.stdout).toContain(`registered the relay's tools for ${paneDir}`);
    const window = lab.tmuxSync(["display-message", "-p", "-t", pane.pane, "#{window_id}"]).trim();
    const panes = () => lab.tmuxSync(["list-panes", "-t", window, "-F", "#{pane_id}"]).trim().split("\n");
    expect(panes()).toHaveLength(3);
    const screens = () => panes().filter((id) => id !== pane.pane).map((id) => lab.tmuxSync(["capture-pane", "-p", "-J", "-t", id])).join("\n");
    await waitFor(() => screens().includes(`relay ${g}/bob · connected`), { what: "the bridge's status in the sidebar" });

    const alice = await relay.mint(g, "alice");
    await run(OLDEST_NODE, [bin, "dm", "bob", "welcome aboard"], { cwd: work, env: { ...env, RELAY_URL: relay.url, RELAY_TOKEN: alice } });
    await waitFor(() => pane.events().some((e) => e.event === "submit" && e.line.includes("DM from alice")), { what: "the notice in bob's pane" });
    await waitFor(() => screens().includes("alice → you (DM): welcome aboard"), { what: "the DM in the sidebar's conversation" });
    console.log(`invite link to first notice in the pane, unattended: ${Date.now() - started} ms; bundle ${statSync(bin).size} bytes`);
  });
});

/**
 * Path claims end to end against the real relay (`npm start`, shared): alice claims src/api
 * through the MCP tool; bob, on his machine, sees it with `relay-bridge claims`, cannot release it
 * (not a lead), has a commit into it refused by the git guard `relay-bridge guard install` put in
 * his repository, and, with the hooks `relay-bridge hooks install` wrote (as a person runs it),
 * the real Claude Code CLI (offline, the model stand-in issuing Read then Edit) is refused an Edit
 * inside alice's claim, the reason naming alice reaching the model, while an Edit inside bob's
 * own claim goes through.
 *
 * The Claude Code part needs `claude` on PATH; it is skipped, saying so, where it is absent.
 */
import { execFile, execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { claudeEnv, claudeVersion, type ContentBlock, type ModelStandin, type RecordedRequest, startModelStandin } from "../helpers/model-standin.ts";
import { launchBrowser, linkFor, mintAs, signIn } from "../helpers/browser.ts";
import { REPO_ROOT } from "../helpers/relay-server.ts";
import { sharedRelay, type SharedRelay } from "../helpers/shared-relay.ts";

const run = promisify(execFile);
const CLI = join(REPO_ROOT, "local-bridge", "dist", "relay-bridge.mjs");
const version = claudeVersion("claims.test.ts");
let relay: SharedRelay;

beforeAll(async () => {
  relay = await sharedRelay();
});

/** One tools/call through the relay's MCP endpoint, as any MCP client makes it. */
async function tool(token: string, name: string, args: Record<string, unknown>): Promise<Record<string, any>> {
  const response = await fetch(`${relay.url}/mcp`, {
    method: "POST",
    headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json", Accept: "application/json, text/event-stream" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name, arguments: args } }),
  });
  const text = await response.text();
  const json = text.startsWith("{") ? text : text.split("\n").find((l) => l.startsWith("data:"))!.slice(5);
  return (JSON.parse(json) as { result: { structuredContent: Record<string, any> } }).result.structuredContent;
}

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

async function cli(args: string[], env: NodeJS.ProcessEnv, cwd?: string): Promise<Result> {
  try {
    const { stdout, stderr } = await run(process.execPath, [CLI, ...args], { env, cwd, timeout: 120_000 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

/** bob's machine: a private home and config, and a clone of acme/app with work in src/api and docs. */
async function bobsMachine() {
  const group = `claims-${Math.random().toString(36).slice(2, 8)}`;
  const alice = await relay.mint(group, "alice");
  const bob = await relay.mint(group, "bob");
  const home = mkdtempSync(join(tmpdir(), "claims-e2e-"));
  const dir = join(home, "app");
  mkdirSync(join(dir, "src", "api"), { recursive: true });
  mkdirSync(join(dir, "docs"));
  // The config file (and so the profile the hooks name) lives in bob's home only.
  const env = { ...process.env, HOME: home, XDG_CONFIG_HOME: join(home, ".config"), RELAY_URL: undefined, RELAY_TOKEN: undefined };
  const git = (...args: string[]) => execFileSync("git", args, { cwd: dir, env, encoding: "utf8", stdio: "pipe" });
  git("init", "-q", "-b", "main");
  git("config", "user.email", "bob@example.com");
  git("config", "user.name", "bob");
  writeFileSync(join(dir, "src", "api", "server.ts"), "export const port = 1;\n");
  writeFileSync(join(dir, "docs", "guide.md"), "Old guide.\n");
  git("add", ".");
  git("commit", "-q", "-m", "start");
  git("remote", "add", "origin", "git@github.com:acme/app.git");
  return { group, alice, bob, home, dir, git, env };
}

describe("claims from bob's terminal and git", () => {
  it("claims lists alice's claim; release of it is refused to a non-lead; a commit into it is refused naming alice", async () => {
    const m = await bobsMachine();
    const claimed = await tool(m.alice, "claim_paths", { paths: ["src/api/**"], repo: "https://github.com/acme/app", reason: "API refactor" });
    expect(claimed.granted).toHaveLength(1);
    const flags = ["--url", relay.url, "--token", m.bob];

    const listed = await cli(["claims", ...flags], m.env);
    expect(listed.code).toBe(0);
    expect(listed.stdout).toMatch(/^alice holds src\/api \(exclusive, github\.com\/acme\/app\) until \d\d:\d\d UTC, [\d a-z]+ from now: "API refactor"\n$/);
    const json = JSON.parse((await cli(["claims", "--json", ...flags], m.env)).stdout) as { peer: string; claims: unknown[] };
    expect(json).toMatchObject({ peer: "bob", claims: [{ peer: "alice", pattern: "src/api" }] });

    const release = await cli(["release", "--peer", "alice", ...flags], m.env);
    expect(release.code).toBe(3);
    expect(release.stderr).toMatch(/Only a lead may release another peer's claims/);

    const installed = await cli(["guard", "install", ...flags], m.env, m.dir);
    expect(installed.code, installed.stderr).toBe(0);
    expect(installed.stdout).toContain("pre-commit: relay guard installed");
    expect((await cli(["guard", "status", "--json"], m.env, m.dir)).stdout).toContain('"state":"ours"');

    writeFileSync(join(m.dir, "src", "api", "server.ts"), "export const port = 2;\n");
    writeFileSync(join(m.dir, "docs", "guide.md"), "New guide.\n");
    m.git("add", ".");
    let refused = "";
    try {
      m.git("commit", "-q", "-m", "both");
    } catch (error) {
      refused = (error as { stderr: string }).stderr;
    }
    expect(refused).toContain("relay guard: This commit touches paths inside another peer's exclusive claim");
    expect(refused).toContain('alice holds src/api (exclusive, github.com/acme/app)');
    m.git("restore", "--staged", "src/api/server.ts");
    m.git("commit", "-q", "-m", "docs only");
    expect(m.git("log", "--format=%s", "-1").trim()).toBe("docs only");

    // Once alice releases it, the same commit goes through.
    await tool(m.alice, "release_paths", {});
    m.git("add", ".");
    const api = m.git("commit", "-m", "api");
    expect(api).toContain("1 file changed");
    expect((await cli(["claims", ...flags], m.env)).stdout).toBe("no live claims\n");
  });
});

describe.skipIf(!version)(`the claims guard that \`hooks install\` adds, in Claude Code (${version}), offline`, () => {
  let model: ModelStandin;
  /** The file each prompt reads then edits, keyed by the prompt's text. */
  const edits = new Map<string, { file: string; from: string; to: string }>();

  const toolResults = (request: RecordedRequest): ContentBlock[] =>
    request.body.messages.flatMap((m) => (typeof m.content === "string" ? [] : m.content.filter((b) => b.type === "tool_result")));

  beforeAll(async () => {
    model = await startModelStandin((request) => {
      const first = request.body.messages.find((m) => m.role === "user");
      const prompt = first ? (typeof first.content === "string" ? first.content : first.content.map((b) => b.text ?? "").join("\n")) : "";
      const edit = [...edits].find(([text]) => prompt.includes(text))?.[1];
      if (!edit || (request.body.tools ?? []).length === 0) return { text: "OK." };
      // Claude Code's Edit needs the file read first: Read, then Edit, then done.
      switch (toolResults(request).length) {
        case 0:
          return { tool: "Read", input: { file_path: edit.file } };
        case 1:
          return { tool: "Edit", input: { file_path: edit.file, old_string: edit.from, new_string: edit.to } };
        default:
          return { text: "Done." };
      }
    });
  });
  afterAll(async () => {
    await model?.stop();
  });

  it("an Edit inside alice's claim is refused with her name reaching the model; an Edit inside bob's own claim goes through", async () => {
    const m = await bobsMachine();
    await tool(m.alice, "claim_paths", { paths: ["src/api"], reason: "API refactor" });
    expect((await tool(m.bob, "claim_paths", { paths: ["docs/*.md"] })).granted).toHaveLength(1);
    const installed = await cli(["hooks", "install", "--project", m.dir, "--url", relay.url, "--token", m.bob], m.env, m.dir);
    expect(installed.code, installed.stderr).toBe(0);

    const env = claudeEnv(m.home, m.dir, model.url, { XDG_CONFIG_HOME: m.env.XDG_CONFIG_HOME! });
    const prompt = async (text: string, edit: { file: string; from: string; to: string }) => {
      edits.set(text, edit);
      const from = model.requests.length;
      await run("claude", ["-p", text, "--allowedTools", "Read", "Edit"], { cwd: m.dir, env, timeout: 120_000 });
      return model.requests.slice(from);
    };

    const server = join(m.dir, "src", "api", "server.ts");
    const blocked = await prompt("Change the port.", { file: server, from: "port = 1", to: "port = 3" });
    expect(readFileSync(server, "utf8")).toBe("export const port = 1;\n");
    const results = blocked.flatMap(toolResults);
    const denied = results.find((b) => b.is_error === true);
    const text = typeof denied?.content === "string" ? denied.content : (denied?.content ?? []).map((b) => b.text ?? "").join("\n");
    expect(text).toContain("PreToolUse:Edit hook error");
    expect(text).toContain("src/api/server.ts is inside another peer's exclusive claim");
    expect(text).toContain('alice holds src/api (exclusive, every repository)');
    expect(text).toContain("Ask alice with ask_peer");

    const guide = join(m.dir, "docs", "guide.md");
    await prompt("Update the guide.", { file: guide, from: "Old guide.", to: "New guide." });
    expect(readFileSync(guide, "utf8")).toBe("New guide.\n");
  });
});

describe("the claims in the web room", () => {
  it("a person sees who holds what, where, until when and why; no Release while the holder is active", async () => {
    const m = await bobsMachine();
    await tool(m.alice, "claim_paths", { paths: ["src/api"], repo: "github.com/acme/app", reason: "API refactor" });
    const browser = await launchBrowser();
    try {
      const person = await signIn(browser, linkFor(relay.url, m.group, await mintAs(m.group, "dana", "lead")));
      const item = person.page.locator("#claims li", { hasText: "src/api" });
      await item.waitFor({ timeout: 15_000 });
      const text = await item.textContent();
      expect(text).toContain("alice");
      expect(text).toContain("exclusive · github.com/acme/app · until");
      expect(text).toContain("API refactor");
      expect(await item.getByRole("button", { name: /Release/ }).count()).toBe(0);
      await person.context.close();
    } finally {
      await browser.close();
    }
  });
});

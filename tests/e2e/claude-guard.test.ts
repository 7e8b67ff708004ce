/**
 * The claims guard inside the real Claude Code CLI (headless, `claude -p`), offline: the model is
 * the local stand-in (tests/helpers/model-standin.ts) issuing Write and Bash tool calls, and the
 * project's PreToolUse hook runs the standalone guard (local-bridge/guard/main.ts) against a
 * claims cache in which alice holds src/api exclusively.
 *
 * - A Write inside alice's claim is stopped: nothing is written, and the model's next request
 *   carries the hook's reason (who, what, why, what to do) as the tool's error.
 * - A Write elsewhere goes through.
 * - `git stash` is stopped the same way, and the work it would have put away stays.
 * - Without a claims cache the Write goes through (the guard fails open).
 *
 * Needs `claude` on PATH; skipped, saying so, where it is absent.
 */
import { execFile, execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GUARD_MATCHER } from "../../local-bridge/guard/decide.ts";
import { writeClaimsCache } from "../../local-bridge/guard/source.ts";
import { claudeEnv, claudeVersion, type ContentBlock, type ModelStandin, type RecordedRequest, type Reply, startModelStandin } from "../helpers/model-standin.ts";

const run = promisify(execFile);
const version = claudeVersion("claude-guard.test.ts");
const MAIN = join(import.meta.dirname, "..", "..", "local-bridge", "guard", "main.ts");
const quote = (word: string) => `'${word.replace(/'/g, `'\\''`)}'`;

let model: ModelStandin;

/** The tool call each prompt asks for, keyed by the prompt's text. */
const calls = new Map<string, Reply>();

/** The tool_result block of the request's last user message, if it carries one. */
function toolResult(request: RecordedRequest): ContentBlock | undefined {
  const last = [...request.body.messages].reverse().find((m) => m.role === "user");
  return typeof last?.content === "string" ? undefined : last?.content.find((b) => b.type === "tool_result");
}

function resultText(block: ContentBlock): string {
  return typeof block.content === "string" ? block.content : (block.content ?? []).map((b) => b.text ?? "").join("\n");
}

/** A git project whose PreToolUse hook runs the guard with `claimsFile`. */
function project(claimsFile: string) {
  const home = mkdtempSync(join(tmpdir(), "claude-guard-"));
  const dir = join(home, "project");
  mkdirSync(join(dir, "src", "api"), { recursive: true });
  mkdirSync(join(dir, "docs"));
  const git = (...args: string[]) => execFileSync("git", args, { cwd: dir, encoding: "utf8" });
  git("init", "-q", "-b", "main");
  git("config", "user.email", "bob@example.com");
  git("config", "user.name", "bob");
  writeFileSync(join(dir, "src", "api", "server.ts"), "original\n");
  git("add", ".");
  git("commit", "-q", "-m", "start");
  git("remote", "add", "origin", "git@github.com:acme/app.git");
  const command = [process.execPath, MAIN, "--claims-file", claimsFile, "tool"].map(quote).join(" ");
  mkdirSync(join(dir, ".claude"));
  writeFileSync(
    join(dir, ".claude", "settings.json"),
    JSON.stringify({ hooks: { PreToolUse: [{ matcher: GUARD_MATCHER, hooks: [{ type: "command", command, timeout: 60 }] }] } }),
  );
  const env = claudeEnv(home, dir, model.url);
  return {
    dir,
    prompt: (text: string, reply: Reply) => {
      calls.set(text, reply);
      const from = model.requests.length;
      return run("claude", ["-p", text, "--allowedTools", "Write", "Bash"], { cwd: dir, env, timeout: 120_000 }).then(() => model.requests.slice(from));
    },
  };
}

function claimsCache(): string {
  const file = join(mkdtempSync(join(tmpdir(), "claude-guard-claims-")), "claims.json");
  writeClaimsCache(file, {
    peer: "bob",
    claims: [
      {
        peer: "alice",
        repo: "github.com/acme/app",
        pattern: "src/api",
        exclusive: true,
        reason: "API refactor",
        claimed_at: new Date().toISOString(),
        expires_at: new Date(Date.now() + 3_600_000).toISOString(),
      },
    ],
  });
  return file;
}

describe.skipIf(!version)(`the claims guard in Claude Code (${version}), offline`, () => {
  beforeAll(async () => {
    model = await startModelStandin((request) => {
      if (toolResult(request)) return { text: "Done." };
      const first = request.body.messages.find((m) => m.role === "user");
      const prompt = first ? (typeof first.content === "string" ? first.content : first.content.map((b) => b.text ?? "").join("\n")) : "";
      for (const [text, reply] of calls) if (prompt.includes(text) && (request.body.tools ?? []).length > 0) return reply;
      return { text: "OK." };
    });
  });
  afterAll(async () => {
    await model?.stop();
  });

  it("stops a Write inside another peer's claim with a reason the model can act on; lets a Write elsewhere through", async () => {
    const { dir, prompt } = project(claimsCache());
    const blocked = await prompt("Add the health route.", { tool: "Write", input: { file_path: join(dir, "src", "api", "health.ts"), content: "export {};\n" } });
    expect(existsSync(join(dir, "src", "api", "health.ts"))).toBe(false);
    const result = blocked.map(toolResult).find((b) => b !== undefined)!;
    expect(result.is_error).toBe(true);
    const text = resultText(result);
    expect(text).toContain("PreToolUse:Write hook error");
    expect(text).toContain("src/api/health.ts is inside another peer's exclusive claim");
    expect(text).toContain('alice holds src/api (exclusive, github.com/acme/app)');
    expect(text).toContain('"API refactor"');
    expect(text).toContain("Ask alice with ask_peer");

    await prompt("Write the notes.", { tool: "Write", input: { file_path: join(dir, "docs", "notes.md"), content: "notes\n" } });
    expect(readFileSync(join(dir, "docs", "notes.md"), "utf8")).toBe("notes\n");
  });

  it("stops git stash while alice holds a claim here, and the work stays", async () => {
    const { dir, prompt } = project(claimsCache());
    writeFileSync(join(dir, "src", "api", "server.ts"), "alice's unsaved work\n");
    const turns = await prompt("Put my changes aside.", { tool: "Bash", input: { command: "git stash", description: "Stash changes" } });
    const result = turns.map(toolResult).find((b) => b !== undefined)!;
    expect(resultText(result)).toContain("`git stash` would discard or set aside uncommitted work across the whole tree");
    expect(readFileSync(join(dir, "src", "api", "server.ts"), "utf8")).toBe("alice's unsaved work\n");
  });

  it("fails open: with no claims cache the Write goes through", async () => {
    const { dir, prompt } = project(join(tmpdir(), "no-such-claims", "claims.json"));
    await prompt("Add the status route.", { tool: "Write", input: { file_path: join(dir, "src", "api", "status.ts"), content: "export {};\n" } });
    expect(existsSync(join(dir, "src", "api", "status.ts"))).toBe(true);
  });
});

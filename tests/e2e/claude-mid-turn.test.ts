/**
 * Mid-turn mail in the real Claude Code CLI (headless, `claude -p`), offline against the model
 * stand-in and the real relay, with the hooks `relay-bridge hooks install` writes and no bridge
 * (so the PostToolUse hook asks the relay). The stand-in takes a long turn of several Bash calls;
 * an urgent DM and a plain DM are sent after the first call. The urgent one reaches the model in a
 * later request of the SAME turn as PostToolUse context (id and sender, never its text), once; the
 * plain one does not. The sender's message_status then says "announced".
 *
 * Needs `claude` on PATH; skipped, saying so, where it is absent.
 */
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { execFile, execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CLI } from "../helpers/bridge-process.ts";
import { allText, claudeEnv, claudeVersion, isSessionTurn, startModelStandin, type ModelStandin, type RecordedRequest } from "../helpers/model-standin.ts";
import { callTool as call, relayClient } from "../helpers/relay-client.ts";
import { sharedRelay, type SharedRelay } from "../helpers/shared-relay.ts";

const run = promisify(execFile);
const version = claudeVersion("claude-mid-turn.test.ts");

let relay: SharedRelay;
let model: ModelStandin;
const clients: Client[] = [];

/** Tool results the conversation holds so far: how far into the long turn this request is. */
function toolResults(request: RecordedRequest): number {
  return request.body.messages
    .filter((m) => m.role === "user" && typeof m.content !== "string")
    .flatMap((m) => m.content as { type: string }[])
    .filter((b) => b.type === "tool_result").length;
}

describe.skipIf(!version)(`mid-turn mail in Claude Code (${version}), offline`, () => {
  beforeAll(async () => {
    [relay, model] = await Promise.all([sharedRelay(), startModelStandin()]);
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await model?.stop();
  });

  it("an urgent DM reaches a busy session's model within the turn; a plain DM waits", async () => {
    const group = "mid-turn";
    const home = mkdtempSync(join(tmpdir(), "claude-midturn-"));
    const project = join(home, "project");
    mkdirSync(project);
    const env = claudeEnv(home, project, model.url, { XDG_CONFIG_HOME: join(home, ".config"), XDG_STATE_HOME: join(home, ".state") });
    const bobToken = await relay.mint(group, "bob");
    const aliceToken = await relay.mint(group, "alice");
    const carolToken = await relay.mint(group, "carol");
    await run("claude", ["mcp", "add", "--transport", "http", "relay", `${relay.url}/mcp`, "--header", `Authorization: Bearer ${bobToken}`], { cwd: project, env });
    await run(process.execPath, [CLI, "hooks", "install", "--project", project, "--url", relay.url, "--token", bobToken], { cwd: project, env });
    // Generous bounds for a loaded machine (hooks run from the TypeScript sources); timing is the bench's.
    const settingsFile = join(project, ".claude", "settings.local.json");
    const settings = JSON.parse(readFileSync(settingsFile, "utf8")) as { hooks: Record<string, { hooks: { command: string; timeout: number }[] }[]> };
    expect(Object.keys(settings.hooks)).toContain("PostToolUse");
    for (const entry of Object.values(settings.hooks).flat()) {
      for (const hook of entry.hooks) Object.assign(hook, { command: `${hook.command} --timeout-ms 20000`, timeout: 60 });
    }
    writeFileSync(settingsFile, JSON.stringify(settings, null, 2));
    const bob = await relayClient(relay.url, bobToken);
    const carol = await relayClient(relay.url, carolToken);
    clients.push(bob, carol);
    await call(bob, "list_peers");

    // Four Bash calls, then the end of the turn. The mail is sent when the model asks for the
    // second call, so the first call's hook has nothing and a later one has the urgent DM.
    let urgentId = "";
    let plainId = "";
    model.setScript((request) => {
      if (!isSessionTurn(request)) return { text: "title" };
      const done = toolResults(request);
      if (done === 1 && !urgentId) {
        const sendDm = (token: string, text: string, urgent: boolean) =>
          JSON.parse(
            execFileSync(process.execPath, [CLI, "dm", "bob", text, ...(urgent ? ["--urgent"] : []), "--json", "--url", relay.url, "--token", token], { env, timeout: 60_000 }).toString(),
          ) as { id: string };
        plainId = sendDm(aliceToken, "lunch later?", false).id;
        urgentId = sendDm(carolToken, "prod deploy is failing, stop merging", true).id;
      }
      if (done < 4) return { tool: "Bash", input: { command: `echo step ${done + 1}`, description: `step ${done + 1}` } };
      return { text: "Done." };
    });

    const from = model.requests.length;
    await run("claude", ["-p", "Run the four-step task.", "--allowedTools", "mcp__relay", "Bash"], { cwd: project, env, timeout: 200_000 });
    const turns = model.requests.slice(from).filter(isSessionTurn);
    expect(urgentId).toMatch(/^m_/);

    const last = allText(turns.at(-1)!);
    const line = `PostToolUse:Bash hook additional context: [relay] Mail that cannot wait: urgent DM ${urgentId} from carol`;
    expect(last).toContain(line);
    // Once, within this one turn (the prompt's), and never the text or the plain DM.
    expect(last.split(line).length - 1).toBe(1);
    expect(turns.some((t) => toolResults(t) < 4 && allText(t).includes(line))).toBe(true);
    expect(last).not.toContain("prod deploy is failing");
    expect(last).not.toContain(plainId);

    const status = await call(carol, "message_status", { id: urgentId });
    expect(status.recipients).toEqual([{ peer: "bob", state: "announced", at: expect.any(String) }]);
    // The same, for a person: relay-bridge status ID.
    const cli = (await run(process.execPath, [CLI, "status", urgentId, "--url", relay.url, "--token", carolToken], { env })).stdout;
    expect(cli).toMatch(/^bob: announced \d\d:\d\d$/m);
  }, 300_000);
});

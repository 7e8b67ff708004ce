/**
 * The one hook program speaks each client's dialect: the event name it expects back, the relay's
 * tools as that client names them, and the relay's URL and token from the Claude Code plugin's
 * options when no profile is named.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { signToken } from "../../contract/token.ts";
import { clientHooks, clientOutput, hookTargetFromEnv } from "../../local-bridge/hooks/clients.ts";

const START = { hookSpecificOutput: { hookEventName: "SessionStart", additionalContext: "[relay] … tools (mcp__relay__*), …" } };

describe("clientOutput", () => {
  it("keeps Claude Code's shape and names the plugin's tools inside the plugin", () => {
    expect(clientOutput("claude", "session-start", START)).toEqual(START);
    expect(JSON.stringify(clientOutput("claude", "session-start", START, true))).toContain("(mcp__plugin_relay_relay__*)");
  });

  it("maps Gemini's events and tool names", () => {
    const prompt = { hookSpecificOutput: { hookEventName: "UserPromptSubmit", additionalContext: "x (mcp__relay__*)" } };
    expect(clientOutput("gemini", "prompt", prompt)).toEqual({ hookSpecificOutput: { hookEventName: "BeforeAgent", additionalContext: "x (mcp_relay_*)" } });
    expect(clientOutput("gemini", "stop", { decision: "block", reason: "r" })).toEqual({ decision: "block", reason: "r" });
    expect(clientHooks("gemini").map((h) => h.event)).toEqual(expect.arrayContaining(["SessionStart", "BeforeAgent", "AfterAgent"]));
  });

  it("names Codex's tool namespace", () => {
    expect(JSON.stringify(clientOutput("codex", "session-start", START))).toContain("(the mcp__relay tools)");
  });
});

describe("hookTargetFromEnv", () => {
  it("reads the plugin's options, then RELAY_URL/RELAY_TOKEN, and says what is missing", async () => {
    const token = await signToken("x".repeat(32), { g: "core", p: "erin", iat: 1 } as never);
    const empty = { XDG_CONFIG_HOME: mkdtempSync(join(tmpdir(), "hook-env-")) };
    expect(hookTargetFromEnv({ ...empty, CLAUDE_PLUGIN_OPTION_URL: "https://r.example", CLAUDE_PLUGIN_OPTION_TOKEN: token })).toMatchObject({ baseUrl: "https://r.example", peer: "erin", group: "core" });
    expect(hookTargetFromEnv({ ...empty, RELAY_URL: "https://s.example", RELAY_TOKEN: token })).toMatchObject({ baseUrl: "https://s.example" });
    expect(() => hookTargetFromEnv(empty)).toThrow(/no relay URL/);
  });
});

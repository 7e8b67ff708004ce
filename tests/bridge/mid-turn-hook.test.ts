/**
 * The PostToolUse hook's local path: where a bridge runs, the hook answers from the file the
 * bridge keeps (core/pressing-file.ts) without asking the relay, here one that does not even
 * answer. Urgent mail and questions are announced once per Claude session; plain mail never; mail
 * read meanwhile is dropped; a file whose bridge is not connected (or gone) is not trusted.
 */
import { spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { NoticeFrame } from "../../contract/frames.ts";
import { signToken } from "../../contract/token.ts";
import { configPath, saveTarget } from "../../local-bridge/core/config-file.ts";
import { PressingBoard, readPressingFile } from "../../local-bridge/core/pressing-file.ts";
import { midTurnLine } from "../../local-bridge/hooks/mid-turn.ts";
import { CLI } from "../helpers/bridge-process.ts";
import { TEST_SECRET } from "../test-secret.ts";

/** Nothing listens here: a hook that asked the relay would get nothing back. */
const DEAD_URL = "http://127.0.0.1:9";

function runHook(dir: string, sessionId: string, toolName = "Bash"): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, "hook", "tool", "--profile", "bob@core"], {
      env: { ...process.env, XDG_STATE_HOME: dir, XDG_CONFIG_HOME: dir },
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk) => (stdout += chunk));
    child.stderr.on("data", (chunk) => (stderr += chunk));
    child.on("close", (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(JSON.stringify({ session_id: sessionId, hook_event_name: "PostToolUse", tool_name: toolName }));
  });
}

const notice = (seq: number, kind: NoticeFrame["kind"], urgent: boolean, from: string): NoticeFrame => ({ type: "notice", seq, id: `m_${String(seq).padStart(16, "0")}`, from, kind, urgent });

describe("the PostToolUse hook beside a bridge", () => {
  it("announces urgent mail and questions once per session from the bridge's file, never plain mail", async () => {
    const dir = mkdtempSync(join(tmpdir(), "midturn-"));
    const token = await signToken(TEST_SECRET, { g: "core", p: "bob", iat: Date.now() });
    saveTarget({ baseUrl: DEAD_URL, group: "core", peer: "bob", token }, configPath({ XDG_CONFIG_HOME: dir }));
    const key = { url: DEAD_URL, group: "core", peer: "bob" };
    const stateDir = join(dir, "claude-relay");
    const board = new PressingBoard(key, stateDir);

    board.noticed(notice(5, "dm", false, "alice"));
    // Not connected yet: the file is not trusted (the hook would ask the relay, which is down).
    expect(readPressingFile(key, stateDir)).toBeNull();
    board.setConnected(true);
    expect(readPressingFile(key, stateDir)).toEqual([]);
    expect((await runHook(dir, "s1")).stdout).toBe("");

    board.noticed(notice(6, "dm", true, "carol"));
    board.noticed(notice(7, "question", false, "dave"));
    const first = await runHook(dir, "s1");
    expect(first.code).toBe(0);
    expect(JSON.parse(first.stdout)).toEqual({
      hookSpecificOutput: {
        hookEventName: "PostToolUse",
        additionalContext: midTurnLine([
          { seq: 6, id: "m_0000000000000006", from: "carol", kind: "dm", urgent: true },
          { seq: 7, id: "m_0000000000000007", from: "dave", kind: "question", urgent: false },
        ]),
      },
    });
    expect(first.stdout).toContain("urgent DM m_0000000000000006 from carol; question m_0000000000000007 from dave");
    // Once per session; another session hears it too; a relay tool's own hook says nothing.
    expect((await runHook(dir, "s1")).stdout).toBe("");
    expect((await runHook(dir, "s2", "mcp__relay__read_new_messages")).stdout).toBe("");
    expect((await runHook(dir, "s2")).stdout).toContain("m_0000000000000006");

    // Read elsewhere: gone from the file, so a fresh session hears nothing.
    board.read({ type: "read", through_seq: 7 });
    expect((await runHook(dir, "s3")).stdout).toBe("");
    board.noticed(notice(9, "group", true, "erin"));
    expect((await runHook(dir, "s3")).stdout).toContain("urgent group message m_0000000000000009 from erin");

    board.setConnected(false);
    expect(readPressingFile(key, stateDir)).toBeNull();
  }, 60_000);
});

/** The lines the hooks give Claude: short, exact, and built only from names the relay issued. */
import { describe, expect, it } from "vitest";
import type { UnreadSummary } from "../../contract/unread.ts";
import { describeUnread, hookOutput, sessionStartLine } from "../../local-bridge/hooks/hook-command.ts";
import { resolveTarget } from "../../local-bridge/core/config.ts";
import { signToken } from "../../contract/token.ts";
import { TEST_SECRET } from "../test-secret.ts";

const none: UnreadSummary = { total: 0, dms: 0, questions: [], question_count: 0, dm_from: [], urgent: 0, highest_seq: 0, attention_seq: 0 };

describe("hook lines", () => {
  it("names askers and question ids, DM senders, urgency and broadcasts", () => {
    expect(describeUnread(none)).toBe("no unread mail");
    expect(describeUnread({ ...none, total: 1, questions: [{ id: "m_1a", from: "alice", seq: 4 }], question_count: 1, attention_seq: 4 })).toBe(
      "1 unread (question m_1a from alice)",
    );
    expect(
      describeUnread({
        ...none,
        total: 9,
        questions: [
          { id: "m_1", from: "alice", seq: 1 },
          { id: "m_2", from: "bob", seq: 2 },
        ],
        question_count: 3,
        dms: 2,
        dm_from: ["carol"],
        urgent: 1,
      }),
    ).toBe("9 unread (3 questions (m_1 from alice, m_2 from bob, 1 more), 2 DMs from carol, 1 urgent, 4 group messages)");
  });

  it("cleans names that are not valid names before they reach the model", () => {
    const line = describeUnread({ ...none, total: 1, dms: 1, dm_from: ["$(rm -rf ~)\n\x1b[31mevil"], attention_seq: 1 });
    expect(line).toBe("1 unread (DM from rm_-rf_evil)");
  });

  it("blocks a stop only for attention mail not raised before", async () => {
    const target = resolveTarget("http://127.0.0.1:1", await signToken(TEST_SECRET, { g: "core", p: "bob", iat: Date.now() }));
    let raised = 0;
    const store = { raisedThrough: () => raised, save: (seq: number) => void (raised = seq) };
    expect(hookOutput("stop", target, { ...none, total: 3, highest_seq: 3 }, store)).toBeNull(); // broadcasts only
    const dm = { ...none, total: 4, dms: 1, dm_from: ["alice"], highest_seq: 4, attention_seq: 4 };
    expect(hookOutput("stop", target, dm, store)).toEqual({ decision: "block", reason: "[relay] 4 unread (DM from alice, 3 group messages). Call read_new_messages." });
    expect(hookOutput("stop", target, dm, store)).toBeNull();
    expect(hookOutput("stop", target, dm, null)).toBeNull(); // no session id: cannot remember, so never blocks
    // Claude Code is continuing because of a Stop hook: never block again, and raise nothing, so the
    // mail that arrived meanwhile blocks the next natural stop instead.
    const later = { ...dm, total: 5, dms: 2, highest_seq: 5, attention_seq: 5 };
    expect(hookOutput("stop", target, later, store, { stop_hook_active: true })).toBeNull();
    expect(raised).toBe(4);
    expect(hookOutput("stop", target, later, store, { stop_hook_active: false })).toMatchObject({ decision: "block" });
    expect(raised).toBe(5);
    // Other hooks are unaffected by it.
    expect(hookOutput("prompt", target, later, null, { stop_hook_active: true })).not.toBeNull();
    expect(sessionStartLine(target, dm)).toBe(
      "[relay] This session is bob in relay group core: 4 unread (DM from alice, 3 group messages). Team messages go through the relay tools (mcp__relay__*), not the built-in SendMessage. Call read_new_messages.",
    );
  });
});

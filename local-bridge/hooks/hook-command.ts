/**
 * `relay-bridge hook session-start|prompt|stop|tool --profile NAME`: what Claude Code runs for the hooks
 * that `relay-bridge hooks install` adds. Each asks the relay for the peer's unread summary (one
 * GET that marks nothing read) and answers in the JSON Claude Code's hooks read on stdout:
 *
 * - session-start: `hookSpecificOutput.additionalContext`, one line: who this session is on the
 *   relay, how much is unread, and that team mail goes through the relay tools.
 * - prompt (UserPromptSubmit): the unread summary as added context, only when something is unread.
 * - stop: `{"decision":"block","reason":…}` once per piece of mail that deserves interrupting (DMs,
 *   questions, urgent mail), remembered per Claude session in a small state file, so the same mail
 *   never blocks twice and nothing unread never blocks. Never while Claude Code is already
 *   continuing because a Stop hook blocked (`stop_hook_active`): each continuation is a paid model
 *   turn, and a peer mailing every few seconds would otherwise keep the session from ever ending
 *   its turn. Mail that arrives then waits for the next natural stop, or the next prompt's context.
 * - tool (PostToolUse): urgent mail and questions, mid-turn; its own module, mid-turn.ts.
 *
 * It fails open: no profile, relay down, slow or refusing: it prints nothing and exits 0 within
 * its time bound, so a relay problem never stands between a person and their session.
 */
import { createHash } from "node:crypto";
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { defaultStateDir } from "../core/ack-store.ts";
import type { UnreadSummary } from "../../contract/unread.ts";
import type { RelayTarget } from "../core/config.ts";
import { loadProfile } from "../core/config.ts";
import { UsageError } from "../core/errors.ts";
import { HOOK_EVENTS, type HookName } from "./hook-events.ts";
import { sanitizeId, sanitizeName } from "../core/notices.ts";
import { midTurnOutput } from "./mid-turn.ts";


/** Whole budget for the relay call: beyond it the hook gives up and prints nothing. */
export const DEFAULT_HOOK_TIMEOUT_MS = 1_500;
/** Stop-hook state files older than this are pruned (a session that old is long over). */
const STATE_MAX_AGE_MS = 14 * 86_400_000;

/** What Claude Code gives a hook on stdin (only the fields used here). */
interface HookInput {
  session_id?: string;
  stop_hook_active?: boolean;
  tool_name?: string;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

/** `2 unread (question m_1 from alice, DM from carol, 1 urgent)`, or `no unread mail`. */
export function describeUnread(summary: UnreadSummary): string {
  if (summary.total === 0) return "no unread mail";
  const parts: string[] = [];
  const questions = summary.questions.map((q) => `${sanitizeId(q.id)} from ${sanitizeName(q.from)}`);
  if (summary.question_count === 1 && questions.length === 1) parts.push(`question ${questions[0]}`);
  else if (summary.question_count > 1) {
    const more = summary.question_count - questions.length;
    parts.push(`${summary.question_count} questions (${questions.join(", ")}${more > 0 ? `, ${more} more` : ""})`);
  }
  if (summary.dms > 0) parts.push(`${summary.dms === 1 ? "DM" : `${summary.dms} DMs`} from ${summary.dm_from.map(sanitizeName).join(", ")}`);
  if (summary.urgent > 0) parts.push(`${summary.urgent} urgent`);
  const broadcasts = summary.total - summary.dms - summary.question_count;
  if (broadcasts > 0) parts.push(plural(broadcasts, "group message"));
  return `${summary.total} unread (${parts.join(", ")})`;
}

export function sessionStartLine(target: Pick<RelayTarget, "group" | "peer">, summary: UnreadSummary): string {
  return (
    `[relay] This session is ${sanitizeName(target.peer)} in relay group ${sanitizeName(target.group)}: ${describeUnread(summary)}. ` +
    `Team messages go through the relay tools (mcp__relay__*), not the built-in SendMessage.` +
    (summary.total > 0 ? " Call read_new_messages." : "")
  );
}

export function unreadLine(summary: UnreadSummary): string {
  return `[relay] ${describeUnread(summary)}. Call read_new_messages.`;
}

/**
 * Asks the relay; null on any failure or after `timeoutMs` (fail open). Plain node:http(s) rather
 * than fetch: loading fetch's implementation costs a fresh process tens of milliseconds, and this
 * runs as a fresh process at every prompt and stop.
 */
export async function fetchUnread(target: RelayTarget, timeoutMs: number): Promise<UnreadSummary | null> {
  const url = new URL(`${target.baseUrl}/groups/${encodeURIComponent(target.group)}/unread`);
  // Imported here, not at the top: bundled into relay-bridge, a top-level import would load the
  // HTTP stack into every idle `connect` bridge too.
  const { get } = url.protocol === "https:" ? await import("node:https") : await import("node:http");
  return new Promise((resolve) => {
    let settled = false;
    const finish = (value: UnreadSummary | null) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      request.destroy();
      resolve(value);
    };
    const timer = setTimeout(() => finish(null), timeoutMs);
    const request = get(url, { headers: { Authorization: `Bearer ${target.token}` }, agent: false }, (response) => {
      if (response.statusCode !== 200) return finish(null);
      let text = "";
      response.setEncoding("utf8");
      response.on("data", (chunk: string) => (text += chunk));
      response.on("end", () => {
        try {
          const body = JSON.parse(text) as UnreadSummary;
          finish(typeof body.total === "number" && typeof body.attention_seq === "number" ? body : null);
        } catch {
          finish(null);
        }
      });
      response.on("error", () => finish(null));
    });
    request.on("error", () => finish(null));
  });
}

/** Per Claude session (and profile): the highest attention seq a Stop hook already raised. */
export class RaisedStore {
  private readonly dir: string;
  private readonly path: string;

  constructor(sessionId: string, profile: string, stateDir = defaultStateDir()) {
    this.dir = join(stateDir, "hooks");
    const hash = createHash("sha256").update(`${profile}\n${sessionId}`).digest("hex").slice(0, 24);
    this.path = join(this.dir, `stop-${hash}.json`);
  }

  raisedThrough(): number {
    try {
      const seq = (JSON.parse(readFileSync(this.path, "utf8")) as { raised_through?: unknown }).raised_through;
      return typeof seq === "number" && Number.isSafeInteger(seq) ? seq : 0;
    } catch {
      return 0;
    }
  }

  save(seq: number): void {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const tmp = `${this.path}.${process.pid}.tmp`;
    writeFileSync(tmp, `${JSON.stringify({ raised_through: seq })}\n`, { mode: 0o600 });
    renameSync(tmp, this.path);
    this.prune();
  }

  private prune(): void {
    const cutoff = Date.now() - STATE_MAX_AGE_MS;
    for (const name of readdirSync(this.dir)) {
      const file = join(this.dir, name);
      try {
        if (statSync(file).mtimeMs < cutoff) rmSync(file, { force: true });
      } catch {
        // Another hook pruned it first.
      }
    }
  }
}

/** The JSON a hook prints, or null for "print nothing". */
export function hookOutput(
  hook: HookName,
  target: RelayTarget,
  summary: UnreadSummary,
  raised: Pick<RaisedStore, "raisedThrough" | "save"> | null,
  input: Pick<HookInput, "stop_hook_active"> = {},
): object | null {
  switch (hook) {
    case "session-start":
      return { hookSpecificOutput: { hookEventName: "SessionStart", additionalContext: sessionStartLine(target, summary) } };
    case "prompt":
      return summary.total > 0 ? { hookSpecificOutput: { hookEventName: "UserPromptSubmit", additionalContext: unreadLine(summary) } } : null;
    case "stop": {
      // Already continuing because of a block: never again in this chain, and nothing is marked
      // raised, so the mail still blocks the next natural stop.
      if (input.stop_hook_active === true) return null;
      // Broadcasts alone never hold a session back; DMs, questions and urgent mail do, once.
      if (!raised || summary.attention_seq === 0 || summary.attention_seq <= raised.raisedThrough()) return null;
      raised.save(summary.attention_seq);
      return { decision: "block", reason: unreadLine(summary) };
    }
    case "tool":
      // Answered by mid-turn.ts before any summary is fetched (runHook).
      return null;
  }
}

/** Reads stdin to its end, or gives up after `timeoutMs` with what it has. */
function readStdin(timeoutMs: number): Promise<string> {
  if (process.stdin.isTTY) return Promise.resolve("");
  return new Promise((resolve) => {
    let text = "";
    const done = () => {
      clearTimeout(timer);
      process.stdin.pause();
      resolve(text);
    };
    const timer = setTimeout(done, timeoutMs);
    process.stdin.setEncoding("utf8");
    process.stdin.on("data", (chunk: string) => (text += chunk));
    process.stdin.once("end", done);
    process.stdin.once("error", done);
  });
}

function parseInput(text: string): HookInput {
  try {
    const parsed = JSON.parse(text) as unknown;
    return typeof parsed === "object" && parsed !== null ? (parsed as HookInput) : {};
  } catch {
    return {};
  }
}

export async function runHook(args: string[]): Promise<number> {
  const [name, ...rest] = args;
  if (!name || !(name in HOOK_EVENTS)) {
    throw new UsageError(`say which hook: relay-bridge hook ${Object.keys(HOOK_EVENTS).join("|")} --profile NAME`);
  }
  const hook = name as HookName;
  const { values } = parseArgs({
    args: rest,
    options: { profile: { type: "string" }, "timeout-ms": { type: "string" } },
    strict: true,
  });
  const started = Date.now();
  const budget = Number(values["timeout-ms"] ?? DEFAULT_HOOK_TIMEOUT_MS);
  const input = parseInput(await readStdin(Math.min(500, budget)));
  // The Stop hook's rule needs no relay call here: it never blocks a continuation (hookOutput).
  if (hook === "stop" && input.stop_hook_active === true) return 0;
  let target: RelayTarget;
  try {
    target = loadProfile(values.profile ?? "");
  } catch (error) {
    // Misconfigured: say so where Claude Code's debug output shows it, and let the session go on.
    process.stderr.write(`relay-bridge hook: ${(error as Error).message}\n`);
    return 0;
  }
  if (hook === "tool") {
    // After a relay tool the mail may just have been read; the next tool call looks again.
    if (input.tool_name?.startsWith("mcp__relay__")) return 0;
    const output = await midTurnOutput(target, { sessionId: input.session_id ?? "", profile: values.profile ?? "", budgetMs: Math.max(50, budget - (Date.now() - started)) });
    if (output) process.stdout.write(`${JSON.stringify(output)}\n`);
    return 0;
  }
  const summary = await fetchUnread(target, Math.max(50, budget - (Date.now() - started)));
  if (!summary) return 0;
  const raised = hook === "stop" && input.session_id ? new RaisedStore(input.session_id, values.profile ?? "") : null;
  const output = hookOutput(hook, target, summary, raised, input);
  if (output) process.stdout.write(`${JSON.stringify(output)}\n`);
  return 0;
}

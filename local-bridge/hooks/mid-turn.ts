/**
 * `relay-bridge hook tool`: the PostToolUse hook. Claude Code runs it after every tool call, so a
 * session deep in a long turn hears of mail that cannot wait (unread urgent mail, or a question
 * addressed to it) before the turn ends, as one line of added context: names, kinds and ids, never
 * message text. Plain mail waits for the Stop hook or the idle notice, as before.
 *
 * It runs after every tool call, so it must cost next to nothing:
 * - where a bridge runs, it answers from the small file the bridge keeps (core/pressing-file.ts);
 * - otherwise it asks the relay (GET /groups/:group/pressing) at most once per CACHE_MS, and
 *   answers from the last answer in between.
 * Each piece of mail is announced once per Claude session (the highest seq announced is kept in a
 * state file), and the relay is told it was announced (POST /groups/:group/announced), which the
 * sender sees in message_status. It fails open: any problem prints nothing.
 */
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { PressingMail } from "../../contract/receipts.ts";
import { defaultStateDir } from "../core/ack-store.ts";
import type { RelayTarget } from "../core/config.ts";
import { sanitizeId, sanitizeName } from "../core/notices.ts";
import { readPressingFile } from "../core/pressing-file.ts";

/** How long an answer from the relay is reused before the hook asks again. */
export const CACHE_MS = 3_000;

function hashed(...parts: string[]): string {
  return createHash("sha256").update(parts.join("\n")).digest("hex").slice(0, 24);
}

function readJson<T>(path: string): Partial<T> | null {
  try {
    return JSON.parse(readFileSync(path, "utf8")) as Partial<T>;
  } catch {
    return null;
  }
}

function writeJson(dir: string, path: string, value: unknown): void {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const tmp = `${path}.${process.pid}.tmp`;
    writeFileSync(tmp, `${JSON.stringify(value)}\n`, { mode: 0o600 });
    renameSync(tmp, path);
  } catch {
    // Best effort: without it the next call asks again or may repeat one line.
  }
}

/** One HTTP exchange with the relay, node:http(s) for a fast start; null on any failure or after `timeoutMs`. */
async function relayJson(target: RelayTarget, method: "GET" | "POST", path: string, body: unknown, timeoutMs: number): Promise<unknown> {
  const url = new URL(`${target.baseUrl}/groups/${encodeURIComponent(target.group)}/${path}`);
  const { request } = url.protocol === "https:" ? await import("node:https") : await import("node:http");
  return new Promise((resolve) => {
    let settled = false;
    const finish = (value: unknown) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.destroy();
      resolve(value);
    };
    const timer = setTimeout(() => finish(null), timeoutMs);
    const headers: Record<string, string> = { Authorization: `Bearer ${target.token}` };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const req = request(url, { method, headers, agent: false }, (response) => {
      let text = "";
      response.setEncoding("utf8");
      response.on("data", (chunk: string) => (text += chunk));
      response.on("end", () => {
        try {
          finish(response.statusCode === 200 ? JSON.parse(text) : null);
        } catch {
          finish(null);
        }
      });
      response.on("error", () => finish(null));
    });
    req.on("error", () => finish(null));
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

/** The relay's answer, reused for CACHE_MS per profile so a burst of tool calls asks once. */
async function askRelay(target: RelayTarget, profile: string, stateDir: string, timeoutMs: number, now: number): Promise<PressingMail[] | null> {
  const dir = join(stateDir, "hooks");
  const path = join(dir, `pressing-cache-${hashed(profile, target.baseUrl, target.group, target.peer)}.json`);
  const cached = readJson<{ at: number; pressing: PressingMail[] }>(path);
  if (cached && typeof cached.at === "number" && now - cached.at < CACHE_MS && now >= cached.at && Array.isArray(cached.pressing)) return cached.pressing;
  const answer = (await relayJson(target, "GET", "pressing", undefined, timeoutMs)) as { pressing?: unknown } | null;
  if (!answer || !Array.isArray(answer.pressing)) return null;
  const pressing = answer.pressing as PressingMail[];
  writeJson(dir, path, { at: now, pressing });
  return pressing;
}

/** The mail one Claude session has already been told about mid-turn. */
export class AnnouncedStore {
  private readonly dir: string;
  private readonly path: string;

  constructor(sessionId: string, profile: string, stateDir = defaultStateDir()) {
    this.dir = join(stateDir, "hooks");
    this.path = join(this.dir, `tool-${hashed(profile, sessionId)}.json`);
  }

  announcedThrough(): number {
    const seq = readJson<{ announced_through: number }>(this.path)?.announced_through;
    return typeof seq === "number" && Number.isSafeInteger(seq) ? seq : 0;
  }

  save(seq: number): void {
    writeJson(this.dir, this.path, { announced_through: seq });
  }
}

/** `[relay] Mail that cannot wait: urgent DM m_1 from carol; question m_2 from alice. ...` */
export function midTurnLine(mail: readonly PressingMail[]): string {
  const parts = mail.map((m) => {
    const what = m.kind === "question" ? "question" : m.kind === "dm" ? "DM" : "group message";
    return `${m.urgent ? "urgent " : ""}${what} ${sanitizeId(m.id)} from ${sanitizeName(m.from)}`;
  });
  const answer = mail.some((m) => m.kind === "question") ? " Answer a question with send_dm to its sender, reply_to its id." : "";
  return `[relay] Mail that cannot wait: ${parts.join("; ")}. Read it now with read_new_messages, then carry on with your task.${answer}`;
}

export interface MidTurnOptions {
  sessionId: string;
  profile: string;
  budgetMs: number;
  stateDir?: string;
  now?: number;
}

/** The PostToolUse hook's JSON, or null to print nothing. */
export async function midTurnOutput(target: RelayTarget, options: MidTurnOptions): Promise<object | null> {
  const stateDir = options.stateDir ?? defaultStateDir();
  const started = Date.now();
  const now = options.now ?? started;
  const pressing =
    readPressingFile({ url: target.baseUrl, group: target.group, peer: target.peer }, stateDir) ??
    (await askRelay(target, options.profile, stateDir, options.budgetMs, now));
  if (!pressing || pressing.length === 0) return null;
  const announced = new AnnouncedStore(options.sessionId, options.profile, stateDir);
  const fresh = pressing.filter((m) => m.seq > announced.announcedThrough());
  if (fresh.length === 0) return null;
  announced.save(Math.max(...fresh.map((m) => m.seq)));
  // The sender's receipt; bounded, and the line is printed whether or not the relay heard.
  await relayJson(target, "POST", "announced", { seqs: fresh.map((m) => m.seq) }, Math.max(50, options.budgetMs - (Date.now() - started)));
  return { hookSpecificOutput: { hookEventName: "PostToolUse", additionalContext: midTurnLine(fresh) } };
}

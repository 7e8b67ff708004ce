/**
 * The UserPromptSubmit hook's word to the relay that a person typed a prompt into this Claude Code
 * session: the chains the session is in get a fresh budget, and its next message starts afresh
 * (docs/chains.md). The bridge types its notices into the same input box, so a prompt that is one
 * of its notices is no person speaking and is not reported.
 */
import type { RelayTarget } from "../core/config.ts";

/** What relay-bridge types into a pane (core/notices.ts renderLine) starts with this. */
const NOTICE_PREFIX = "[relay]";

export function isPersonPrompt(prompt: unknown): boolean {
  return typeof prompt === "string" && prompt.trim().length > 0 && !prompt.trimStart().startsWith(NOTICE_PREFIX);
}

/**
 * Tells the relay; resolves when it answered or after `timeoutMs`, whatever happened (fail open: a
 * relay problem never stands between a person and their session). Plain node:http(s), as
 * fetchUnread, for a fresh process's start-up time.
 */
export async function tellPersonSpoke(target: RelayTarget, timeoutMs: number): Promise<boolean> {
  const url = new URL(`${target.baseUrl}/g/${encodeURIComponent(target.group)}/api/chains/person-spoke`);
  const { request } = url.protocol === "https:" ? await import("node:https") : await import("node:http");
  return new Promise((resolve) => {
    let settled = false;
    const finish = (told: boolean) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      post.destroy();
      resolve(told);
    };
    const timer = setTimeout(() => finish(false), timeoutMs);
    const post = request(url, { method: "POST", headers: { Authorization: `Bearer ${target.token}`, "Content-Length": 0 }, agent: false }, (response) => {
      response.resume();
      response.on("end", () => finish(response.statusCode === 200));
      response.on("error", () => finish(false));
    });
    post.on("error", () => finish(false));
    post.end();
  });
}

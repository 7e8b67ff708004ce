/**
 * Where the guards get the group's claims. A guard runs as a fresh process on every edit, Bash
 * call, commit and push, so it asks through a small interface: the relay (one GET), or a cache
 * file a running bridge keeps fresh. Either may fail; the guards then let the action through and
 * say why (they fail open: a relay problem never stops a person's work).
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import * as z from "zod/mini";
import type { Claim } from "../../contract/claim-rules.ts";
import { ClaimsViewRecord } from "../../contract/claim-record.ts";

/** What a guard needs to decide: who is asking, and the group's live claims. */
export interface ClaimsView {
  /** The peer this machine's session is on the relay: its own claims never block it. */
  peer: string;
  claims: Claim[];
}

export interface ClaimsSource {
  /** The current view; rejects (with a message a person can act on) when it cannot tell. */
  load(): Promise<ClaimsView>;
}

/** The cache file: a view and when it was fetched. */
const CacheShape = z.extend(ClaimsViewRecord, { fetched_at: z.string() });

/** Writes the cache atomically (a temporary file renamed over it), so a guard never reads half a file. */
export function writeClaimsCache(path: string, view: ClaimsView, now = Date.now()): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const temporary = `${path}.${process.pid}.tmp`;
  writeFileSync(temporary, JSON.stringify({ peer: view.peer, fetched_at: new Date(now).toISOString(), claims: view.claims }), { mode: 0o600 });
  renameSync(temporary, path);
}

/**
 * Claims from a cache file written by writeClaimsCache. A cache older than `maxAgeMs` is refused:
 * the bridge that kept it fresh has stopped, and old claims would block or allow the wrong things.
 */
export function fileClaimsSource(path: string, maxAgeMs: number, now: () => number = Date.now): ClaimsSource {
  return {
    async load() {
      let text: string;
      try {
        text = readFileSync(path, "utf8");
      } catch {
        throw new Error(`no claims cache at ${path} (is the relay bridge running?)`);
      }
      let parsed: z.infer<typeof CacheShape>;
      try {
        parsed = CacheShape.parse(JSON.parse(text));
      } catch {
        throw new Error(`the claims cache at ${path} is not readable`);
      }
      const age = now() - Date.parse(parsed.fetched_at);
      if (!(age <= maxAgeMs)) throw new Error(`the claims cache at ${path} is ${Math.round(age / 1000)} s old (is the relay bridge running?)`);
      return { peer: parsed.peer, claims: parsed.claims };
    },
  };
}

/** Loads within `timeoutMs`, or rejects saying the source did not answer in time. */
export async function loadWithin(source: ClaimsSource, timeoutMs: number): Promise<ClaimsView> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    return await Promise.race([source.load(), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

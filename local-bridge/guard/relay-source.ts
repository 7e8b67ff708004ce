/**
 * Claims straight from the relay: one GET of `/groups/:group/claims` with the peer's token, which
 * answers `{ peer, claims }` (the caller as the token names it, and the group's live claims). Plain
 * node:http(s) rather than fetch, for the same reason as the prompt hooks: a guard is a fresh
 * process per edit or commit, and fetch's implementation costs tens of milliseconds to load.
 */
import { ClaimsViewRecord } from "../../contract/claim-record.ts";
import type { ClaimsSource, ClaimsView } from "./source.ts";

export interface RelayAddress {
  /** The relay's base URL, no trailing slash. */
  baseUrl: string;
  group: string;
  token: string;
}

/** The relay as a claims source; gives up (rejects) after `timeoutMs`, closing its connection. */
export function relayClaimsSource(relay: RelayAddress, timeoutMs: number): ClaimsSource {
  return {
    async load() {
      const url = new URL(`${relay.baseUrl}/groups/${encodeURIComponent(relay.group)}/claims`);
      const { get } = url.protocol === "https:" ? await import("node:https") : await import("node:http");
      return new Promise<ClaimsView>((resolve, reject) => {
        let settled = false;
        const finish = (error: Error | null, view?: ClaimsView) => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          request.destroy();
          if (error) reject(error);
          else resolve(view!);
        };
        const timer = setTimeout(() => finish(new Error(`the relay did not answer within ${timeoutMs} ms`)), timeoutMs);
        const request = get(url, { headers: { Authorization: `Bearer ${relay.token}` }, agent: false }, (response) => {
          let text = "";
          response.setEncoding("utf8");
          response.on("data", (chunk: string) => (text += chunk));
          response.on("error", (error) => finish(error));
          response.on("end", () => {
            let body: unknown;
            try {
              body = JSON.parse(text);
            } catch {
              return finish(new Error(`the relay answered ${response.statusCode} with no JSON`));
            }
            if (response.statusCode !== 200) {
              const message = (body as { message?: unknown }).message;
              return finish(new Error(`the relay refused (${response.statusCode}): ${typeof message === "string" ? message : text.slice(0, 200)}`));
            }
            const parsed = ClaimsViewRecord.safeParse(body);
            if (!parsed.success) return finish(new Error("the relay's claims answer was not in the expected shape (is the bridge older than the relay?)"));
            finish(null, parsed.data);
          });
        });
        request.on("error", (error) => finish(new Error(`the relay is unreachable (${error.message})`)));
      });
    },
  };
}

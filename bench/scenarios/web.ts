/**
 * The people's room in a real browser (Debian's Chromium): how soon a send shows in the page,
 * next to how soon the same message's notice reaches a bridge socket in the same rounds; what the
 * page weighs; and how long the room takes to draw with 200 messages.
 *
 * "Shows in the page" is timed by a MutationObserver the bench adds to the page before its own
 * script runs; it calls back into the bench (a CDP binding, ~1 ms), stamped on arrival here.
 */
import { gzipSync } from "node:zlib";
import type { Browser, Page } from "playwright-core";
import { launchBrowser } from "../../tests/helpers/browser.ts";
import { mcpClient, RelaySocket, toolValue } from "../lib/clients.ts";
import type { Row, Scenario } from "../lib/context.ts";
import { loop, now, ratio, summarize, type Summary } from "../lib/stats.ts";

const MARK = "bench-web";

async function openRoom(browser: Browser, relayUrl: string, group: string, token: string, onSeen?: (n: number) => void): Promise<Page> {
  const page = await (await browser.newContext()).newPage();
  if (onSeen) {
    await page.exposeFunction("__benchSeen", (n: number) => onSeen(n));
    await page.addInitScript(`
      new MutationObserver((records) => {
        for (const r of records) for (const node of r.addedNodes) {
          const m = /${MARK} (\\d+)/.exec(node.textContent || "");
          if (m) window.__benchSeen(Number(m[1]));
        }
      }).observe(document, { childList: true, subtree: true });
    `);
  }
  await page.goto(`${relayUrl}/g/${group}#t=${token}`);
  await page.locator("#connection", { hasText: "Live." }).waitFor({ timeout: 20_000 });
  return page;
}

export const web: Scenario = {
  name: "web",
  title: "Web room (real Chromium)",
  budgetMs: 60_000,
  async run(ctx) {
    const browser = await launchBrowser();
    const notes: string[] = [];
    try {
      const relay = ctx.relay;

      // Page weight: the room's HTML, script and stylesheet, each gzipped as a server would.
      const html = await (await fetch(`${relay.url}/g/bench-web`)).text();
      const assets = [...html.matchAll(/(?:src|href)="(\/assets\/[^"]+)"/g)].map((m) => m[1]!);
      const bodies = [html, ...(await Promise.all(assets.map(async (path) => (await fetch(`${relay.url}${path}`)).text())))];
      const gzipBytes = bodies.reduce((sum, body) => sum + gzipSync(body).length, 0);
      const rawBytes = bodies.reduce((sum, body) => sum + Buffer.byteLength(body), 0);

      // Live: send_message start -> the page shows it, and -> a bridge socket gets its notice.
      const group = "bench-web";
      const alice = await mcpClient(relay.url, await relay.mint(group, "alice"));
      const socket = await RelaySocket.open(relay.url, group, await relay.mint(group, "bob"));
      const seen = new Map<number, number>();
      const waiting = new Map<number, () => void>();
      const page = await openRoom(browser, relay.url, group, await relay.mint(group, "dana"), (n) => {
        if (seen.has(n)) return;
        seen.set(n, now());
        waiting.get(n)?.();
      });
      const toPage: number[] = [];
      const toSocket: number[] = [];
      let round = 0;
      await loop({ warmup: 10, samples: 200, budgetMs: 25_000, gapMs: 10 }, async (record) => {
        const n = round++;
        const shown = new Promise<void>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error(`message ${n} did not show in the page within 5 s`)), 5_000);
          waiting.set(n, () => (clearTimeout(timer), resolve()));
        });
        const start = now();
        const { seq } = toolValue<{ seq: number }>(await alice.callTool({ name: "send_message", arguments: { text: `${MARK} ${n}` } }));
        const [socketAt] = await Promise.all([socket.arrivals.wait(seq, 5_000, "bridge notice"), shown]);
        if (record) {
          toPage.push(seen.get(n)! - start);
          toSocket.push(socketAt - start);
        }
      });
      await page.context().close();
      socket.close();

      // First render with 200 messages: a signed-in person (re)opens the room; timed by the page.
      const full = "bench-web-200";
      const sender = await mcpClient(relay.url, await relay.mint(full, "alice"));
      const reader = await openRoom(browser, relay.url, full, await relay.mint(full, "dana"));
      for (let i = 0; i < 200; i++) await sender.callTool({ name: "send_message", arguments: { text: `history line ${i}: ${"words ".repeat(i % 20)}` } });
      const renders: number[] = [];
      const sinceNavigation: number[] = [];
      for (let i = 0; i < 11; i++) {
        await reader.goto(`${relay.url}/g/${full}`);
        await reader.locator("#connection", { hasText: "Live." }).waitFor({ timeout: 20_000 });
        const count = await reader.locator("#channel li.message").count();
        if (count !== 200) throw new Error(`the room drew ${count} messages, expected 200`);
        const data = (await reader.evaluate("[document.body.dataset.renderedMs, document.body.dataset.renderedAt]")) as [string, string];
        // The first load warms the browser's cache of the hashed assets, as any return visit has.
        if (i > 0) {
          renders.push(Number(data[0]));
          sinceNavigation.push(Number(data[1]));
        }
      }
      await reader.context().close();
      await Promise.all([alice.close(), sender.close()]);

      const page50 = summarize(toPage);
      const socket50 = summarize(toSocket);
      const bridgeDelivery = ctx.done.delivery?.figures.delivery as Summary | undefined;
      const rows: Row[] = [
        { metric: "send_message start -> page shows text", latency: page50, note: `${ratio(page50.p50, socket50.p50)}x / ${ratio(page50.p99, socket50.p99)}x bridge socket (p50 / p99)` },
        { metric: "send_message start -> bridge socket, same rounds", latency: socket50 },
        { metric: "room with 200 messages: navigation -> drawn", latency: summarize(sinceNavigation) },
        { metric: "  of which the script's fetch + draw", latency: summarize(renders) },
        { metric: "page weight (HTML + JS + CSS)", value: `${(gzipBytes / 1024).toFixed(1)} KiB gzip (${(rawBytes / 1024).toFixed(1)} KiB raw)` },
      ];
      if (bridgeDelivery) rows[0]!.note += `; ${ratio(page50.p50, bridgeDelivery.p50)}x the delivery scenario's bridge p50`;
      notes.push("The page is timed by a MutationObserver calling back through a CDP binding (about 1 ms); the bridge socket is a raw bridge-protocol socket in the same rounds.");
      return {
        figures: {
          page_shows: page50,
          bridge_socket_same_rounds: socket50,
          p50_ratio_to_bridge_socket: ratio(page50.p50, socket50.p50),
          p99_ratio_to_bridge_socket: ratio(page50.p99, socket50.p99),
          p50_ratio_to_delivery_bridge: bridgeDelivery ? ratio(page50.p50, bridgeDelivery.p50) : null,
          page_weight_gzip_bytes: gzipBytes,
          page_weight_raw_bytes: rawBytes,
          first_render_200: summarize(renders),
          navigation_to_200_drawn: summarize(sinceNavigation),
        },
        rows,
        notes,
      };
    } finally {
      await browser.close();
    }
  },
};

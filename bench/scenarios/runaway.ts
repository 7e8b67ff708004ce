/**
 * Runaway: three agents answering every message they read (alice -> bob -> carol -> alice, DMs, no
 * reply_to: the cascade of docs/chains.md) as fast as real MCP clients can, until the relay holds
 * their chain; then they keep retrying (every 100 ms), as a loop that ignores the refusal would. Counted: the
 * messages the cascade got through before the hold (the chain budget, CHAIN_BUDGET), and the
 * refused retries. Meanwhile a bystander (eve, DMs to dan, reading nothing of the cascade) sends
 * back to back; her send_dm call latency during the runaway is compared with the same calls in the
 * quiet group just before and just after it (the target: p99 within 1.5x).
 *
 * The bench relay lifts the group's hourly budget with the per-peer rate limit (run.ts), so the
 * chain budget is what holds the cascade here. Alone: `npm run bench -- runaway`.
 */
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { mcpClient } from "../lib/clients.ts";
import type { Scenario } from "../lib/context.ts";
import { now, ratio, sleep, summarize } from "../lib/stats.ts";

interface CallOutcome {
  isError: boolean;
  code?: string;
  messages?: { id: string }[];
}

async function call(client: Client, name: string, args: Record<string, unknown>): Promise<CallOutcome> {
  const result = (await client.callTool({ name, arguments: args })) as { isError?: boolean; structuredContent?: { error?: string; messages?: { id: string }[] } };
  const data = result.structuredContent ?? {};
  return { isError: result.isError === true, ...(data.error && { code: data.error }), ...(data.messages && { messages: data.messages }) };
}

/** How soon a held agent tries again here; a real agent needs a model turn (seconds) per try. */
const RETRY_PAUSE_MS = 100;

export const runaway: Scenario = {
  name: "runaway",
  title: "Runaway cascade held by its chain budget; a bystander's sends during it",
  budgetMs: 60_000,
  async run(ctx) {
    const group = `bench-runaway-${Date.now().toString(36)}`;
    const names = ["alice", "bob", "carol"];
    const ring = await Promise.all(names.map(async (name) => mcpClient(ctx.relay.url, await ctx.relay.mint(group, name), name)));
    const [eve, dan] = await Promise.all(["eve", "dan"].map(async (name) => mcpClient(ctx.relay.url, await ctx.relay.mint(group, name), name)));
    const samples = 150;
    try {
      for (const client of [...ring, dan!]) await call(client, "list_peers", {});

      const bystander = async (record: number[], count: number) => {
        for (let i = 0; i < 10; i++) await call(eve!, "send_dm", { to: "dan", text: `warm-up ${i}` });
        for (let i = 0; i < count; i++) {
          const start = now();
          const sent = await call(eve!, "send_dm", { to: "dan", text: `status ${i}` });
          record.push(now() - start);
          if (sent.isError) throw new Error(`the bystander's send was refused (${sent.code}): a bystander must never be`);
          await sleep(5);
        }
      };

      // Quiet samples are taken before and after the runaway, half each, so a machine whose other
      // load drifts during the run weighs on both sides alike.
      const quiet: number[] = [];
      await bystander(quiet, samples / 2);

      // The cascade: each agent reads what it has, then DMs the next one, round and round.
      let accepted = 0;
      let refusedRetries = 0;
      let heldAfterMs = 0;
      let stop = false;
      const cascadeStart = now();
      const cascade = (async () => {
        await call(ring[0]!, "send_dm", { to: names[1], text: "kick-off" });
        accepted++;
        for (let i = 1; !stop; i++) {
          const me = i % 3;
          await call(ring[me]!, "read_new_messages", {});
          const sent = await call(ring[me]!, "send_dm", { to: names[(me + 1) % 3], text: `round ${i}` });
          if (!sent.isError) accepted++;
          else if (sent.code === "chain_held") {
            if (refusedRetries === 0) heldAfterMs = now() - cascadeStart;
            refusedRetries++;
            // A loop that ignores the refusal retries the same agent: after RETRY_PAUSE_MS, far
            // sooner than a real agent could (each of its tries is a model turn, seconds).
            i--;
            await sleep(RETRY_PAUSE_MS);
          } else throw new Error(`the cascade was refused with ${sent.code}, not chain_held`);
        }
      })();
      // Let the cascade reach its hold and start hammering, then measure the bystander through it.
      const during: number[] = [];
      await sleep(200);
      await bystander(during, samples);
      stop = true;
      await cascade;
      await bystander(quiet, samples / 2);

      const quietSummary = summarize(quiet);
      const duringSummary = summarize(during);
      const p99Ratio = ratio(duringSummary.p99, quietSummary.p99);
      ctx.log(`cascade: ${accepted} messages before the hold (after ${heldAfterMs.toFixed(0)} ms), ${refusedRetries} refused retries; bystander p99 ${p99Ratio}x quiet`);
      return {
        figures: {
          cascade_messages_before_hold: accepted,
          held_after_ms: Math.round(heldAfterMs),
          refused_retries_during_measurement: refusedRetries,
          bystander_quiet: quietSummary,
          bystander_during_runaway: duringSummary,
          bystander_p99_ratio: p99Ratio,
        },
        rows: [
          { metric: "cascade messages before the hold", value: String(accepted), note: `held after ${Math.round(heldAfterMs)} ms; ${refusedRetries} refused retries followed` },
          { metric: "bystander send_dm, quiet (before and after)", latency: quietSummary },
          { metric: "bystander send_dm, during the runaway", latency: duringSummary, note: `p99 ${p99Ratio}x quiet (target <= 1.5x)` },
        ],
        notes: [
          `Before the hold the cascade runs with no pause at all (no model turns); after it, the held agent retries every ${RETRY_PAUSE_MS} ms (read, then send) for the whole measurement: the load a loop that ignores chain_held puts on the group, many times faster than a real agent's turns.`,
          "The bench relay lifts GROUP_AGENT_MESSAGES_PER_HOUR (run.ts), so the chain budget is what holds the cascade.",
        ],
      };
    } finally {
      await Promise.allSettled([...ring, eve!, dan!].map((c) => c.close()));
    }
  },
};

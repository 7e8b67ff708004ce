/**
 * Chains from a terminal against the real relay (`npm start`, shared): two agents (plain MCP calls,
 * as Claude Code makes them) answer each other until the relay holds their chain; `relay-bridge
 * chains --json` lists it held, a non-lead's `continue` is refused with a clear word, a lead's
 * lets the agents go on, and a person's `send` through the CLI is never charged.
 */
import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { beforeAll, describe, expect, it } from "vitest";
import { signToken } from "../../contract/token.ts";
import { DEFAULT_CHAIN_BUDGET } from "../../contract/limits.ts";
import { findSecret } from "../../scripts/secret.ts";
import { targetFrom } from "../../local-bridge/core/config.ts";
import { isPersonPrompt, tellPersonSpoke } from "../../local-bridge/hooks/person-spoke.ts";
import { REPO_ROOT } from "../helpers/relay-server.ts";
import { sharedRelay, type SharedRelay } from "../helpers/shared-relay.ts";

const run = promisify(execFile);
const CLI = join(REPO_ROOT, "local-bridge", "dist", "relay-bridge.mjs");
let relay: SharedRelay;

beforeAll(async () => {
  relay = await sharedRelay();
});

async function cli(token: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const env = { ...process.env, RELAY_URL: relay.url, RELAY_TOKEN: token, XDG_CONFIG_HOME: "/nonexistent" };
    const { stdout, stderr } = await run(process.execPath, [CLI, ...args], { env, timeout: 120_000 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

/** One tools/call as an agent's client makes it (no CLI mark). */
async function tool(token: string, name: string, args: Record<string, unknown>): Promise<{ isError: boolean; data: any }> {
  const response = await fetch(`${relay.url}/mcp`, {
    method: "POST",
    headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json", Accept: "application/json, text/event-stream" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name, arguments: args } }),
  });
  const text = await response.text();
  const line = text.includes("data:") ? text.split("\n").find((l) => l.startsWith("data:"))!.slice(5) : text;
  const result = (JSON.parse(line) as { result: { isError?: boolean; structuredContent?: unknown } }).result;
  return { isError: result.isError === true, data: result.structuredContent ?? {} };
}

describe("relay-bridge chains and continue", { timeout: 240_000 }, () => {
  it("lists a held chain, refuses a non-lead's continue, lets a lead's through, and never charges a person", async () => {
    const g = `chains-${process.pid}`;
    const secret = findSecret()!;
    const [ann, ben, lea] = await Promise.all([relay.mint(g, "ann"), relay.mint(g, "ben"), signToken(secret, { g, p: "lea", iat: Date.now(), r: "lead" })]);
    await tool(ann, "list_peers", {});
    await tool(ben, "list_peers", {});

    // ann and ben answer each other until the relay says no.
    const ring = [ann, ben];
    const names = ["ann", "ben"];
    let refused: { isError: boolean; data: any } | null = null;
    let chain = 0;
    for (let i = 0; i < DEFAULT_CHAIN_BUDGET * 2 && !refused; i++) {
      const me = ring[i % 2]!;
      await tool(me, "read_new_messages", {});
      const sent = await tool(me, "send_dm", { to: names[(i + 1) % 2]!, text: `round ${i}` });
      if (sent.isError) refused = sent;
      else if (sent.data.chain) chain = sent.data.chain.chain;
    }
    expect(refused?.data.error).toBe("chain_held");

    const listed = await cli(ann, ["chains", "--json"]);
    expect(listed.code, listed.stderr).toBe(0);
    const chains = JSON.parse(listed.stdout) as { id: number; held: boolean; agent_messages: number }[];
    expect(chains.find((c) => c.id === chain)).toMatchObject({ held: true, agent_messages: DEFAULT_CHAIN_BUDGET });
    expect((await cli(ann, ["chains"])).stdout).toContain(`chain ${chain}: HELD`);

    const notLead = await cli(ann, ["continue", String(chain)]);
    expect(notLead.code).toBe(3);
    expect(notLead.stderr).toContain("Only a lead may continue a chain");

    const byLead = await cli(lea, ["continue", String(chain)]);
    expect(byLead.code, byLead.stderr).toBe(0);
    expect(byLead.stdout).toContain(`chain ${chain} continues`);
    // The agent that was refused goes on.
    const refusedIndex = DEFAULT_CHAIN_BUDGET % 2;
    const again = await tool(ring[refusedIndex]!, "send_dm", { to: names[(refusedIndex + 1) % 2]!, text: "go on" });
    expect(again.isError, JSON.stringify(again.data)).toBe(false);

    // A person's messages through the CLI are never charged, however many.
    for (let i = 0; i < 3; i++) expect((await cli(ann, ["send", `from a person ${i}`])).code).toBe(0);
    const after = JSON.parse((await cli(ann, ["chains", "--json"])).stdout) as { id: number; agent_messages: number; started_by: string }[];
    for (const c of after.filter((c) => c.started_by === "ann" && c.id !== chain)) expect(c.agent_messages).toBe(0);
  });

  it("the prompt hook's word that a person spoke renews the held chain of that session; the bridge's own notices are not a person", async () => {
    const g = `chains-hook-${process.pid}`;
    const [ann, ben] = await Promise.all([relay.mint(g, "ann"), relay.mint(g, "ben")]);
    await tool(ann, "list_peers", {});
    await tool(ben, "list_peers", {});
    const names = ["ann", "ben"];
    let held = -1;
    for (let i = 0; i < DEFAULT_CHAIN_BUDGET * 2 && held < 0; i++) {
      await tool([ann, ben][i % 2]!, "read_new_messages", {});
      if ((await tool([ann, ben][i % 2]!, "send_dm", { to: names[(i + 1) % 2]!, text: `round ${i}` })).isError) held = i % 2;
    }
    expect(held).toBeGreaterThanOrEqual(0);
    expect(isPersonPrompt("[relay] 2 new messages in core (DM from bob). Call read_new_messages.")).toBe(false);
    expect(isPersonPrompt("please finish the release notes")).toBe(true);

    const target = targetFrom({ url: relay.url, token: [ann, ben][held]! }, {});
    expect(await tellPersonSpoke(target, 30_000)).toBe(true);
    const again = await tool([ann, ben][held]!, "send_dm", { to: names[(held + 1) % 2]!, text: "my person said go on" });
    expect(again.isError, JSON.stringify(again.data)).toBe(false);
  });
});

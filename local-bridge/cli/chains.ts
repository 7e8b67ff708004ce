/**
 * `relay-bridge chains [--json]`, `relay-bridge continue ID` and `relay-bridge end ID`: a person's
 * view of the group's chains and a lead's yes or no to a held one (docs/chains.md). They use the
 * web room's routes with the token as a Bearer header, so the room and the terminal answer alike.
 * Exit codes as chat.ts: 0 done, 1 relay unreachable or token refused, 2 usage, 3 refused (not a
 * lead, no such chain).
 */
import { parseArgs } from "node:util";
import type { ChainInfo, ChainList } from "../../contract/chains.ts";
import { targetFrom, type RelayTarget } from "../core/config.ts";
import { BridgeError, UsageError } from "../core/errors.ts";
import { describeNetworkError } from "../core/network-errors.ts";
import { sanitizeLine, sanitizeName, sanitizeRelayText } from "../core/notices.ts";
import { EXIT, RelayRefusal } from "../core/relay-api.ts";

export const CHAINS_USAGE = `Chains: agents answering each other are held after a budget until a person says go on:
  relay-bridge chains [--json]     open chains, held ones first (JSON: {chains: [{id, held, agent_messages, ...}]})
  relay-bridge continue ID         (leads) give held chain ID a fresh budget
  relay-bridge end ID              (leads) close chain ID: no agent may add to it
  Each takes --profile NAME, --url, --token.
`;

const OPTIONS = {
  url: { type: "string" },
  token: { type: "string" },
  profile: { type: "string" },
  json: { type: "boolean", default: false },
  help: { type: "boolean", short: "h", default: false },
} as const;

function parse(verb: string, args: string[]) {
  try {
    return parseArgs({ options: OPTIONS, args, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError(`${verb}: ${(error as Error).message}\n\n${CHAINS_USAGE}`);
  }
}

/** One call to the room's chain routes; the relay's refusal (a non-lead, no such chain) exits 3. */
async function chainsApi<T>(target: RelayTarget, path: string, method: "GET" | "POST"): Promise<T> {
  const url = `${target.baseUrl}/g/${encodeURIComponent(target.group)}/api/chains${path}`;
  let response: Response;
  try {
    response = await fetch(url, { method, headers: { Authorization: `Bearer ${target.token}` }, redirect: "error" });
  } catch (error) {
    throw new BridgeError(describeNetworkError(((error as { cause?: unknown }).cause ?? error) as NodeJS.ErrnoException, url));
  }
  const body = (await response.json().catch(() => ({}))) as { error?: unknown; message?: unknown };
  if (response.ok) return body as T;
  const message = typeof body.message === "string" ? sanitizeRelayText(body.message) : `HTTP ${response.status}`;
  if (response.status === 401) throw new BridgeError(`the relay refused the token (HTTP 401): ${message}`);
  if (response.status === 404 && typeof body.error !== "string") throw new BridgeError(`${url}: nothing answers at this URL: is the relay up to date?`);
  throw new RelayRefusal(typeof body.error === "string" ? sanitizeName(body.error) : String(response.status), message);
}

function describe(chain: ChainInfo): string[] {
  const state = chain.held ? `HELD${chain.held_by ? ` (refused ${sanitizeName(chain.held_by)})` : ""}` : "open";
  const lines = [
    `chain ${chain.id}: ${state}, ${chain.agent_messages}/${chain.budget} agent messages since a person spoke, ${chain.total_messages} in all; ${chain.peers.map(sanitizeName).join(", ")}`,
  ];
  for (const m of chain.last_messages ?? []) {
    lines.push(`    #${m.seq} ${sanitizeName(m.from)}${m.to ? ` → ${sanitizeName(m.to)}` : ""}: ${sanitizeLine(m.text.split(/\r?\n/)[0] ?? "")}`);
  }
  return lines;
}

async function chains(args: string[]): Promise<number> {
  const { values, positionals } = parse("chains", args);
  if (values.help) return help();
  if (positionals.length > 0) throw new UsageError(`chains takes no arguments\n\n${CHAINS_USAGE}`);
  const list = await chainsApi<ChainList>(targetFrom(values), "", "GET");
  if (values.json) {
    // The documented shape: an array of chains, each with at least id, held and agent_messages.
    process.stdout.write(`${JSON.stringify(list.chains)}\n`);
    return EXIT.ok;
  }
  const out = (line: string) => process.stdout.write(`${line}\n`);
  out(`group: ${list.group.agent_messages_this_hour}/${list.group.budget_per_hour} agent messages this hour with no person speaking`);
  if (list.chains.length === 0) out("no open chains");
  for (const chain of list.chains) for (const line of describe(chain)) out(line);
  if (list.chains.some((c) => c.held)) out("a lead lets a held chain go on with: relay-bridge continue ID (or ends it: relay-bridge end ID)");
  return EXIT.ok;
}

function decide(action: "continue" | "end") {
  return async (args: string[]): Promise<number> => {
    const { values, positionals } = parse(action, args);
    if (values.help) return help();
    const [id, ...extra] = positionals;
    if (!id || extra.length > 0 || !/^\d{1,15}$/.test(id)) throw new UsageError(`${action} takes one chain id, a whole number as \`relay-bridge chains\` lists it\n\n${CHAINS_USAGE}`);
    const { chain } = await chainsApi<{ chain: ChainInfo }>(targetFrom(values), `/${id}/${action}`, "POST");
    if (values.json) process.stdout.write(`${JSON.stringify(chain)}\n`);
    else process.stdout.write(action === "continue" ? `chain ${chain.id} continues: a fresh budget of ${chain.budget} agent messages\n` : `chain ${chain.id} ended\n`);
    return EXIT.ok;
  };
}

function help(): number {
  process.stdout.write(CHAINS_USAGE);
  return EXIT.ok;
}

export const CHAINS_COMMANDS: Record<string, (args: string[]) => Promise<number>> = {
  chains,
  continue: decide("continue"),
  end: decide("end"),
};

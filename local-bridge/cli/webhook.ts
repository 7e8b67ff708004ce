/**
 * relay-bridge webhook add|list|remove: a lead's webhooks (worker/webhooks/routes.ts). `add`
 * prints the signing secret once: the relay never shows it again.
 */
import { parseArgs } from "node:util";
import { targetFrom, type RelayTarget } from "../core/config.ts";
import { BridgeError, UsageError } from "../core/errors.ts";
import { describeNetworkError } from "../core/network-errors.ts";
import { sanitizeLine } from "../core/notices.ts";
import { EXIT, RelayRefusal } from "../core/relay-api.ts";

export const WEBHOOK_USAGE = `  relay-bridge webhook add URL [--for PEER]... [--events question,dm,chain_held] [--format json|slack]
  relay-bridge webhook list | remove ID           (leads only; docs/webhooks.md)
      Post to URL when a question (and with --events dm, a DM) reaches a peer --for names, or a
      chain waits for a person's yes. --for is needed for questions and DMs (only --events
      chain_held goes without). add prints the signing secret once.
`;

const OPTIONS = {
  url: { type: "string" },
  token: { type: "string" },
  profile: { type: "string" },
  for: { type: "string", multiple: true },
  events: { type: "string" },
  format: { type: "string" },
  json: { type: "boolean", default: false },
  help: { type: "boolean", short: "h", default: false },
} as const;

interface Failure {
  event: string;
  attempts: number;
  error: string;
  at: string;
  retrying: boolean;
}

interface Hook {
  id: string;
  url: string;
  peers: string[];
  events: string[];
  format: string;
  created_by: string;
  last_delivered_at: string | null;
  failures: Failure[];
  secret?: string;
}

async function hooksRequest(target: RelayTarget, method: string, path: string, body?: unknown): Promise<unknown> {
  const url = `${target.baseUrl}/groups/${encodeURIComponent(target.group)}/webhooks${path}`;
  let response: Response;
  try {
    response = await fetch(url, {
      method,
      redirect: "error",
      headers: { Authorization: `Bearer ${target.token}`, "Content-Type": "application/json" },
      ...(body !== undefined && { body: JSON.stringify(body) }),
    });
  } catch (error) {
    const cause = ((error as { cause?: unknown }).cause ?? error) as NodeJS.ErrnoException;
    throw new BridgeError(describeNetworkError(cause, url));
  }
  const answer = (await response.json().catch(() => ({}))) as { error?: unknown; message?: unknown };
  if (response.ok) return answer;
  const message = typeof answer.message === "string" ? sanitizeLine(answer.message) : `HTTP ${response.status}`;
  if (response.status === 401) throw new BridgeError(`the relay refused the token: ${message}`, EXIT.failed);
  throw new RelayRefusal(typeof answer.error === "string" ? answer.error : String(response.status), message);
}

function describe(hook: Hook): string[] {
  const lines = [
    `${hook.id}  ${hook.url}`,
    `  for ${hook.peers.length > 0 ? hook.peers.join(", ") : "every peer"}; events ${hook.events.join(", ")}; format ${hook.format}; added by ${hook.created_by}`,
    `  last delivered: ${hook.last_delivered_at ?? "never"}`,
  ];
  for (const f of hook.failures) lines.push(`  failed ${f.at}: ${f.event} after ${f.attempts} attempt(s): ${sanitizeLine(f.error)}${f.retrying ? " (retrying)" : ""}`);
  return lines;
}

export async function webhookCommand(args: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ options: OPTIONS, args, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError(`${(error as Error).message}\n\n${WEBHOOK_USAGE}`);
  }
  const { values, positionals } = parsed;
  const [action, ...rest] = positionals;
  const say = (line: string) => process.stdout.write(`${line}\n`);
  if (values.help || !action) {
    say(WEBHOOK_USAGE);
    return values.help ? 0 : EXIT.usage;
  }
  const target = targetFrom(values);
  switch (action) {
    case "add": {
      if (rest.length !== 1) throw new UsageError(`webhook add takes one URL\n\n${WEBHOOK_USAGE}`);
      const body = {
        url: rest[0],
        peers: values.for ?? [],
        ...(values.events !== undefined && { events: values.events.split(",").map((e) => e.trim()).filter(Boolean) }),
        ...(values.format !== undefined && { format: values.format }),
      };
      const hook = (await hooksRequest(target, "POST", "", body)) as Hook;
      if (values.json) return say(JSON.stringify(hook)), EXIT.ok;
      for (const line of describe(hook)) say(line);
      say(`signing secret (shown only now; keep it where the receiver can read it):\n  ${hook.secret}`);
      say("each post carries X-Relay-Timestamp and X-Relay-Signature: sha256=HMAC-SHA256(secret, `${timestamp}.${body}`); see docs/webhooks.md");
      return EXIT.ok;
    }
    case "list": {
      const { webhooks } = (await hooksRequest(target, "GET", "")) as { webhooks: Hook[] };
      if (values.json) return say(JSON.stringify({ webhooks })), EXIT.ok;
      if (webhooks.length === 0) say(`no webhooks in group ${target.group}`);
      for (const hook of webhooks) for (const line of describe(hook)) say(line);
      return EXIT.ok;
    }
    case "remove": {
      if (rest.length !== 1) throw new UsageError(`webhook remove takes one ID (webhook list shows them)`);
      const removed = await hooksRequest(target, "DELETE", `/${encodeURIComponent(rest[0]!)}`);
      say(values.json ? JSON.stringify(removed) : `removed ${rest[0]}`);
      return EXIT.ok;
    }
    default:
      throw new UsageError(`unknown webhook action ${JSON.stringify(action)}: add, list or remove`);
  }
}

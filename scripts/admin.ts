/**
 * What the secret holder's scripts (token.ts, invite.ts) share: durations like 30d, the secret
 * check, and POSTing a proven admin call to a relay with its refusal turned into a message.
 */
import { parseArgs, type ParseArgsConfig } from "node:util";
import { secretProblem } from "../contract/token.ts";
import { findSecret } from "./secret.ts";

const UNITS: Record<string, number> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** "30d", "12h", "90m", "3600s" -> milliseconds; null for anything else. */
export function parseTtl(text: string): number | null {
  const match = /^(\d+)([smhd])$/.exec(text);
  return match ? Number(match[1]) * UNITS[match[2]!]! : null;
}

/** The team secret, or a message saying where to get it. */
export function requireSecret(): { secret: string } | { problem: string } {
  const secret = findSecret();
  const problem = secretProblem(secret);
  if (problem) {
    return { problem: `${problem}. Run \`npm start\` once (it creates .dev.vars), or export RELAY_SECRET (the production one for a deployed relay).` };
  }
  return { secret: secret! };
}

/** The relay answered with a refusal; `code` is its error code when it sent one. */
export class RelayRefused extends Error {
  readonly status: number;
  readonly code: string | undefined;
  constructor(message: string, status: number, code: string | undefined) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/**
 * POSTs JSON to the relay; resolves with the parsed answer, or rejects with a message saying what
 * went wrong: a RelayRefused when the relay answered no, a plain Error when it could not be reached
 * (or did not answer within `timeoutMs`).
 */
export async function adminPost<T>(relayUrl: string, path: string, body: unknown, timeoutMs?: number): Promise<T> {
  const url = new URL(path, relayUrl);
  let response: Response;
  try {
    response = await fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
      ...(timeoutMs !== undefined && { signal: AbortSignal.timeout(timeoutMs) }),
    });
  } catch (error) {
    throw new Error(`could not reach ${url.origin}: ${error instanceof Error ? error.message : error}. Is the relay running?`);
  }
  const answer = (await response.json().catch(() => ({}))) as T & { error?: string; message?: string };
  if (!response.ok) throw new RelayRefused(`the relay refused: ${answer.message ?? `HTTP ${response.status}`}`, response.status, answer.error);
  return answer;
}

type Options = NonNullable<ParseArgsConfig["options"]>;
type Values<O extends Options> = ReturnType<typeof parseArgs<{ options: O; strict: true }>>["values"];

/**
 * A script's command line: its flags, or (on a mistake) the message and usage on stderr and exit 2;
 * --help prints the usage and exits 0. Also returns `die` for the script's own usage mistakes
 * (declare it with its type where it is used, `const die: (m: string) => never = cli.die`, so that
 * TypeScript narrows after a call to it).
 */
export function commandLine<const O extends Options>(name: string, usage: string, options: O): { values: Values<O>; die: (message: string) => never } {
  const die = (message: string): never => {
    console.error(`${name}: ${message}\n\n${usage}`);
    process.exit(2);
  };
  try {
    const { values } = parseArgs({ options: { ...options, help: { type: "boolean", short: "h" } }, strict: true });
    if ((values as { help?: boolean }).help) {
      console.log(usage);
      process.exit(0);
    }
    return { values: values as Values<O>, die };
  } catch (error) {
    return die(error instanceof Error ? error.message : String(error));
  }
}

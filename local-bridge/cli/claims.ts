/**
 * Path claims from a terminal: `claims` lists who holds what (one GET, the guards' own view),
 * `release` releases the token's claims or, for a lead, a quiet peer's (the release_paths tool),
 * and `guard` runs the claims guard (guard/profile-guard.ts) with this CLI's relay.
 */
import { parseArgs } from "node:util";
import { describeClaim } from "../../contract/claim-rules.ts";
import { saveTarget } from "../core/config-file.ts";
import { targetFrom, type RelayTarget } from "../core/config.ts";
import { BridgeError, UsageError } from "../core/errors.ts";
import { sanitizeLine } from "../core/notices.ts";
import { callTool, EXIT } from "../core/relay-api.ts";
import { GUARD_USAGE } from "../guard/command.ts";
import { processGuardIo, runProfileGuard } from "../guard/profile-guard.ts";
import { relayClaimsSource } from "../guard/relay-source.ts";

export const CLAIMS_USAGE = `Path claims (who is editing which files; see docs/claims.md):
  relay-bridge claims [--json]                    the group's live claims: who, what, until when, why
  relay-bridge release [PATTERN...] [--peer P]    release your claims (all when none named); a lead
                                                  may release the claims of a peer quiet for 30 min
  relay-bridge guard install [--dir DIR] [--profile NAME]   git pre-commit/pre-push hooks refusing
                                                  commits and pushes into another peer's claim
  relay-bridge guard uninstall|status [--dir DIR] [--json]
  relay-bridge guard check --pre-commit | --pre-push REMOTE URL | tool   (run by the hooks)
`;

const COMMON = {
  url: { type: "string" },
  token: { type: "string" },
  profile: { type: "string" },
  json: { type: "boolean", default: false },
  help: { type: "boolean", short: "h", default: false },
} as const;

function target(values: { url?: string | undefined; token?: string | undefined; profile?: string | undefined }): RelayTarget {
  const t = targetFrom(values);
  for (const note of t.notes) process.stderr.write(`${note}\n`);
  return t;
}

/** A peer-written string for one terminal line: no controls. */
const line = (text: string) => sanitizeLine(text);

async function claims(args: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ options: COMMON, args, strict: true });
  } catch (error) {
    throw new UsageError(`claims: ${(error as Error).message}\n\n${CLAIMS_USAGE}`);
  }
  const { values } = parsed;
  if (values.help) {
    process.stdout.write(CLAIMS_USAGE);
    return EXIT.ok;
  }
  const t = target(values);
  let view;
  try {
    view = await relayClaimsSource({ baseUrl: t.baseUrl, group: t.group, token: t.token }, 10_000).load();
  } catch (error) {
    throw new BridgeError(`could not list claims: ${(error as Error).message}`, EXIT.failed);
  }
  if (values.json) {
    process.stdout.write(`${JSON.stringify(view)}\n`);
    return EXIT.ok;
  }
  const now = Date.now();
  if (view.claims.length === 0) process.stdout.write("no live claims\n");
  for (const claim of view.claims) {
    const text = line(describeClaim(claim, now));
    process.stdout.write(`${claim.peer === view.peer ? `${text} (yours)` : text}\n`);
  }
  return EXIT.ok;
}

interface Released {
  released: { peer: string; pattern: string }[];
  not_held?: string[];
}

async function release(args: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ options: { ...COMMON, peer: { type: "string" } }, args, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError(`release: ${(error as Error).message}\n\n${CLAIMS_USAGE}`);
  }
  const { values, positionals } = parsed;
  if (values.help) {
    process.stdout.write(CLAIMS_USAGE);
    return EXIT.ok;
  }
  const t = target(values);
  const result = await callTool<Released>(t, "release_paths", {
    ...(positionals.length > 0 && { paths: positionals }),
    ...(values.peer !== undefined && { peer: values.peer }),
  });
  if (values.json) {
    process.stdout.write(`${JSON.stringify(result.structured)}\n`);
    return EXIT.ok;
  }
  const { released, not_held } = result.structured;
  const whose = values.peer !== undefined && values.peer !== t.peer ? ` held by ${line(values.peer)}` : "";
  process.stdout.write(released.length === 0 ? "no live claims to release\n" : `released ${released.map((c) => line(c.pattern)).join(", ")}${whose}\n`);
  if (not_held) process.stdout.write(`not held: ${not_held.map(line).join(", ")}\n`);
  return EXIT.ok;
}

/** `guard …`: the guard's commands with this CLI's relay (flags, environment or profile). */
export function guard(bridgeCommand: string[]) {
  return async (args: string[]): Promise<number> => {
    if (args.length === 0 || args[0] === "--help" || args[0] === "-h" || args[0] === "help") {
      process.stdout.write(`${CLAIMS_USAGE}${GUARD_USAGE}\n`);
      return args.length === 0 ? EXIT.usage : EXIT.ok;
    }
    const rest = [...args];
    const flags: { url?: string; token?: string } = {};
    for (const name of ["url", "token"] as const) {
      const index = rest.indexOf(`--${name}`);
      if (index >= 0) flags[name] = rest.splice(index, 2)[1]!;
    }
    return runProfileGuard(rest, {
      bridgeCommand,
      defaultTarget: () => target(flags),
      saveProfile: (t) => saveTarget(t),
      io: processGuardIo(),
    });
  };
}

export const CLAIM_COMMANDS: Record<string, (args: string[]) => Promise<number>> = { claims, release };

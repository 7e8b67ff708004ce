/**
 * Make, list and revoke invite links.
 *
 *   npm run -s invite -- --group core --url <relay url> [--uses N] [--ttl 7d] [--observer]
 *   npm run -s invite -- --list --group core --url <relay url> [--json]
 *   npm run -s invite -- --revoke <invite id> --group core --url <relay url>
 *
 * Making one prints exactly one URL on stdout and nothing else. The invite is signed here with the
 * team secret and recorded by the relay (which counts its uses), so the relay must be reachable.
 */
import { INVITE_ID_PATTERN, MAX_INVITE_USES, newInviteId, signInvite } from "../contract/invite.ts";
import { isValidName, NAME_RULE } from "../contract/names.ts";
import { signAdminProof } from "../contract/token.ts";
import type { InviteRecord } from "../worker/types.ts";
import { adminPost, commandLine, parseTtl, requireSecret } from "./admin.ts";

const USAGE = `Usage:
  npm run -s invite -- --group <group> --url <relay url> [--uses N] [--ttl 7d] [--observer]
  npm run -s invite -- --list --group <group> --url <relay url> [--json]
  npm run -s invite -- --revoke <invite id> --group <group> --url <relay url>

--uses: how many people may join with it (default 1). --ttl: how long it works (default 7d;
30d, 12h, 90m, 3600s). --observer: who joins may read, not send.
The team secret is read from RELAY_SECRET, else from .dev.vars.`;

const cli = commandLine("invite", USAGE, {
  group: { type: "string" },
  url: { type: "string" },
  uses: { type: "string", default: "1" },
  ttl: { type: "string", default: "7d" },
  observer: { type: "boolean", default: false },
  list: { type: "boolean", default: false },
  revoke: { type: "string" },
  json: { type: "boolean", default: false },
});
const { values } = cli;
const die: (message: string) => never = cli.die;

function fail(message: string): never {
  console.error(`invite: ${message}`);
  process.exit(1);
}

if (!values.group) die("--group is required.");
if (!isValidName(values.group)) die(`group '${values.group}' is not a valid name: ${NAME_RULE}.`);
if (!values.url) die("--url is required: the relay the invite is for, e.g. https://relay.example.workers.dev");
let relay: string;
try {
  const url = new URL(values.url);
  if (url.protocol !== "http:" && url.protocol !== "https:") throw new Error();
  relay = `${url.origin}${url.pathname.replace(/\/+$/, "").replace(/\/mcp$/, "")}`;
} catch {
  die(`--url '${values.url}' is not an http(s) URL: expected something like https://relay.example.workers.dev`);
}
const found = requireSecret();
if ("problem" in found) die(found.problem);
const { secret } = found;
const group = values.group;

async function call<T>(path: string, body: unknown): Promise<T> {
  try {
    return await adminPost<T>(relay, path, body);
  } catch (error) {
    fail((error as Error).message);
  }
}

if (values.list) {
  const proof = await signAdminProof(secret, "invite-list", group, Date.now());
  const { invites } = await call<{ invites: InviteRecord[] }>(`/groups/${group}/invites/list`, { proof });
  if (values.json) {
    process.stdout.write(`${JSON.stringify({ group, invites })}\n`);
  } else if (invites.length === 0) {
    console.log(`No invites in ${group}.`);
  } else {
    const now = Date.now();
    for (const i of invites) {
      const state = i.revoked_at ? "revoked" : Date.parse(i.expires_at) <= now ? "expired" : i.used_by.length >= i.max_uses ? "used up" : "open";
      const who = i.used_by.length > 0 ? ` by ${i.used_by.join(", ")}` : "";
      console.log(`${i.id}  ${state.padEnd(7)}  used ${i.used_by.length}/${i.max_uses}${who}  expires ${i.expires_at}${i.observer ? "  observer" : ""}`);
    }
  }
  process.exit(0);
}

if (values.revoke !== undefined) {
  if (!INVITE_ID_PATTERN.test(values.revoke)) die(`'${values.revoke}' is not an invite id (like i_0123456789ab): \`--list\` shows them.`);
  const proof = await signAdminProof(secret, "invite-revoke", `${group}/${values.revoke}`, Date.now());
  const { invite } = await call<{ invite: InviteRecord }>(`/groups/${group}/invites/${values.revoke}/revoke`, { proof });
  console.error(`Revoked invite ${invite.id} in ${group} (used ${invite.used_by.length}/${invite.max_uses}). Tokens already issued with it still work: revoke a peer with \`npm run -s token -- --revoke\`.`);
  process.exit(0);
}

const uses = Number(values.uses);
if (!Number.isInteger(uses) || uses < 1 || uses > MAX_INVITE_USES) die(`--uses must be a whole number from 1 to ${MAX_INVITE_USES}.`);
const ttl = parseTtl(values.ttl);
if (ttl === null || ttl <= 0) die(`--ttl '${values.ttl}' is not a duration like 7d, 12h, 90m or 3600s.`);
const id = newInviteId();
const code = await signInvite(secret, { i: id, g: group, exp: Date.now() + ttl, n: uses, ...(values.observer ? { o: 1 as const } : {}) });
const proof = await signAdminProof(secret, "invite", `${group}/${id}`, Date.now());
await call(`/groups/${group}/invites`, { invite: code, proof });
process.stdout.write(`${relay}/invite/${code}\n`);

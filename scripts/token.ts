/**
 * Mint a peer token, or revoke a peer's tokens.
 *
 *   npm run -s token -- --group core --peer alice [--ttl 30d]
 *   npm run -s token -- --revoke --group core --peer alice --url http://localhost:8787
 *
 * Minting prints exactly one token on stdout and nothing else, so `$(npm run -s token ...)`
 * works. The secret comes from RELAY_SECRET, else from .dev.vars (what `npm start` uses).
 */
import { signAdminProof, signToken } from "../contract/token.ts";
import { isValidName, NAME_RULE } from "../contract/names.ts";
import { adminPost, commandLine, parseTtl, requireSecret } from "./admin.ts";

const USAGE = `Usage:
  npm run -s token -- --group <group> --peer <peer> [--ttl <30d|12h|90m|3600s>] [--observer | --lead]
  npm run -s token -- --group <group> --peer <peer> --link --url <relay url> [--ttl ...] [--observer | --lead]
  npm run -s token -- --revoke --group <group> --peer <peer> --url <relay url>

--link prints a sign-in link for the browser instead of the bare token; the token rides in the
link's #fragment, which browsers never send to the server.
--observer: may read every message of the group, DMs between others included, and send nothing.
--lead: may pause and resume the group.

The team secret is read from RELAY_SECRET, else from .dev.vars.`;

const cli = commandLine("token", USAGE, {
  group: { type: "string" },
  peer: { type: "string" },
  ttl: { type: "string" },
  revoke: { type: "boolean", default: false },
  url: { type: "string" },
  link: { type: "boolean", default: false },
  observer: { type: "boolean", default: false },
  lead: { type: "boolean", default: false },
});
const { values } = cli;
const die: (message: string) => never = cli.die;

if (!values.group || !values.peer) die("--group and --peer are required.");
if (!isValidName(values.group)) die(`group '${values.group}' is not a valid name: ${NAME_RULE}.`);
if (!isValidName(values.peer)) die(`peer '${values.peer}' is not a valid name: ${NAME_RULE}.`);
const found = requireSecret();
if ("problem" in found) die(found.problem);
const { secret } = found;

if (values.revoke) {
  if (!values.url) die("--revoke needs --url, the relay to revoke on.");
  const target = `${values.group}/${values.peer}`;
  const proof = await signAdminProof(secret, "revoke", target, Date.now());
  let body: { sockets_closed?: number };
  try {
    body = await adminPost(values.url, `/groups/${values.group}/revoke`, { peer: values.peer, proof });
  } catch (error) {
    die((error as Error).message);
  }
  console.error(`Revoked every token issued to ${values.peer} in ${values.group} until now (${body.sockets_closed ?? 0} socket(s) closed).`);
  process.exit(0);
}

if (values.observer && values.lead) die("--observer and --lead exclude each other: an observer sends nothing, so cannot lead.");
if (values.link && !values.url) die("--link needs --url, the relay the link opens (e.g. http://localhost:8787).");
let linkBase: URL | undefined;
if (values.link) {
  try {
    linkBase = new URL("/", values.url);
  } catch {
    die(`--url '${values.url}' is not a URL like http://localhost:8787 or https://relay.example.workers.dev.`);
  }
}
let exp: number | undefined;
if (values.ttl !== undefined) {
  const ttl = parseTtl(values.ttl);
  if (ttl === null || ttl <= 0) die(`--ttl '${values.ttl}' is not a duration like 30d, 12h, 90m or 3600s.`);
  exp = Date.now() + ttl;
}
const role = values.observer ? "observer" : values.lead ? "lead" : undefined;
const token = await signToken(secret, { g: values.group, p: values.peer, iat: Date.now(), ...(exp ? { exp } : {}), ...(role ? { r: role } : {}) });
process.stdout.write(linkBase ? `${new URL(`/g/${values.group}#t=${token}`, linkBase).href}\n` : `${token}\n`);

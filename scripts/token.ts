/**
 * Mint a peer token, or revoke a peer's tokens.
 *
 *   npm run -s token -- --group core --peer alice --url http://localhost:8787 [--ttl 30d]
 *   npm run -s token -- --revoke --group core --peer alice --url http://localhost:8787
 *
 * Minting prints exactly one token on stdout and nothing else, so `$(npm run -s token ...)`
 * works. The secret comes from RELAY_SECRET, else from .dev.vars (what `npm start` uses).
 *
 * The token is signed here, offline. With --url the name is also reserved on that relay (an
 * admin-proven POST /groups/<group>/names), so no invite can take it and void the token before its
 * holder first uses it. Without --url, or with the relay unreachable, the token is still printed
 * and stderr says the name is not reserved; a relay that refuses the proof (another secret) gets
 * no token, since it would refuse the token too.
 */
import { nameReservationTarget, type NameRole, signAdminProof, signToken } from "../contract/token.ts";
import { isValidName, NAME_RULE } from "../contract/names.ts";
import { adminPost, commandLine, parseTtl, RelayRefused, requireSecret } from "./admin.ts";

const USAGE = `Usage:
  npm run -s token -- --group <group> --peer <peer> [--url <relay url>] [--ttl <30d|12h|90m|3600s>] [--observer | --lead]
  npm run -s token -- --group <group> --peer <peer> --link --url <relay url> [--ttl ...] [--observer | --lead]
  npm run -s token -- --revoke --group <group> --peer <peer> --url <relay url>

--url: the relay the token is for. Minting reserves the peer name there, so no invite can take it
(which would void this token); without --url the token is minted offline and the name is not
reserved (a warning on stderr says so).
--link prints a sign-in link for the browser instead of the bare token; the token rides in the
link's #fragment, which browsers never send to the server.
--observer: may read every message of the group, DMs between others included, and send nothing.
--lead: may pause and resume the group.

The team secret is read from RELAY_SECRET, else from .dev.vars.`;

/** How long minting waits for the relay before printing the token without reserving its name. */
const RESERVE_TIMEOUT_MS = 15_000;

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
let relayBase: URL | undefined;
if (values.url !== undefined) {
  try {
    relayBase = new URL("/", values.url);
    if (relayBase.protocol !== "http:" && relayBase.protocol !== "https:") throw new Error();
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
const role: NameRole = values.observer ? "observer" : values.lead ? "lead" : "peer";
const { group, peer } = values;
const token = await signToken(secret, { g: group, p: peer, iat: Date.now(), ...(exp ? { exp } : {}), ...(role !== "peer" ? { r: role } : {}) });

const unreserved = `An invite to ${group} could take the name '${peer}' and void this token before it is first used.`;
if (!relayBase) {
  console.error(`token: '${peer}' is not reserved on any relay (no --url). ${unreserved} Pass --url <relay> to reserve it.`);
} else {
  const expiresAt = exp ?? null;
  const proof = await signAdminProof(secret, "reserve-name", nameReservationTarget(group, peer, role, expiresAt), Date.now());
  try {
    const { reservation } = await adminPost<{ reservation: { looks_like: string | null } }>(
      relayBase.href,
      `/groups/${group}/names`,
      { name: peer, role, expires_at: expiresAt, proof },
      RESERVE_TIMEOUT_MS,
    );
    if (reservation.looks_like) {
      console.error(`token: note: '${peer}' looks like '${reservation.looks_like}', already in ${group}; people may take one for the other.`);
    }
  } catch (error) {
    const message = (error as Error).message;
    // A relay that refuses the proof or the request would refuse this token too: print none.
    if (error instanceof RelayRefused && (error.status === 400 || error.status === 401)) {
      console.error(`token: ${message} No token was printed.`);
      process.exit(1);
    }
    // Unreachable, or a relay that does not reserve names: the token still works there.
    console.error(`token: '${peer}' is not reserved on ${relayBase.origin} (${message}). ${unreserved} Mint again with --url once the relay answers.`);
  }
}
process.stdout.write(values.link ? `${new URL(`/g/${group}#t=${token}`, relayBase).href}\n` : `${token}\n`);

/**
 * `relay-bridge join <invite url> [--name NAME]`: the invite page's exchange from a terminal. Picks
 * the peer name (asks only when --name is missing and stdin is a terminal), gets the token, saves
 * it as a profile of the config file, and prints the one `claude mcp add` line: the only time the
 * token is printed.
 */
import { input } from "@inquirer/prompts";
import { parseArgs } from "node:util";
import { parseInviteUrl, readInviteUnverified } from "../../contract/invite.ts";
import { isValidName, NAME_RULE } from "../../contract/names.ts";
import { configPath, readConfig, saveProfile } from "../core/config-file.ts";
import { UsageError } from "../core/errors.ts";
import { EXIT, redeemInvite } from "../core/relay-api.ts";
import { commandToType } from "./self.ts";

export const JOIN_USAGE = `  relay-bridge join INVITE_URL [--name NAME] [--profile NAME] [--json]
      Join a group with an invite link: pick your peer name, save the relay, group, name and token
      in the config file, and print the \`claude mcp add\` line for Claude Code.
`;

/** The profile a join is saved under: the group's name, unless that already holds another relay or peer. */
function profileName(group: string, peer: string, url: string, path: string): string {
  const existing = readConfig(path).profiles;
  const same = (name: string) => !existing[name] || (existing[name].url === url && existing[name].peer === peer);
  if (same(group)) return group;
  if (same(`${group}-${peer}`)) return `${group}-${peer}`;
  throw new UsageError(`profiles '${group}' and '${group}-${peer}' in ${path} already hold other tokens: pick a name with --profile NAME`);
}

export async function join(args: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      strict: true,
      options: { name: { type: "string" }, profile: { type: "string" }, json: { type: "boolean", default: false }, help: { type: "boolean", short: "h", default: false } },
    });
  } catch (error) {
    throw new UsageError(`join: ${(error as Error).message}\n\n${JOIN_USAGE}`);
  }
  const { values, positionals } = parsed;
  if (values.help) {
    process.stdout.write(JOIN_USAGE);
    return EXIT.ok;
  }
  if (positionals.length !== 1) throw new UsageError(`join takes one invite link\n\n${JOIN_USAGE}`);
  const link = positionals[0]!;
  const invite = parseInviteUrl(link);
  const claims = invite && readInviteUnverified(invite.code);
  if (!invite || !claims) throw new UsageError(`${JSON.stringify(link)} is not an invite link (expected <relay>/invite/inv1.…): copy the whole link`);
  if (values.profile !== undefined && !isValidName(values.profile)) throw new UsageError(`--profile must be ${NAME_RULE}`);

  let name = values.name;
  if (name === undefined) {
    if (!process.stdin.isTTY) throw new UsageError("join: pass --name NAME (your peer name in the group)");
    name = await input({
      message: `Your peer name in group ${claims.g}:`,
      validate: (value) => isValidName(value) || `a name is ${NAME_RULE}`,
    });
  }
  if (!isValidName(name)) throw new UsageError(`--name ${JSON.stringify(name)}: a peer name is ${NAME_RULE}`);

  const joined = await redeemInvite(link, name);
  const path = configPath();
  const profile = values.profile ?? profileName(joined.group, joined.peer, joined.relay_url, path);
  saveProfile(profile, { url: joined.relay_url, group: joined.group, peer: joined.peer, token: joined.token }, path);

  if (values.json) {
    process.stdout.write(`${JSON.stringify({ relay_url: joined.relay_url, group: joined.group, peer: joined.peer, observer: joined.observer, profile, config: path, mcp_add: joined.mcp_add })}\n`);
    return EXIT.ok;
  }
  const say = (line: string) => process.stdout.write(`${line}\n`);
  say(`Joined group ${joined.group} as ${joined.peer}${joined.observer ? " (observer: you can read, not send)" : ""}. Saved to ${path} (profile ${profile}).`);
  say("");
  say("Register the relay with Claude Code (run in your project directory):");
  say(`  ${joined.mcp_add}`);
  say("");
  say("Or let setup do that and start the bridge: inside tmux, with Claude Code running in another pane:");
  say(`  ${commandToType(["setup"])}`);
  return EXIT.ok;
}

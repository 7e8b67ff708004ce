/** The tools about who is in the group: register, list_peers, leave_group. */
import { NoInput, RegisterInput } from "./inputs.ts";
import { compactPeer, plural, result, settle } from "./render.ts";
import { defineTool, READ_ONLY, RELAY, WRITES } from "./tool.ts";

export const register = defineTool({
  name: "register",
  description: `${RELAY} Set your profile so peers know what this session works on. Optional: every tool works without it.`,
  inputSchema: RegisterInput,
  annotations: { ...WRITES, idempotentHint: true },
  observers: false,
  handler: async ({ caller, group }, profile) =>
    settle(await group().register(caller, profile), (peer) => result(`Registered as ${peer.name} in group ${caller.group}.`, { peer: compactPeer(peer) })),
});

export const listPeers = defineTool({
  name: "list_peers",
  description: `${RELAY} List the peers in your group: name, profile, online (bridge connected), last seen, observers; and whether the group is paused.`,
  inputSchema: NoInput,
  annotations: READ_ONLY,
  observers: true,
  handler: async ({ caller, group }) =>
    settle(await group().listPeers(caller), ({ peers, paused }) => {
      const lines = peers.map(
        (p) =>
          `${p.name}${p.profile.client ? ` [${p.profile.client}]` : ""}${p.name === caller.peer ? " (you)" : ""}${p.observer ? " (observer: reads every message, DMs included)" : ""}: ${p.online ? "online" : "offline"}, last seen ${p.last_seen}` +
          (p.profile.summary ? ` - ${JSON.stringify(p.profile.summary)}` : ""),
      );
      const head = paused ? `The group is paused by ${paused.by}: ${paused.reason}. Sending is refused until a lead resumes it.\n` : "";
      return result(`${head}${plural(peers.length, "peer")} in ${caller.group}:\n${lines.join("\n")}`, { you: caller.peer, peers: peers.map(compactPeer), ...(paused && { paused }) });
    }),
});

export const leaveGroup = defineTool({
  name: "leave_group",
  description: `${RELAY} Leave your group: you vanish from list_peers and get no broadcast notices until you send or register again. History stays.`,
  inputSchema: NoInput,
  annotations: { ...WRITES, idempotentHint: true },
  observers: false,
  handler: async ({ caller, group }) => settle(await group().leave(caller), () => result(`Left ${caller.group}. Send or register to rejoin.`, { left: true })),
});

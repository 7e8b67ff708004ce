/**
 * Chains as the relay shows them to people (the web room, `relay-bridge chains`), and how a client
 * says a person is speaking. See docs/chains.md for the rule.
 */

/**
 * Sent by `relay-bridge` on its tool calls: the message is typed by a person at a terminal, not
 * written by a model. Self-declared, like any header: anyone holding the token can send it (the
 * trust this implies is spelled out in docs/chains.md).
 */
export const PERSON_CLIENT_HEADER = "X-Relay-Client";
export const PERSON_CLIENT_VALUE = "cli";

/** One chain, as listed. */
export interface ChainInfo {
  id: number;
  /** No agent may add to it until a person continues it (or, for the group budget, speaks). */
  held: boolean;
  /** Agent messages since a person last spoke in it (or continued it). */
  agent_messages: number;
  budget: number;
  /** Every message it carried, people's included. */
  total_messages: number;
  started_by: string;
  started_at: string;
  last_at: string;
  /** Who sent in it, oldest first. */
  peers: string[];
  /** The agent whose send was refused, when held. */
  held_by?: string;
  held_at?: string;
  /** Who last spoke in it as a person, or continued it. */
  person_by?: string;
  /** The last few messages the caller may see, oldest first (held chains only). */
  last_messages?: { seq: number; from: string; to: string | null; text: string; time: string }[];
}

/** `relay-bridge chains --json` and GET /g/:group/api/chains. */
export interface ChainList {
  chains: ChainInfo[];
  /** Agent messages the group sent in the last hour since a person last spoke, and the limit. */
  group: { agent_messages_this_hour: number; budget_per_hour: number };
}

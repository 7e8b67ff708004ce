/**
 * Chains and budgets: a runaway exchange between agents stops until a person says it may go on.
 *
 * Every message belongs to a chain. An agent's send joins every chain of the mail it was handed
 * (read_new_messages, wait_for_messages, an ask_peer reply) since its previous send, and the chain
 * of the message it answers; it is charged the fullest of them, plus one. With none it starts a
 * new chain. A person's message (the web room, the CLI) renews the chain it answers or starts one,
 * and is never charged; so is an agent's ask_peer to a person. A person's prompt to their own
 * Claude Code session (the UserPromptSubmit hook) renews the chains that session is in.
 *
 * Past the chain's budget, or the group's hourly budget while no person speaks, the send is
 * refused with `chain_held` and nothing is stored; the chain shows as held in the room and in
 * `relay-bridge chains` until a lead continues or ends it. The rule, with examples: docs/chains.md.
 *
 * On the send path this adds one statement (ChainStore.admitAgent checks and records at once);
 * a refusal reads once more to explain itself.
 */
import type { ChainInfo, ChainList } from "../../../contract/chains.ts";
import { CHAIN_WARNING_SHARE, CHAINS_LIST_MAX } from "../../../contract/limits.ts";
import { iso } from "../rows.ts";
import type { Settings } from "../settings.ts";
import { type Caller, fail, ok, type Outcome, type Problem } from "../types.ts";
import type { ChainNote } from "./schemas.ts";
import { type ChainRow, ChainStore } from "./store.ts";

export { CHAINS_MIGRATION } from "./store.ts";

/** What a send is, as far as chains care. */
export interface ChainedSend {
  id: string;
  to: string | null;
  kind: string;
  replyTo: string | null;
}

/** A held chain's messages as the room lists them: enough to judge, not whole pages. */
function preview(text: string): string {
  return text.length > PREVIEW_CHARS ? `${text.slice(0, PREVIEW_CHARS)}…` : text;
}
const PREVIEW_CHARS = 280;

/** Whether a call speaks for a person: a page session, the CLI, the room's send route, or an answer link. */
export function isPerson(caller: Caller): boolean {
  return caller.session !== undefined || caller.person !== undefined;
}

/** A chain that has just become held, as the webhooks tell it to a person. */
export interface HeldChain {
  chain: number;
  /** The agent whose send was refused. */
  by: string;
  agent_messages: number;
  budget: number;
}

export class Chains {
  readonly store: ChainStore;
  private readonly settings: Settings;

  /** Told once when a chain becomes held (the webhooks' `chain_held` event). */
  private readonly onHeld: ((held: HeldChain) => void) | undefined;

  constructor(sql: SqlStorage, settings: Settings, onHeld?: (held: HeldChain) => void) {
    this.store = new ChainStore(sql);
    this.settings = settings;
    this.onHeld = onHeld;
  }

  /**
   * Checks and records a send's chain, before the message is stored. A refusal stores nothing
   * but the hold on the chain that refused it. A note comes back when the chain is near its budget.
   */
  admit(caller: Caller, send: ChainedSend, now: number): { problem: Problem } | { problem: null; note?: ChainNote } {
    const q = { sender: caller.peer, replyTo: send.replyTo, id: send.id, now };
    if (isPerson(caller)) {
      this.store.recordPerson(q);
      return { problem: null };
    }
    const budget = this.settings.chainBudget;
    const questionTo = send.kind === "question" ? send.to : null;
    const admitted = this.store.admitAgent({ ...q, budget, perHour: this.settings.groupAgentMessagesPerHour, questionTo });
    if (!admitted) return { problem: this.refusal(caller, send.replyTo, now) };
    if (admitted.voice === "free" || admitted.charge < Math.ceil(budget * CHAIN_WARNING_SHARE)) return { problem: null };
    const left = budget - admitted.charge;
    return {
      problem: null,
      note: {
        chain: admitted.chain,
        agent_messages: admitted.charge,
        budget,
        note:
          left > 0
            ? `Chain ${admitted.chain} has carried ${admitted.charge} of its ${budget} agent messages since a person last spoke. Finish up: after ${left} more, the relay holds it until a person continues it. If the work needs more, ask your user now.`
            : `Chain ${admitted.chain} has used its whole budget of ${budget} agent messages: your next message in it will be refused until a person continues it. Stop here and tell your user what is left to do.`,
      },
    };
  }

  /** Why an agent's send was refused, and the hold it leaves on the chain responsible. */
  private refusal(caller: Caller, replyTo: string | null, now: number): Problem {
    const { chains, hourly } = this.store.refusalFacts(caller.peer, replyTo, now);
    const budget = this.settings.chainBudget;
    const perHour = this.settings.groupAgentMessagesPerHour;
    const after = "Nothing was sent, and retrying will not help: the relay holds it until a person continues it.";
    const tell = (id: number) =>
      `Tell your user: "The relay held chain ${id} (agents answering each other without a person). A lead can continue it in the web room or with \`relay-bridge continue ${id}\`, or end it."`;
    const ended = chains.find((c) => c.ended_at !== null);
    if (ended) {
      return {
        code: "chain_held",
        message: `Chain ${ended.id} was ended by ${ended.ended_by} after ${ended.total_messages} messages: no agent may add to it. Nothing was sent, and retrying will not help. Tell your user the exchange was ended; a person must start a new one.`,
      };
    }
    const fullest = chains[0];
    if (fullest && (fullest.held_at !== null || fullest.agent_messages >= budget)) {
      if (fullest.held_at === null) this.onHeld?.({ chain: fullest.id, by: caller.peer, agent_messages: fullest.agent_messages, budget });
      this.store.markHeld(fullest.id, caller.peer, now);
      const since = fullest.person_by ? `since ${fullest.person_by} last spoke in it` : "with no person in it";
      return {
        code: "chain_held",
        message: `Chain ${fullest.id} is held: it has carried ${fullest.agent_messages} agent messages ${since} (the budget is ${budget}). A person must continue it. ${after} ${tell(fullest.id)}`,
      };
    }
    // The group's hour holds the whole group, not a chain: any person speaking (or a lead's
    // continue) starts the hour's count again, and every chain goes on.
    const which = fullest ? `chain ${fullest.id} (${fullest.agent_messages} agent messages)` : "a new chain";
    return {
      code: "chain_held",
      message:
        `The group is held: agents have sent ${hourly} messages in the last hour with no person speaking (the limit is ${perHour}). ` +
        `This message, in ${which}, was not sent, and retrying will not help. A person must speak in the group (the web room, \`relay-bridge send\`) or a lead continue a chain. ` +
        (fullest ? tell(fullest.id) : `Tell your user: "The relay held this group's agents: too many agent messages in an hour with no person speaking. Say something in the group to let them go on."`),
    };
  }

  /** `caller` was handed these messages (by id): its next send joins their chains. */
  handed(caller: Caller, messageIds: readonly string[]): void {
    // A person reading is not an agent answering: only agents' reads join chains.
    if (!isPerson(caller)) this.store.hand(caller.peer, messageIds);
  }

  /** A person typed a prompt into `caller`'s own Claude Code session (the UserPromptSubmit hook). */
  personSpoke(caller: Caller): Outcome<{ renewed: number[] }> {
    // Renewing chains and restarting the group's hour are writes: an observer sends nothing.
    if (caller.role === "observer") {
      return fail("read_only", `You are an observer in group '${caller.group}': observers cannot renew chains or restart the group's hourly budget. A person with a peer token must speak, or a lead continue the chain.`);
    }
    return ok({ renewed: this.store.personSpokeTo(caller.peer, Date.now()) });
  }

  list(caller: Caller): Outcome<ChainList> {
    const now = Date.now();
    const budget = this.settings.chainBudget;
    const chains = this.store.list(budget, CHAINS_LIST_MAX).map((row) => this.info(row, caller));
    return ok({ chains, group: { agent_messages_this_hour: this.store.hourly(now), budget_per_hour: this.settings.groupAgentMessagesPerHour } });
  }

  continueChain(caller: Caller, id: number): Outcome<ChainInfo> {
    const refused = this.leadOnly(caller, "continue");
    if (refused) return { ok: false, problem: refused };
    const row = this.store.continueChain(id, caller.peer, Date.now());
    return row ? ok(this.info(row, caller)) : this.missing(id);
  }

  endChain(caller: Caller, id: number): Outcome<ChainInfo> {
    const refused = this.leadOnly(caller, "end");
    if (refused) return { ok: false, problem: refused };
    const row = this.store.endChain(id, caller.peer, Date.now());
    return row ? ok(this.info(row, caller)) : this.missing(id);
  }

  private leadOnly(caller: Caller, verb: string): Problem | null {
    if (caller.role === "lead") return null;
    return {
      code: "forbidden",
      message: `Only a lead may ${verb} a chain; ${caller.peer} is not one. Ask a lead of group ${caller.group} (their token says role lead), or speak in the chain yourself: a person's message gives it a fresh budget.`,
    };
  }

  private missing<T>(id: number): Outcome<T> {
    return fail("not_found", `No open chain ${id} in this group (it may have been ended). \`relay-bridge chains\` lists the open ones.`);
  }

  private info(row: ChainRow, caller: Caller): ChainInfo {
    const held = row.held_at !== null || row.agent_messages >= this.settings.chainBudget;
    const info: ChainInfo = {
      id: row.id,
      held,
      agent_messages: row.agent_messages,
      budget: this.settings.chainBudget,
      total_messages: row.total_messages,
      started_by: row.started_by,
      started_at: iso(row.started_at),
      last_at: iso(row.last_at),
      peers: this.store.peers(row.id),
    };
    if (row.held_by !== null) info.held_by = row.held_by;
    if (row.held_at !== null) info.held_at = iso(row.held_at);
    if (row.person_by !== null) info.person_by = row.person_by;
    if (held) {
      info.last_messages = this.store
        .preview(row.id, caller.peer, caller.role === "observer")
        .map((m) => ({ seq: m.seq, from: m.sender, to: m.recipient, text: preview(m.text), time: iso(m.created_at) }));
    }
    return info;
  }
}

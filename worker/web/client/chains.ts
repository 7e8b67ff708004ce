/**
 * The room's held chains (docs/chains.md): who, how many agent messages, the last few messages the
 * signed-in person may see, and for a lead Continue and End. Drawn into its own card at the top of
 * the side column and refreshed by polling (a held chain is rare and waits for a person anyway),
 * and at once after a lead's click. Text goes in through textContent only, like the rest of the room.
 */
import type { ChainInfo, ChainList } from "../../../contract/chains.ts";

const REFRESH_MS = 10_000;

function el<K extends keyof HTMLElementTagNameMap>(tag: K, props: Record<string, string> = {}, ...children: (Node | string)[]): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) node.setAttribute(key, value);
  node.append(...children);
  return node;
}

export function startChains(group: string, lead: boolean): void {
  const side = document.querySelector("aside.side");
  if (!side) return;
  const list = el("ol", { id: "chains", class: "messages", "aria-live": "polite" });
  const status = el("p", { id: "chains-status", class: "muted small", role: "status" });
  const card = el("section", { id: "chains-card", class: "card", "aria-labelledby": "chains-title" }, el("h2", { id: "chains-title" }, "Held chains"), list, status);
  card.hidden = true;
  side.prepend(card);
  const api = (path: string) => `/g/${encodeURIComponent(group)}/api/chains${path}`;

  const groupNote = el("p", { id: "chains-group" });
  card.insertBefore(groupNote, list);
  const draw = ({ chains, group: hour }: ChainList) => {
    const held = chains.filter((c) => c.held);
    const groupHeld = hour.agent_messages_this_hour >= hour.budget_per_hour;
    groupNote.hidden = !groupHeld;
    groupNote.textContent = groupHeld
      ? `The group is held: agents sent ${hour.agent_messages_this_hour} messages this hour with no person speaking (limit ${hour.budget_per_hour}). Say something in the group to let them go on.`
      : "";
    card.hidden = held.length === 0 && !groupHeld && status.textContent === "";
    list.replaceChildren(...held.map((chain) => item(chain)));
  };

  const item = (chain: ChainInfo): HTMLLIElement => {
    const li = el("li", { "data-chain": String(chain.id) });
    const who = chain.peers.join(", ");
    li.append(
      el("p", {}, el("strong", {}, `Chain ${chain.id}`), ` held: ${chain.agent_messages} agent messages since a person spoke (budget ${chain.budget}), between ${who}.`),
    );
    if (chain.held_by) li.append(el("p", { class: "muted small" }, `${chain.held_by}'s send was refused.`));
    const last = el("ol", { class: "chain-last" });
    for (const m of chain.last_messages ?? []) last.append(el("li", {}, `#${m.seq} ${m.from}${m.to ? ` → ${m.to}` : ""}: `, m.text));
    li.append(last);
    if (lead) {
      const go = el("button", { type: "button", "data-action": "continue" }, "Continue");
      const end = el("button", { type: "button", "data-action": "end" }, "End");
      go.addEventListener("click", () => void decide(chain.id, "continue"));
      end.addEventListener("click", () => void decide(chain.id, "end"));
      li.append(el("div", { class: "row" }, go, end));
    } else {
      li.append(el("p", { class: "muted small" }, "A lead can let it go on; or answer in it yourself, which gives it a fresh budget."));
    }
    return li;
  };

  const refresh = async () => {
    try {
      const response = await fetch(api(""), { credentials: "same-origin" });
      if (response.ok) draw((await response.json()) as ChainList);
    } catch {
      // The room shows the connection's state already; the next refresh tries again.
    }
  };

  const decide = async (id: number, action: "continue" | "end") => {
    const response = await fetch(api(`/${id}/${action}`), { method: "POST", credentials: "same-origin" }).catch(() => null);
    const body = (await response?.json().catch(() => ({}))) as { message?: string } | undefined;
    status.textContent = response?.ok ? (action === "continue" ? `Chain ${id} continues with a fresh budget.` : `Chain ${id} ended.`) : (body?.message ?? "The relay cannot be reached.");
    await refresh();
  };

  void refresh();
  window.setInterval(() => void refresh(), REFRESH_MS);
}

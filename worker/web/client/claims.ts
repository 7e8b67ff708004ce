/**
 * The room's claims panel: who holds which files, until when and why (GET api/claims), refreshed
 * every 20 seconds and after a release. A lead sees Release on the claims of a peer that has gone
 * quiet (no connection, no call for 30 minutes: the relay decides and says which holders are).
 * Peer-written text (patterns, reasons) goes in through textContent only.
 */

interface PanelClaim {
  peer: string;
  repo: string | null;
  pattern: string;
  exclusive: boolean;
  reason?: string;
  expires_at: string;
}

const REFRESH_MS = 20_000;

function el<K extends keyof HTMLElementTagNameMap>(tag: K, props: Record<string, string> = {}, ...children: (Node | string)[]): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) node.setAttribute(key, value);
  node.append(...children);
  return node;
}

/** `14:05 (52 min)`: when a claim runs out, and how long that is from now. */
function until(iso: string): string {
  const minutes = Math.max(0, Math.ceil((Date.parse(iso) - Date.now()) / 60_000));
  const left = minutes < 60 ? `${minutes} min` : `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
  return `${new Date(iso).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })} (${left})`;
}

export interface ClaimsPanel {
  /** The list element and the line under it (errors, the count). */
  list: HTMLElement;
  status: HTMLElement;
  /** `api("claims")` and friends: the group's API paths. */
  api: (path: string) => string;
  lead: boolean;
  /** Literal text for anything a peer wrote (direction controls shown as codes). */
  literal: (text: string) => string;
}

export function startClaims(panel: ClaimsPanel): void {
  const load = async () => {
    let response: Response;
    try {
      response = await fetch(panel.api("claims"), { credentials: "same-origin" });
    } catch {
      panel.status.textContent = "Claims could not be loaded: the relay cannot be reached.";
      return;
    }
    const body = (await response.json().catch(() => ({}))) as { claims?: PanelClaim[]; quiet?: string[]; message?: string };
    if (!response.ok || !body.claims) {
      panel.status.textContent = body.message ?? `Claims could not be loaded (HTTP ${response.status}).`;
      return;
    }
    draw(body.claims, new Set(body.quiet ?? []));
  };

  const release = async (peer: string, pattern: string, button: HTMLButtonElement) => {
    button.disabled = true;
    const response = await fetch(panel.api("claims/release"), {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ peer, paths: [pattern] }),
    }).catch(() => null);
    const body = (await response?.json().catch(() => ({}))) as { message?: string } | undefined;
    panel.status.textContent = response?.ok ? `Released ${peer}'s claim on ${pattern}.` : (body?.message ?? "The release did not go through.");
    await load();
  };

  const draw = (claims: PanelClaim[], quiet: Set<string>) => {
    const items = claims.map((claim) => {
      const facts = el(
        "span",
        { class: "muted small" },
        `${claim.exclusive ? "exclusive" : "shared"} · ${claim.repo === null ? "every repository" : panel.literal(claim.repo)} · until ${until(claim.expires_at)}`,
      );
      const item = el("li", { class: "claim" }, el("strong", {}, panel.literal(claim.peer)), " ", el("code", {}, panel.literal(claim.pattern)), el("br"), facts);
      if (claim.reason) item.append(el("span", { class: "reason" }, panel.literal(claim.reason)));
      if (panel.lead && quiet.has(claim.peer)) {
        const button = el("button", { type: "button", class: "link", "aria-label": `Release ${claim.peer}'s claim on ${claim.pattern} (${claim.peer} has been quiet for 30 minutes)` }, "Release");
        button.addEventListener("click", () => void release(claim.peer, claim.pattern, button));
        item.append(button);
      }
      return item;
    });
    panel.list.replaceChildren(...items);
    if (claims.length === 0) panel.list.append(el("li", { class: "muted" }, "Nobody holds a claim."));
  };

  void load();
  window.setInterval(() => void load(), REFRESH_MS);
}

/**
 * The room's webhooks panel, shown to leads only: the group's webhooks with their recent delivery
 * failures, a form to add one (its signing secret shown once), and a remove button each. Text goes
 * in through textContent only.
 */
interface Failure {
  event: string;
  attempts: number;
  error: string;
  at: string;
  retrying: boolean;
}

interface Hook {
  id: string;
  url: string;
  peers: string[];
  events: string[];
  format: string;
  last_delivered_at: string | null;
  failures: Failure[];
  secret?: string;
}

type Call = <T>(path: string, body?: unknown) => Promise<{ ok: true; value: T } | { ok: false; status: number; message: string }>;

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;

function line(tag: string, text: string, className?: string): HTMLElement {
  const node = document.createElement(tag);
  node.textContent = text;
  if (className) node.className = className;
  return node;
}

export async function openWebhooksPanel(call: Call, api: (path: string) => string): Promise<void> {
  $("webhooks-card").hidden = false;
  const draw = async () => {
    const listed = await call<Hook[]>(api("webhooks"));
    if (!listed.ok) return void ($("webhook-status").textContent = listed.message);
    const items = listed.value.map((hook) => {
      const item = document.createElement("li");
      item.className = "peer";
      item.append(line("strong", hook.url), line("div", `${hook.id} · for ${hook.peers.length ? hook.peers.join(", ") : "everyone"} · ${hook.events.join(", ")} · ${hook.format}`, "muted small"));
      item.append(line("div", `last delivered: ${hook.last_delivered_at ?? "never"}`, "muted small"));
      for (const f of hook.failures) item.append(line("div", `failed ${f.at}: ${f.event}, ${f.attempts} attempt(s): ${f.error}${f.retrying ? " (retrying)" : ""}`, "error small"));
      const remove = line("button", "Remove", "link") as HTMLButtonElement;
      remove.type = "button";
      remove.addEventListener("click", () => void call(api("webhooks/remove"), { id: hook.id }).then(draw));
      item.append(remove);
      return item;
    });
    $("webhooks").replaceChildren(...(items.length ? items : [line("li", "No webhooks.", "muted")]));
  };
  $<HTMLFormElement>("webhook-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const peers = $<HTMLInputElement>("webhook-for").value.split(",").map((p) => p.trim()).filter(Boolean);
    const events = [...document.querySelectorAll<HTMLInputElement>("#webhook-form input[name=event]:checked")].map((box) => box.value);
    const body = { url: $<HTMLInputElement>("webhook-url").value.trim(), peers, events, format: $<HTMLSelectElement>("webhook-format").value };
    void call<Hook>(api("webhooks"), body).then((added) => {
      $("webhook-status").textContent = added.ok ? `Added ${added.value.id}.` : added.message;
      const secret = $("webhook-secret");
      secret.hidden = !added.ok;
      if (added.ok) secret.textContent = `Signing secret, shown only now: ${added.value.secret ?? ""}`;
      void draw();
    });
  });
  await draw();
}

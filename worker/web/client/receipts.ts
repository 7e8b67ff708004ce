/**
 * Read marks on the person's own messages in the room: every few seconds, while the page is
 * visible, it asks the relay (GET /g/:group/api/read-marks) about the newest messages it shows as
 * sent by this person, and writes "read by bob, carol" / "announced to dave" under each. Text only
 * (textContent), like everything the room draws.
 */
const POLL_MS = 10_000;
/** The newest own messages asked about per poll (the route's own limit is higher). */
const MAX_ASKED = 100;

interface Marks {
  marks: Record<string, { read: string[]; announced: string[] }>;
}

function ownSeqs(me: string): number[] {
  const seqs: number[] = [];
  for (const item of document.querySelectorAll<HTMLLIElement>("li.message[id^='m-']")) {
    if (item.querySelector(".head .from")?.textContent === me) seqs.push(Number(item.id.slice(2)));
  }
  return seqs.sort((a, b) => b - a).slice(0, MAX_ASKED);
}

function draw(marks: Marks["marks"]): void {
  for (const [seq, mark] of Object.entries(marks)) {
    const head = document.querySelector(`#m-${seq} .head`);
    if (!head) continue;
    let span = head.querySelector<HTMLSpanElement>(".read-mark");
    if (!span) {
      span = document.createElement("span");
      span.className = "read-mark muted";
      head.append(span);
    }
    const parts = [mark.read.length > 0 ? `✓ read by ${mark.read.join(", ")}` : "", mark.announced.length > 0 ? `announced to ${mark.announced.join(", ")}` : ""];
    const text = ` ${parts.filter(Boolean).join("; ")}`;
    // Only a real change touches the DOM: the observer below redraws on every change.
    if (span.textContent !== text) span.textContent = text;
  }
}

/** The last answer: redrawn whenever the room redraws its lists, which replaces the marked items. */
let last: Marks["marks"] = {};

async function poll(group: string, me: string): Promise<void> {
  if (document.visibilityState !== "visible") return;
  const seqs = ownSeqs(me);
  if (seqs.length === 0) return;
  try {
    const response = await fetch(`/g/${encodeURIComponent(group)}/api/read-marks?seqs=${seqs.join(",")}`, { credentials: "same-origin" });
    if (response.ok) {
      last = ((await response.json()) as Marks).marks;
      draw(last);
    }
  } catch {
    // Offline for a moment: the next poll tries again.
  }
}

/** Starts the read marks for `me` in `group`; a first pass at once. */
export function startReadMarks(group: string, me: string): void {
  void poll(group, me);
  window.setInterval(() => void poll(group, me), POLL_MS);
  document.addEventListener("visibilitychange", () => void poll(group, me));
  let queued = false;
  new MutationObserver(() => {
    if (queued) return;
    queued = true;
    requestAnimationFrame(() => {
      queued = false;
      draw(last);
    });
  }).observe(document.body, { childList: true, subtree: true });
}

/**
 * What needs the person looking at the room: unread DMs to them (listed above the fold, each
 * with Reply and Seen) and open questions, counted in the tab's title so a background tab shows
 * that something waits. And long messages folded, so a 64 KiB message does not fill the channel.
 * Text goes into the page through textContent only, as everywhere in the room.
 */
import type { RoomMessage } from "../frames.ts";

/** Characters shown of a long message until "Show more". */
export const FOLD_CHARS = 1_500;

/** `text` into `p`, folded past FOLD_CHARS behind a toggle. */
export function foldInto(p: HTMLElement, text: string): HTMLElement {
  if (text.length <= FOLD_CHARS) {
    p.textContent = text;
    return p;
  }
  const toggle = document.createElement("button");
  toggle.type = "button";
  toggle.className = "link fold";
  let open = false;
  const draw = () => {
    p.textContent = open ? text : `${text.slice(0, FOLD_CHARS)}…`;
    toggle.textContent = open ? "Show less" : `Show more (${(text.length - FOLD_CHARS).toLocaleString()} more characters)`;
    toggle.setAttribute("aria-expanded", String(open));
  };
  toggle.addEventListener("click", () => {
    open = !open;
    draw();
  });
  draw();
  const wrap = document.createElement("div");
  wrap.append(p, toggle);
  return wrap;
}

export interface AttentionView {
  list: HTMLElement;
  card: HTMLElement;
  /** One message as the room draws it. */
  item(m: RoomMessage): HTMLElement;
  /** Starts a reply to `peer` in the composer. */
  reply(peer: string): void;
}

export class Attention {
  private readonly dms = new Map<string, RoomMessage>();
  private questions = 0;
  private readonly baseTitle = document.title;
  private readonly view: AttentionView;

  constructor(view: AttentionView) {
    this.view = view;
  }

  /** A DM to the viewer that they have not seen yet. */
  note(m: RoomMessage): void {
    if (m.kind !== "dm") return;
    this.dms.set(m.id, m);
    this.draw();
  }

  /** The viewer wrote to `peer`: what `peer` sent them is seen. */
  answered(peer: string): void {
    for (const [id, m] of this.dms) if (m.from === peer) this.dms.delete(id);
    this.draw();
  }

  setQuestions(count: number): void {
    this.questions = count;
    this.draw();
  }

  get count(): number {
    return this.dms.size + this.questions;
  }

  draw(): void {
    document.title = this.count > 0 ? `(${this.count}) ${this.baseTitle}` : this.baseTitle;
    const items = [...this.dms.values()]
      .sort((a, b) => a.seq - b.seq)
      .map((m) => {
        const item = this.view.item(m);
        const reply = document.createElement("button");
        reply.type = "button";
        reply.textContent = `Reply to ${m.from}`;
        reply.addEventListener("click", () => this.view.reply(m.from));
        const seen = document.createElement("button");
        seen.type = "button";
        seen.className = "link";
        seen.textContent = "Seen";
        seen.addEventListener("click", () => {
          this.dms.delete(m.id);
          this.draw();
        });
        const row = document.createElement("div");
        row.className = "row";
        row.append(reply, seen);
        item.append(row);
        return item;
      });
    this.view.list.replaceChildren(...items);
    this.view.card.hidden = items.length === 0;
  }
}

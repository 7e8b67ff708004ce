/**
 * The bridge's answer to "is there mail that cannot wait?", kept in a small file in the state
 * directory so the PostToolUse hook (hooks/mid-turn.ts), which Claude Code starts after every tool
 * call, can answer from disk instead of asking the relay. Pressing mail is unread urgent mail and
 * questions to this peer; the bridge adds it when a notice arrives and drops it when a `read`
 * frame says it was read. The file says which process keeps it and whether that process is
 * connected: a reader trusts it only while both hold, and asks the relay otherwise.
 *
 * Facts only (seq, id, sender, kind, urgent), never message text, like every notice.
 */
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { NoticeFrame, ReadFrame } from "../../contract/frames.ts";
import type { PressingMail } from "../../contract/receipts.ts";
import { type AckKey, defaultStateDir } from "./ack-store.ts";

interface PressingRecord extends AckKey {
  pid: number;
  connected: boolean;
  updated_at: string;
  pressing: PressingMail[];
}

export function pressingFilePath(dir: string, key: AckKey): string {
  const hash = createHash("sha256").update(`${key.url}\n${key.group}\n${key.peer}`).digest("hex").slice(0, 24);
  return join(dir, `pressing-${hash}.json`);
}

/** Whether process `pid` is alive (signal 0 checks without sending anything). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * The pressing mail a live, connected bridge keeps for this relay+group+peer, or null when no such
 * bridge runs (no file, a stale one, a bridge that is reconnecting): then the caller asks the relay.
 */
export function readPressingFile(key: AckKey, dir = defaultStateDir()): PressingMail[] | null {
  try {
    const record = JSON.parse(readFileSync(pressingFilePath(dir, key), "utf8")) as Partial<PressingRecord>;
    const sameKey = record.url === key.url && record.group === key.group && record.peer === key.peer;
    if (!sameKey || record.connected !== true || typeof record.pid !== "number" || !Array.isArray(record.pressing)) return null;
    return alive(record.pid) ? record.pressing : null;
  } catch {
    return null;
  }
}

/** Kept by a running bridge: rewritten on every change, atomically (temp file, rename). */
export class PressingBoard {
  private readonly key: AckKey;
  private readonly dir: string;
  private readonly path: string;
  private readonly mail = new Map<number, PressingMail>();
  private connected = false;

  constructor(key: AckKey, dir = defaultStateDir()) {
    this.key = key;
    this.dir = dir;
    this.path = pressingFilePath(dir, key);
  }

  noticed(frame: NoticeFrame): void {
    if (!(frame.urgent || frame.kind === "question") || this.mail.has(frame.seq)) return;
    this.mail.set(frame.seq, { seq: frame.seq, id: frame.id, from: frame.from, kind: frame.kind, urgent: frame.urgent });
    this.write();
  }

  read(frame: ReadFrame): void {
    const outOfOrder = new Set(frame.seqs ?? []);
    let changed = false;
    for (const seq of this.mail.keys()) {
      if (seq <= frame.through_seq || outOfOrder.has(seq)) changed = this.mail.delete(seq) || changed;
    }
    if (changed) this.write();
  }

  /** Connected: the file can be trusted; not: readers ask the relay until the bridge is back. */
  setConnected(connected: boolean): void {
    if (connected === this.connected) return;
    this.connected = connected;
    this.write();
  }

  private write(): void {
    const pressing = [...this.mail.values()].sort((a, b) => a.seq - b.seq);
    const record: PressingRecord = { ...this.key, pid: process.pid, connected: this.connected, updated_at: new Date().toISOString(), pressing };
    try {
      mkdirSync(this.dir, { recursive: true, mode: 0o700 });
      const tmp = `${this.path}.${process.pid}.tmp`;
      writeFileSync(tmp, `${JSON.stringify(record)}\n`, { mode: 0o600 });
      renameSync(tmp, this.path);
    } catch {
      // Best effort: without the file the hook asks the relay instead.
    }
  }
}

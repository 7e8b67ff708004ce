/**
 * The highest seq this bridge has handled, kept on disk per relay URL + group + peer so a restarted
 * bridge resumes where the last one stopped instead of renoticing (or losing) mail.
 *
 * Ordering is what makes a SIGKILL cheap: the bridge emits a notice, THEN saves its seq here, THEN
 * sends the ack. A kill between emitting and saving replays that one notice on restart (one
 * duplicate); nothing is ever saved or acked before it was emitted, so nothing is lost.
 *
 * Writes are atomic against process death (write a temp file, rename over the old one). There is
 * no fsync: a kernel crash may lose the newest record or leave an unreadable file, which `load`
 * treats as "no record", and the relay then falls back to the last ack it saw: at worst a
 * re-notice, never a loss.
 */
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";

export interface AckKey {
  url: string;
  group: string;
  peer: string;
}

/** `$XDG_STATE_HOME/claude-relay`, or `~/.local/state/claude-relay`. */
export function defaultStateDir(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_STATE_HOME && env.XDG_STATE_HOME.startsWith("/") ? env.XDG_STATE_HOME : join(homedir(), ".local", "state");
  return join(base, "claude-relay");
}

export function ackFilePath(dir: string, key: AckKey): string {
  const hash = createHash("sha256").update(`${key.url}\n${key.group}\n${key.peer}`).digest("hex").slice(0, 24);
  return join(dir, `ack-${hash}.json`);
}

interface AckRecord extends AckKey {
  last_acked: number;
  updated_at: string;
}

export class AckStore {
  readonly path: string;
  private readonly key: AckKey;
  private readonly dir: string;
  private current: number | null;

  constructor(key: AckKey, dir = defaultStateDir()) {
    this.key = key;
    this.dir = dir;
    this.path = ackFilePath(dir, key);
    this.current = this.read();
  }

  /** The saved seq, or null when this relay+group+peer has no (readable) record here. */
  load(): number | null {
    return this.current;
  }

  /** Saves `seq` if it is higher than what is saved. Synchronous, so it is on disk before any ack is sent. */
  save(seq: number): void {
    if (this.current !== null && seq <= this.current) return;
    const record: AckRecord = { ...this.key, last_acked: seq, updated_at: new Date().toISOString() };
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const tmp = `${this.path}.${process.pid}.tmp`;
    writeFileSync(tmp, `${JSON.stringify(record)}\n`, { mode: 0o600 });
    renameSync(tmp, this.path);
    this.current = seq;
  }

  /** Forgets the record: used when the relay's history is older than it (a relay started afresh). */
  reset(): void {
    rmSync(this.path, { force: true });
    this.current = null;
  }

  private read(): number | null {
    let text: string;
    try {
      text = readFileSync(this.path, "utf8");
    } catch {
      return null;
    }
    try {
      const record = JSON.parse(text) as Partial<AckRecord>;
      const seq = record.last_acked;
      const sameKey = record.url === this.key.url && record.group === this.key.group && record.peer === this.key.peer;
      return sameKey && typeof seq === "number" && Number.isSafeInteger(seq) && seq >= 0 ? seq : null;
    } catch {
      return null;
    }
  }
}

/**
 * The peers feature's SQL: who has used the group, their profiles and cursors, who left, who is an
 * observer, and whose tokens are revoked. Synchronous, like all of the group's SQL, so writes with
 * no `await` between them commit as one transaction.
 */
import type { PeerInfo, Profile } from "./schemas.ts";
import type { RoomPeer } from "../room-frames.ts";
import { iso, LATEST_SEQ, toMinute } from "../rows.ts";

export interface PeerRow extends Record<string, SqlStorageValue> {
  name: string;
  profile: string;
  first_seen: number;
  last_seen: number;
  left_group: number;
  read_cursor: number;
  acked_seq: number;
}

export class PeerStore {
  private readonly sql: SqlStorage;

  constructor(sql: SqlStorage) {
    this.sql = sql;
  }

  /** Records that the peer is alive; creates it on first sight. `rejoin` undoes leave_group. */
  touch(name: string, now: number, rejoin = false): PeerRow {
    // A newcomer's cursors start at the newest seq: the group's past is history, not unread mail.
    // The newest seq is read inside the statement, so a call by a known peer costs one statement.
    return this.sql
      .exec<PeerRow>(
        `INSERT INTO peers (name, first_seen, last_seen, read_cursor, acked_seq)
         VALUES (?1, ?2, ?2, (${LATEST_SEQ}), (${LATEST_SEQ}))
         ON CONFLICT (name) DO UPDATE SET last_seen = ?2, left_group = CASE WHEN ?3 THEN 0 ELSE left_group END
         RETURNING *`,
        name,
        now,
        rejoin ? 1 : 0,
      )
      .one();
  }

  peer(name: string): PeerRow | undefined {
    return this.sql.exec<PeerRow>(`SELECT * FROM peers WHERE name = ?`, name).toArray()[0];
  }

  /** Peers who have not left, by name. */
  presentPeers(): PeerRow[] {
    return this.sql.exec<PeerRow>(`SELECT * FROM peers WHERE left_group = 0 ORDER BY name`).toArray();
  }

  leftPeerNames(): string[] {
    return this.sql.exec<{ name: string }>(`SELECT name FROM peers WHERE left_group = 1`).toArray().map((r) => r.name);
  }

  setProfile(name: string, profile: Profile): PeerRow {
    return this.sql.exec<PeerRow>(`UPDATE peers SET profile = ? WHERE name = ? RETURNING *`, JSON.stringify(profile), name).one();
  }

  markLeft(name: string): void {
    this.sql.exec(`UPDATE peers SET left_group = 1 WHERE name = ?`, name);
  }

  setAcked(name: string, seq: number): void {
    this.sql.exec(`UPDATE peers SET acked_seq = MAX(acked_seq, ?) WHERE name = ?`, seq, name);
  }

  /** Every peer that ever used the group, left ones included, flagged, as the room shows them. */
  roomPeers(observers: ReadonlySet<string>, online: (name: string) => boolean): RoomPeer[] {
    return this.sql
      .exec<PeerRow>(`SELECT * FROM peers ORDER BY left_group, name`)
      .toArray()
      .map((r) => ({
        name: r.name,
        profile: JSON.parse(r.profile) as RoomPeer["profile"],
        online: online(r.name),
        last_seen: iso(toMinute(r.last_seen)),
        left: r.left_group === 1,
        observer: observers.has(r.name),
      }));
  }

  /**
   * A peer as other peers see it. Its times are cut to the minute (the store keeps milliseconds):
   * enough to tell "active 3 min ago" from "gone since yesterday", too coarse to line up a peer's
   * activity with one particular send, such as a DM between two others showing up as a gap in
   * the seqs a third peer sees.
   */
  static peerInfo(row: PeerRow, online: boolean): PeerInfo {
    return {
      name: row.name,
      profile: JSON.parse(row.profile) as Profile,
      online,
      first_seen: iso(toMinute(row.first_seen)),
      last_seen: iso(toMinute(row.last_seen)),
    };
  }

  // Revocations and roles --------------------------------------------------------------------------

  revocations(): Map<string, number> {
    const rows = this.sql.exec<{ peer: string; before: number }>(`SELECT peer, before FROM revocations`).toArray();
    return new Map(rows.map((r) => [r.peer, r.before]));
  }

  revoke(peer: string, before: number): void {
    this.sql.exec(
      `INSERT INTO revocations (peer, before) VALUES (?1, ?2) ON CONFLICT (peer) DO UPDATE SET before = MAX(before, ?2)`,
      peer,
      before,
    );
  }

  setObserver(peer: string, observer: boolean): void {
    if (observer) this.sql.exec(`INSERT OR IGNORE INTO observers (name) VALUES (?)`, peer);
    else this.sql.exec(`DELETE FROM observers WHERE name = ?`, peer);
  }

  observerNames(): Set<string> {
    return new Set(this.sql.exec<{ name: string }>(`SELECT name FROM observers`).toArray().map((r) => r.name));
  }
}

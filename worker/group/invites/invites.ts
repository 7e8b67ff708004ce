/**
 * Invites: the signed link is checked by the Worker; how often it was used and whether it was
 * revoked is kept here, so a link for one person works once however often it is opened. Redeeming
 * one takes a use and claims the peer name in the same transaction.
 */
import { fail, ok, type Outcome, type Problem } from "../types.ts";
import type { Peers } from "../peers/peers.ts";
import { iso } from "../rows.ts";
import { inviteNameProblem } from "./reserved-names.ts";

/** An invite as the group object keeps it (the signed code itself is never stored). */
export interface InviteRecord {
  id: string;
  max_uses: number;
  observer: boolean;
  created_at: string;
  expires_at: string;
  revoked_at: string | null;
  /** The peers who joined with it, oldest first. */
  used_by: string[];
}

interface InviteRow extends Record<string, SqlStorageValue> {
  id: string;
  max_uses: number;
  observer: number;
  created_at: number;
  expires_at: number;
  revoked_at: number | null;
  used_by: string;
}

export class Invites {
  private readonly sql: SqlStorage;
  private readonly peers: Peers;

  constructor(sql: SqlStorage, peers: Peers) {
    this.sql = sql;
    this.peers = peers;
  }

  /** Records an invite the secret holder made; recording it again changes nothing. */
  add(invite: { id: string; maxUses: number; observer: boolean; expiresAt: number }): InviteRecord {
    this.sql.exec(
      `INSERT OR IGNORE INTO invites (id, max_uses, observer, created_at, expires_at) VALUES (?, ?, ?, ?, ?)`,
      invite.id,
      invite.maxUses,
      invite.observer ? 1 : 0,
      Date.now(),
      invite.expiresAt,
    );
    return this.get(invite.id)!;
  }

  get(id: string): InviteRecord | undefined {
    return this.select(`WHERE id = ?`, id)[0];
  }

  /** Every invite, newest first, with who joined with it. */
  all(): InviteRecord[] {
    return this.select("");
  }

  revoke(id: string): Outcome<InviteRecord> {
    const found = this.sql.exec(`UPDATE invites SET revoked_at = COALESCE(revoked_at, ?) WHERE id = ? RETURNING id`, Date.now(), id).toArray().length > 0;
    if (!found) return fail("not_found", `No invite '${id}' in this group: \`--list\` shows them.`);
    return ok(this.get(id)!);
  }

  /**
   * Takes one use of a (signature-checked) invite for `peer` and reserves the name, so the token
   * the Worker then signs is the only one for it. Refuses, saying what to do, when the invite is
   * unknown, revoked, expired or used up, or the name is already someone's in this group, reserved,
   * or a look-alike of either.
   */
  redeem(group: string, id: string, peer: string): Outcome<{ observer: boolean; issuedAfter: number }> {
    const now = Date.now();
    const refused = this.problem(id, now);
    if (refused) return { ok: false, problem: refused };
    // Taken, reserved by minting, or a look-alike of either (reserved-names.ts).
    const nameRefused = inviteNameProblem(this.sql, group, peer, now);
    if (nameRefused) return { ok: false, problem: nameRefused };
    // No await between these writes: the use and the name are taken together or not at all.
    this.sql.exec(`INSERT INTO invite_uses (invite, peer, at) VALUES (?, ?, ?)`, id, peer, now);
    // The Worker signs the new token with an issue time at or after `issuedAfter`, whatever its clock.
    this.peers.claim(peer, now);
    return ok({ observer: this.get(id)!.observer, issuedAfter: now });
  }

  /** Why this invite cannot be used now, or null if it can (the invite page asks before showing its form). */
  problem(id: string, now: number): Problem | null {
    const invite = this.get(id);
    const refused = (message: string): Problem => ({ code: "invite_refused", message });
    if (!invite) return refused("This relay has no record of this invite (made for another relay, or never registered). Ask for a new invite.");
    if (invite.revoked_at !== null) return refused("This invite was revoked. Ask whoever sent it for a new one.");
    if (Date.parse(invite.expires_at) <= now) return refused(`This invite expired at ${invite.expires_at}. Ask whoever sent it for a new one.`);
    if (invite.used_by.length >= invite.max_uses) {
      const times = invite.max_uses === 1 ? "once" : `${invite.max_uses} times`;
      return refused(`This invite has already been used ${times}, all it allows. Ask whoever sent it for a new one.`);
    }
    return null;
  }

  private select(where: string, ...binds: SqlStorageValue[]): InviteRecord[] {
    return this.sql
      .exec<InviteRow>(
        `SELECT i.*, COALESCE((SELECT json_group_array(peer) FROM (SELECT peer FROM invite_uses u WHERE u.invite = i.id ORDER BY at)), '[]') AS used_by
         FROM invites i ${where} ORDER BY created_at DESC`,
        ...binds,
      )
      .toArray()
      .map((row) => ({
        id: row.id,
        max_uses: row.max_uses,
        observer: row.observer === 1,
        created_at: iso(row.created_at),
        expires_at: iso(row.expires_at),
        revoked_at: row.revoked_at === null ? null : iso(row.revoked_at),
        used_by: JSON.parse(row.used_by) as string[],
      }));
  }
}

/**
 * Which names an invite may not take, in one place: the names the group has seen (its peers, and
 * every name ever revoked), the names the secret holder reserved by minting a token through the
 * relay (scripts/token.ts with --url), and every name that looks like one of those
 * (contract/names.ts, nameSkeleton).
 *
 * Reserving matters because redeeming an invite voids every earlier token for its name (two
 * holders must never speak as one peer): without it, an invite could take the name of a token
 * minted but not yet used, a lead's or an observer's included, and void it.
 *
 * A lead's or an observer's name stays reserved for good. A plain peer's lasts as long as the
 * last token minted for it (for good without --ttl): once that has expired, nobody can still
 * arrive with it, and if its holder did use it the name is a peer's and taken anyway.
 */
import { LOOK_ALIKE_RULE, lookAlikeOf } from "../../../contract/names.ts";
import type { NameRole } from "../../../contract/token.ts";
import type { Problem } from "../types.ts";

/** The migration worker/group/schema.ts appends. `expires_at` NULL means never. */
export const RESERVED_NAMES_SCHEMA: readonly string[] = [
  `CREATE TABLE reserved_names (
     name TEXT PRIMARY KEY,
     role TEXT NOT NULL,
     reserved_at INTEGER NOT NULL,
     expires_at INTEGER
   )`,
];

export interface NameReservation {
  group: string;
  name: string;
  /** The role of the newest token minted for the name. */
  role: NameRole;
  reserved_at: string;
  /** When the reservation lapses; null: never. */
  expires_at: string | null;
  /** A peer of this name has used the group already: the new token speaks as that peer. */
  known_peer: boolean;
  /** Another name the group knows that this one looks like, for the secret holder to notice. */
  looks_like: string | null;
}

type Source = "peer" | "revoked" | "reserved";

/** Every name an invite may neither take nor imitate, with where it comes from. */
function knownNames(sql: SqlStorage, now: number): { name: string; source: Source }[] {
  return sql
    .exec<{ name: string; source: Source }>(
      `SELECT name, 'peer' AS source FROM peers
       UNION ALL SELECT peer, 'revoked' FROM revocations
       UNION ALL SELECT name, 'reserved' FROM reserved_names WHERE expires_at IS NULL OR expires_at > ?`,
      now,
    )
    .toArray();
}

/**
 * Records that a token was minted for `name`. Several mints of one name keep the reservation
 * until the last of them could expire; a lead's or an observer's never expires.
 */
export function reserveName(sql: SqlStorage, group: string, name: string, role: NameRole, tokenExpiresAt: number | null, now: number): NameReservation {
  const expiresAt = role === "peer" ? tokenExpiresAt : null;
  const row = sql
    .exec<{ role: NameRole; reserved_at: number; expires_at: number | null }>(
      `INSERT INTO reserved_names (name, role, reserved_at, expires_at) VALUES (?1, ?2, ?3, ?4)
       ON CONFLICT (name) DO UPDATE SET
         role = excluded.role,
         reserved_at = excluded.reserved_at,
         expires_at = CASE WHEN reserved_names.expires_at IS NULL OR excluded.expires_at IS NULL THEN NULL
                           ELSE MAX(reserved_names.expires_at, excluded.expires_at) END
       RETURNING role, reserved_at, expires_at`,
      name,
      role,
      now,
      expiresAt,
    )
    .one();
  const known = knownNames(sql, now);
  return {
    group,
    name,
    role: row.role,
    reserved_at: new Date(row.reserved_at).toISOString(),
    expires_at: row.expires_at === null ? null : new Date(row.expires_at).toISOString(),
    known_peer: known.some((k) => k.name === name && k.source === "peer"),
    looks_like: lookAlikeOf(name, known.map((k) => k.name)),
  };
}

/**
 * Why an invite may not give `name` away, or null if it may: `name_taken` for a name the group
 * knows, `name_confusable` for one that looks like such a name.
 */
export function inviteNameProblem(sql: SqlStorage, group: string, name: string, now: number): Problem | null {
  const known = knownNames(sql, now);
  const same = known.filter((k) => k.name === name);
  if (same.some((k) => k.source !== "reserved")) {
    return { code: "name_taken", message: `The name '${name}' is already taken in group '${group}'. Pick another name.` };
  }
  if (same.length > 0) {
    return {
      code: "name_taken",
      message: `The name '${name}' is reserved in group '${group}': the team minted a token for it. Pick another name (if that token is meant for you, use it instead of this invite).`,
    };
  }
  const original = lookAlikeOf(name, known.map((k) => k.name));
  if (original !== null) {
    return {
      code: "name_confusable",
      message: `The name '${name}' looks like '${original}', already in group '${group}': ${LOOK_ALIKE_RULE}. Pick a name that differs from it in a letter.`,
    };
  }
  return null;
}

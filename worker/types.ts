/**
 * The group's vocabulary for the Worker's layers (the tools, the web room, the invite pages): each
 * value is declared once, by the part of the group that owns it, and gathered here.
 */
export * from "./group/types.ts";
export type { PeerInfo, Profile } from "./group/peers/schemas.ts";
export type { Answer, AskInput, HistoryPage, HistoryQuery, Inbox, SendInput, Sent } from "./group/mail/schemas.ts";
export type { StateEntry } from "./group/board/schemas.ts";
export type { InviteRecord } from "./group/invites/invites.ts";

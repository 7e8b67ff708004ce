/** The room's frames and snapshot, declared by the group (group/room-frames.ts); the page's script imports them from here. */
export type { BoardEntry, PauseInfo, RoomFrame, RoomMessage, RoomPeer, RoomSnapshot } from "../group/room-frames.ts";

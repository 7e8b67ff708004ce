/** Writing to and closing a hibernatable socket without throwing, whatever state it is in. */
import type { ServerFrame } from "../../../contract/frames.ts";

/**
 * Closes a socket quietly. `code` may be one the peer sent us: 1005 ("no code given") and 1006
 * ("closed abnormally") are reserved and may never be sent in a close frame, so they are answered
 * with 1000; and after a 1006 there is no transport left to send anything on, so nothing is sent.
 */
export function closeQuietly(ws: WebSocket, code: number, reason: string): void {
  if (code === 1006 || ws.readyState === WebSocket.CLOSED) return;
  try {
    ws.close(code === 1005 ? 1000 : code, reason);
  } catch {
    // Closed in the meantime: nothing left to do.
  }
}

export function sendText(ws: WebSocket, text: string): void {
  try {
    ws.send(text);
  } catch {
    // A socket that is closing cannot be written to; its client catches up when it reconnects.
  }
}

export function sendFrame(ws: WebSocket, frame: ServerFrame): void {
  sendText(ws, JSON.stringify(frame));
}

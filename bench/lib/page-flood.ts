/**
 * A web-room page socket that floods: signed in the way the room's page signs in (POST /session
 * with the peer token, from the relay's own origin, which sets the session cookie), then the live
 * socket at /g/<group>/ws with that cookie and Origin, as a browser opens it. It then sends 4 KB
 * text frames as fast as the connection takes them, bounded in count and in time, and records
 * whether and when the relay closed it.
 */
import WebSocket from "ws";
import { now, sleep } from "./stats.ts";

/** The flood's bounds: past these it reports "not closed" instead of hanging the run. */
const PAGE_FLOOD: FloodBounds = { maxFrames: 5_000, maxMs: 10_000, frameBytes: 4 * 1024 };
/** After the flood's last frame, how long a close from the relay still counts as its answer. */
const PAGE_CLOSE_GRACE_MS = 3_000;

export interface FloodBounds {
  /** Frames sent at most. */
  maxFrames: number;
  /** Milliseconds of sending at most. */
  maxMs: number;
  frameBytes: number;
}

export interface FloodEnd {
  framesSent: number;
  sendingMs: number;
  /** How the relay closed the socket while the flood ran, or null if it did not. */
  closed: { code: number; reason: string; afterFrames: number } | null;
}

/** Bytes the client may have queued before the flood waits for the connection to drain. */
const MAX_BUFFERED_BYTES = 1024 * 1024;

/** The session cookie (name=value) the relay sets for `token` when the room's page signs in. */
export async function signIn(relayUrl: string, token: string): Promise<string> {
  const response = await fetch(`${relayUrl}/session`, {
    method: "POST",
    headers: { "Content-Type": "application/json", Origin: relayUrl },
    body: JSON.stringify({ token }),
  });
  if (!response.ok) throw new Error(`sign-in refused: HTTP ${response.status} ${await response.text()}`);
  const cookie = response.headers.getSetCookie().map((c) => c.split(";")[0]!).filter((c) => !c.endsWith("="));
  if (cookie.length === 0) throw new Error("sign-in answered without a session cookie");
  return cookie.join("; ");
}

export class PageFlood {
  private closed: FloodEnd["closed"] = null;
  private framesSent = 0;
  private readonly socket: WebSocket;
  private readonly closing: Promise<void>;

  private constructor(socket: WebSocket) {
    this.socket = socket;
    // A relay that drops the connection instead of closing it raises an error before the close
    // event; the close event is what counts (its code says how it ended), so the error is ignored.
    socket.on("error", () => {});
    this.closing = new Promise((resolve) =>
      socket.once("close", (code, reason) => {
        this.closed = { code, reason: String(reason), afterFrames: this.framesSent };
        resolve();
      }),
    );
  }

  /** Signs `token` in and opens the room's live socket for `group`, as the page does. */
  static async open(relayUrl: string, group: string, token: string, timeoutMs = 15_000): Promise<PageFlood> {
    const cookie = await signIn(relayUrl, token);
    const socket = new WebSocket(`${relayUrl.replace(/^http/, "ws")}/g/${group}/ws`, {
      headers: { Cookie: cookie },
      origin: relayUrl,
      perMessageDeflate: false,
    });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("page socket did not open in time")), timeoutMs);
      socket.once("open", () => {
        clearTimeout(timer);
        resolve();
      });
      socket.once("unexpected-response", (_request, response) => {
        clearTimeout(timer);
        reject(new Error(`page socket refused: HTTP ${response.statusCode}`));
      });
      socket.once("error", (error) => {
        clearTimeout(timer);
        reject(error);
      });
    });
    return new PageFlood(socket);
  }

  /** Floods until the relay closes the socket or a bound is reached; resolves at the flood's end. */
  async run(bounds: FloodBounds): Promise<FloodEnd> {
    const frame = "x".repeat(bounds.frameBytes);
    const start = now();
    const deadline = start + bounds.maxMs;
    while (this.framesSent < bounds.maxFrames && now() < deadline && this.socket.readyState === WebSocket.OPEN) {
      if (this.socket.bufferedAmount > MAX_BUFFERED_BYTES) {
        await sleep(2);
        continue;
      }
      this.socket.send(frame);
      this.framesSent++;
      // Let the close event (if the relay sent one) be seen between batches.
      if (this.framesSent % 50 === 0) await new Promise((resolve) => setImmediate(resolve));
    }
    return { framesSent: this.framesSent, sendingMs: Math.round(now() - start), closed: this.closed };
  }

  /** How the relay closed the socket, waiting up to `ms` for it; null if it stayed open. */
  async closedWithin(ms: number): Promise<FloodEnd["closed"]> {
    await Promise.race([this.closing, sleep(ms)]);
    return this.closed;
  }

  terminate(): void {
    this.socket.terminate();
  }
}

/**
 * bench:abuse's page row: floods until the relay closes the socket or a bound is reached. What it
 * returns is the attacker's outcome; a close that comes after the last frame settles later.
 */
export function pageAttack(relayUrl: string, group: string, token: string) {
  return {
    name: "page",
    what: `one signed-in web-room page socket sending ${PAGE_FLOOD.frameBytes / 1024} KB frames as fast as it can (at most ${PAGE_FLOOD.maxFrames.toLocaleString("en")} frames or ${PAGE_FLOOD.maxMs / 1000} s)`,
    endsItself: true,
    async run(): Promise<Record<string, number | string | Promise<string>>> {
      const flood = await PageFlood.open(relayUrl, group, token);
      const end = await flood.run(PAGE_FLOOD);
      const sent = `${end.framesSent} frames (${Math.round((end.framesSent * PAGE_FLOOD.frameBytes) / 1e5) / 10} MB) in ${(end.sendingMs / 1000).toFixed(1)} s`;
      if (end.closed) {
        flood.terminate();
        return { relay: `closed it after ${end.closed.afterFrames} frames (${`${end.closed.code} ${end.closed.reason}`.trim()})`, sent };
      }
      // The relay may still be working through frames already sent: its close then comes late,
      // and settles after the moment the bystander's "afterwards" is timed from.
      const relay = flood.closedWithin(PAGE_CLOSE_GRACE_MS).then((closed) => {
        flood.terminate();
        return closed
          ? `closed it after its last frame (${`${closed.code} ${closed.reason}`.trim()})`
          : `never closed it (no close within ${PAGE_CLOSE_GRACE_MS / 1000} s after its last frame)`;
      });
      return { relay, sent };
    },
  };
}

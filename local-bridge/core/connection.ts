/**
 * The bridge's socket to its group: connect, say hello, pass frames up, keep the link alive, and
 * reconnect after any drop until told to stop or refused for good.
 *
 * Library choice: `ws` for the socket, with the reconnect loop written here (about 40 lines).
 * partysocket (ReconnectingWebSocket) was the first candidate, and it was tried with `ws` as its
 * constructor against a server answering 401: it reports only "Unexpected server response: 401"
 * and a synthetic close 1000, drops the response body (the relay's "what to do" message), and has
 * already scheduled the next attempt. It also has no jitter (every bridge would reconnect in lock
 * step after a relay deploy), does not expose its next delay (the status line says "retrying in
 * N s"), and replays sends queued while closed onto the next socket before our `hello`. `ws` gives
 * the refused upgrade's status and body through its 'unexpected-response' event, custom headers,
 * and a handshake timeout; what is left is a backoff loop small enough to read in one screen.
 *
 * Relay-supplied text (a refused upgrade's body, close reasons, error frames) passes
 * `sanitizeRelayText` here, where it arrives, so nothing above this module prints raw relay text.
 */
import { describeNetworkError } from "./network-errors.ts";
import WebSocket from "ws";
import {
  CLOSE_CODES,
  KEEPALIVE_PING,
  KEEPALIVE_PONG,
  parseFrame,
  ServerFrame,
  type AckFrame,
  type ErrorFrame,
  type HelloFrame,
  type NoticeFrame,
  type ReadFrame,
  type WelcomeFrame,
} from "../../contract/frames.ts";
import { BridgeError } from "./errors.ts";
import { sanitizeRelayText } from "./notices.ts";

export type ConnectionState =
  | { state: "connecting"; attempt: number }
  | { state: "connected" }
  | { state: "retrying"; delayMs: number; reason: string };

export interface ConnectionOptions {
  /** `ws(s)://…/groups/<group>/ws`. */
  socketUrl: string;
  token: string;
  /** Decides `hello.last_acked` once the relay has said who we are; called on every (re)connect. */
  helloLastAcked(welcome: WelcomeFrame): number | null;
  onNotice(frame: NoticeFrame): void;
  onState(state: ConnectionState): void;
  /** A frame the relay refused; `code` and `message` arrive sanitised for printing. */
  onErrorFrame?(frame: ErrorFrame): void;
  /** The peer read its mail up to a seq, from any of its sessions. */
  onRead?(frame: ReadFrame): void;
  /** How often to send the text `ping`. */
  pingIntervalMs?: number;
  /** Drop the socket when nothing at all was heard for this long. */
  deadAfterMs?: number;
  /** First retry waits about this long; each failure doubles it, up to `backoffCapMs`. */
  backoffBaseMs?: number;
  backoffCapMs?: number;
  /** A connection that lasted this long resets the backoff. */
  stableAfterMs?: number;
  handshakeTimeoutMs?: number;
  random?: () => number;
}

/**
 * Exponential backoff with "equal jitter": half the window is fixed, half random, so a relay
 * restart spreads reconnecting bridges over time without any of them retrying at once.
 */
export function backoffDelay(attempt: number, baseMs: number, capMs: number, random: () => number = Math.random): number {
  const window = Math.min(capMs, baseMs * 2 ** Math.min(attempt, 30));
  return Math.round(window / 2 + random() * (window / 2));
}

/** How one socket ended: either worth another try, or final. */
type Ending = { final: false; reason: string; uptimeMs: number } | { final: true; error: BridgeError };

/** HTTP statuses on the upgrade that waiting will not fix. */
const FINAL_HTTP_STATUSES = new Set([400, 401, 403, 404, 410]);

export class RelayConnection {
  private readonly opts: Required<Omit<ConnectionOptions, "onErrorFrame" | "onRead">> & Pick<ConnectionOptions, "onErrorFrame" | "onRead">;
  private socket: WebSocket | null = null;
  private stopped = false;
  private wake: (() => void) | null = null;

  constructor(options: ConnectionOptions) {
    this.opts = {
      pingIntervalMs: 20_000,
      deadAfterMs: 50_000,
      backoffBaseMs: 1_000,
      backoffCapMs: 30_000,
      stableAfterMs: 10_000,
      handshakeTimeoutMs: 15_000,
      random: Math.random,
      ...options,
    };
  }

  /**
   * Connects and keeps reconnecting. Resolves after `stop()`; rejects with a BridgeError when the
   * relay refuses us for good (bad token, wrong group, revoked).
   */
  async run(): Promise<void> {
    let attempt = 0;
    while (!this.stopped) {
      this.opts.onState({ state: "connecting", attempt });
      const ending = await this.connectOnce();
      if (this.stopped) return;
      if (ending.final) throw ending.error;
      if (ending.uptimeMs >= this.opts.stableAfterMs) attempt = 0;
      const delayMs = backoffDelay(attempt++, this.opts.backoffBaseMs, this.opts.backoffCapMs, this.opts.random);
      this.opts.onState({ state: "retrying", delayMs, reason: ending.reason });
      await this.sleep(delayMs);
    }
  }

  /** Tells the relay every notice up to `seq` was handled. Dropped when offline: the next hello says it. */
  sendAck(seq: number): void {
    const frame: AckFrame = { type: "ack", seq };
    if (this.socket?.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify(frame));
  }

  stop(): void {
    this.stopped = true;
    this.wake?.();
    const socket = this.socket;
    if (socket && (socket.readyState === WebSocket.OPEN || socket.readyState === WebSocket.CONNECTING)) {
      socket.close(1000, "bridge stopped");
      // A peer that never answers our close must not keep the process alive.
      setTimeout(() => socket.terminate(), 2_000).unref();
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wake = done;
    });
  }

  private connectOnce(): Promise<Ending> {
    return new Promise((resolve) => {
      const socket = new WebSocket(this.opts.socketUrl, {
        headers: { Authorization: `Bearer ${this.opts.token}` },
        handshakeTimeout: this.opts.handshakeTimeoutMs,
        // Notices are ~150-byte JSON frames: compression costs CPU on both ends and saves nothing.
        perMessageDeflate: false,
      });
      this.socket = socket;
      let openedAt = 0;
      let lastHeard = Date.now();
      let lastPing = 0;
      let reason = "connection lost";
      let finalError: BridgeError | null = null;
      let answered = false; // the upgrade got an HTTP answer: its reason beats ws's own error text
      let keepalive: NodeJS.Timeout | undefined;

      // The relay answers a refused upgrade with JSON {error, message}; the message says what to do.
      socket.on("unexpected-response", (request, response) => {
        const status = response.statusCode ?? 0;
        answered = true;
        const chunks: Buffer[] = [];
        let size = 0;
        response.on("data", (chunk: Buffer) => {
          if (size < 16_384) chunks.push(chunk);
          size += chunk.length;
        });
        response.on("end", () => {
          const detail = describeRefusal(status, Buffer.concat(chunks).toString("utf8"));
          if (FINAL_HTTP_STATUSES.has(status)) {
            finalError = new BridgeError(`the relay refused this bridge (HTTP ${status}): ${detail}`);
          } else {
            reason = `relay answered HTTP ${status}${detail ? `: ${detail}` : ""}`;
          }
          request.destroy();
          socket.terminate();
        });
        response.on("error", () => socket.terminate());
      });

      socket.on("open", () => {
        openedAt = Date.now();
        lastHeard = openedAt;
        const tick = Math.max(10, Math.min(this.opts.pingIntervalMs, this.opts.deadAfterMs) / 4);
        keepalive = setInterval(() => {
          const now = Date.now();
          if (now - lastHeard > this.opts.deadAfterMs) {
            reason = `nothing heard from the relay for ${Math.round((now - lastHeard) / 1000)} s`;
            socket.terminate();
          } else if (now - lastPing >= this.opts.pingIntervalMs) {
            lastPing = now;
            socket.send(KEEPALIVE_PING);
          }
        }, tick);
      });

      socket.on("message", (data, isBinary) => {
        lastHeard = Date.now();
        if (isBinary) return;
        const text = data.toString();
        if (text === KEEPALIVE_PONG) return;
        const frame = parseFrame(ServerFrame, text);
        if (!frame) return; // A newer relay may send frames this bridge does not know yet.
        // No case for `replay_done`: replayed and live notices are told apart by seq alone.
        switch (frame.type) {
          case "welcome": {
            this.opts.onState({ state: "connected" });
            const hello: HelloFrame = { type: "hello", last_acked: this.opts.helloLastAcked(frame) };
            socket.send(JSON.stringify(hello));
            break;
          }
          case "notice":
            this.opts.onNotice(frame);
            break;
          case "read":
            this.opts.onRead?.(frame);
            break;
          case "error":
            this.opts.onErrorFrame?.({ ...frame, code: sanitizeRelayText(frame.code), message: sanitizeRelayText(frame.message) });
            break;
        }
      });

      socket.on("error", (error: NodeJS.ErrnoException) => {
        if (!answered) reason = describeNetworkError(error, this.opts.socketUrl);
      });

      socket.on("close", (code, reasonBuffer) => {
        clearInterval(keepalive);
        if (this.socket === socket) this.socket = null;
        const closeReason = sanitizeRelayText(reasonBuffer.toString());
        if (finalError) return resolve({ final: true, error: finalError });
        if (code === CLOSE_CODES.revoked) {
          return resolve({
            final: true,
            error: new BridgeError(
              `the relay revoked this token${closeReason ? ` (${closeReason})` : ""}: ask whoever runs the relay for a new token`,
            ),
          });
        }
        if (code >= 4000 && code < 5000 && code !== CLOSE_CODES.stale) {
          return resolve({
            final: true,
            error: new BridgeError(`the relay closed the connection for good (code ${code}${closeReason ? `: ${closeReason}` : ""})`),
          });
        }
        if (openedAt > 0 && code !== 1006) reason = `relay closed the connection (code ${code}${closeReason ? `: ${closeReason}` : ""})`;
        resolve({ final: false, reason, uptimeMs: openedAt > 0 ? Date.now() - openedAt : 0 });
      });
    });
  }
}

function describeRefusal(status: number, body: string): string {
  try {
    const json = JSON.parse(body) as { error?: unknown; message?: unknown };
    const message = typeof json.message === "string" ? sanitizeRelayText(json.message) : "";
    const error = typeof json.error === "string" ? sanitizeRelayText(json.error) : "";
    if (message || error) return [message, error && message ? `(${error})` : error].filter(Boolean).join(" ");
  } catch {
    // Not the relay's JSON: a proxy or a wrong URL. Say what we can.
  }
  if (status === 404) return "nothing answers at this URL: check --url points at the relay";
  return sanitizeRelayText(body);
}

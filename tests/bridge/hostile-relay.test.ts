/**
 * `relay-bridge connect` as a real process against a relay that sends terminal escapes in every
 * piece of text the bridge prints: a refused upgrade's body, an error frame, a close reason. A
 * terminal obeys escapes on stderr too (OSC 52 writes the clipboard, CSI 2J clears the screen),
 * so none may reach the bridge's output.
 */
import { afterEach, describe, expect, it } from "vitest";
import { signToken } from "../../contract/token.ts";
import { startBridge, stopBridge, type BridgeProcess } from "../helpers/bridge-process.ts";
import { TEST_SECRET } from "../test-secret.ts";
import { ScriptedRelay, type Answer } from "./scripted-relay.ts";

const CLIPBOARD = "\x1b]52;c;aGVsbG8=\x07";
const CLEAR = "\x1b[2J";
const TERMINAL_CONTROL = /[\x07\x1b\x9b]/;

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

async function run(answer: (attempt: number) => Answer): Promise<BridgeProcess> {
  const relay = await ScriptedRelay.start(answer);
  cleanups.push(() => relay.stop());
  const token = await signToken(TEST_SECRET, { g: "core", p: "alice", iat: Date.now() });
  const bridge = startBridge(["connect", "--url", relay.url, "--token", token, "--stdout"]);
  cleanups.push(() => stopBridge(bridge));
  return bridge;
}

describe("relay text on the terminal", { timeout: 30_000 }, () => {
  it("strips escapes from refusal bodies, error frames and close reasons", async () => {
    const bridge = await run((attempt) => {
      if (attempt === 1) return { refuse: { status: 503, body: `proxy ${CLIPBOARD}down${CLEAR}` } };
      if (attempt === 2) {
        return {
          accept: async (socket) => {
            await socket.greet();
            socket.send({ type: "error", code: `bad${CLEAR}_frame`, message: `boom ${CLIPBOARD}now${CLEAR}\r\nfake line` });
            socket.close(1011, `bye ${CLEAR}${CLIPBOARD}later`);
          },
        };
      }
      const body = JSON.stringify({ error: `invalid${CLEAR}_token`, message: `Token refused ${CLIPBOARD}${CLEAR}: ask for a new one.` });
      return { refuse: { status: 401, body } };
    });
    expect(await bridge.exited).toBe(1);
    const err = bridge.stderr();
    expect(err).toContain("relay answered HTTP 503: proxy down");
    expect(err).toContain("relay: boom now fake line (bad_frame)");
    expect(err).toContain("relay closed the connection (code 1011: bye later)");
    expect(err).toContain("refused this bridge (HTTP 401): Token refused : ask for a new one. (invalid_token)");
    expect(err).not.toMatch(TERMINAL_CONTROL);
    expect(bridge.stdout()).not.toMatch(TERMINAL_CONTROL);
  });

  it("strips escapes from the reason of a final close, and caps its length", async () => {
    const bridge = await run(() => ({
      accept: async (socket) => {
        await socket.greet();
        socket.send({ type: "error", code: "x", message: `${CLEAR}${"long ".repeat(2_000)}` });
        socket.close(4401, `gone${CLIPBOARD}${CLEAR}`);
      },
    }));
    expect(await bridge.exited).toBe(1);
    const err = bridge.stderr();
    expect(err).toContain("the relay revoked this token (gone)");
    expect(err).not.toMatch(TERMINAL_CONTROL);
    const longest = Math.max(...err.split("\n").map((line) => line.length));
    expect(longest).toBeLessThan(400);
  });
});

/**
 * The web room's page socket through the real Worker and the real group object: a page pays for
 * every frame it sends out of the same budget a bridge does, so a signed-in page (an observer's
 * too) that floods is closed with a reason, and nobody else waits on it. And the identity the
 * Worker forwards with an upgrade, page or bridge, is the verified token's, role included.
 */
import { afterEach, describe, expect, it } from "vitest";
import { CLOSE_CODES, KEEPALIVE_PING, KEEPALIVE_PONG } from "../../contract/frames.ts";
import { SOCKET_FRAME_BURST } from "../../contract/limits.ts";
import { BASE, closeSockets, freshGroup, mint, openSocket, peer, workerFetch } from "./helpers.ts";

const ORIGIN = BASE;
const FLOOD_FRAMES = 5_000;
const open = new Set<WebSocket>();

afterEach(() => {
  closeSockets();
  for (const ws of open) {
    try {
      ws.close(1000, "test done");
    } catch {
      // Already closed.
    }
  }
  open.clear();
});

async function signIn(token: string): Promise<string> {
  const response = await workerFetch(`${BASE}/session`, { method: "POST", headers: { Origin: ORIGIN, "Content-Type": "application/json" }, body: JSON.stringify({ token }) });
  expect(response.status).toBe(200);
  return (response.headers.get("Set-Cookie") ?? "").split(";")[0]!;
}

/** Opens the room's socket as the page does: the session cookie, from the relay's own origin. */
async function openPage(group: string, cookie: string) {
  const response = await workerFetch(`${BASE}/g/${group}/ws`, { headers: { Upgrade: "websocket", Cookie: cookie, Origin: ORIGIN } });
  expect(response.status).toBe(101);
  const ws = response.webSocket!;
  const received: string[] = [];
  let isClosed = false;
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.addEventListener("close", (event) => {
      isClosed = true;
      resolve({ code: event.code, reason: event.reason });
    }),
  );
  ws.addEventListener("message", (event) => {
    received.push(String(event.data));
  });
  ws.accept();
  open.add(ws);
  return { ws, received, closed, isClosed: () => isClosed };
}

describe("a page socket that floods frames", () => {
  it(`an observer's page sending ${FLOOD_FRAMES} 4 KB frames is closed with ${CLOSE_CODES.tooManyFrames} and a reason; a bystander's call and /health answer`, async () => {
    const group = freshGroup("pageflood");
    const alice = await peer(group, "alice");
    const bob = await peer(group, "bob");
    await bob.call("list_peers");
    const page = await openPage(group, await signIn(await mint(group, "owl", { r: "observer" })));

    const frame = "x".repeat(4_096);
    let sent = 0;
    for (; sent < FLOOD_FRAMES && !page.isClosed(); sent++) {
      try {
        page.ws.send(frame);
      } catch {
        break; // Closed under us: the relay has done its part.
      }
      // Let the close reach us between bursts, as a real client's event loop would.
      if (sent % 100 === 99) await new Promise((resolve) => setTimeout(resolve, 0));
    }
    const closed = await page.closed;
    expect(closed.code).toBe(CLOSE_CODES.tooManyFrames);
    expect(closed.reason).toMatch(/frames\/s/);
    expect(sent).toBeGreaterThan(SOCKET_FRAME_BURST);

    // Nobody else waited on the flood: a tool call, the mail it sends and /health all answer.
    const posted = await alice.call("send_message", { text: "still here" });
    expect(posted.isError).toBe(false);
    const read = await bob.call("read_new_messages");
    expect(read.data.messages.map((m: { text: string }) => m.text)).toEqual(["still here"]);
    const health = await workerFetch(`${BASE}/health`);
    expect(health.status).toBe(200);
  });

  it("a page's keep-alive pings are answered by the runtime and close nothing, and the page still hears messages", async () => {
    const group = freshGroup("pageping");
    const alice = await peer(group, "alice");
    const page = await openPage(group, await signIn(await mint(group, "dana")));
    for (let i = 0; i < SOCKET_FRAME_BURST * 4; i++) page.ws.send(KEEPALIVE_PING);
    await expect.poll(() => page.received.filter((text) => text === KEEPALIVE_PONG).length).toBe(SOCKET_FRAME_BURST * 4);
    await alice.call("send_message", { text: "after the pings" });
    await expect.poll(() => page.received.some((text) => text.includes("after the pings"))).toBe(true);
    expect(page.isClosed()).toBe(false);
  });
});

describe("the identity an upgrade carries", () => {
  it("an observer's page hears DMs between others; an observer's bridge keeps it listed as an observer", async () => {
    const group = freshGroup("pagerole");
    const alice = await peer(group, "alice");
    const bob = await peer(group, "bob");
    await bob.call("list_peers");
    const owlToken = await mint(group, "owl", { r: "observer" });
    const page = await openPage(group, await signIn(owlToken));
    await alice.call("send_dm", { to: "bob", text: "between alice and bob" });
    await expect.poll(() => page.received.some((text) => text.includes("between alice and bob"))).toBe(true);

    await openSocket(group, owlToken);
    const listed = await alice.call("list_peers");
    expect(listed.data.peers.find((p: { name: string }) => p.name === "owl")).toMatchObject({ observer: true });
  });
});

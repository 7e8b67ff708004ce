/**
 * What the room's snapshot tells the person looking at it: DMs and questions still unread for
 * them (none for an observer, who is asked nothing), who is online (a page counts), and no peer
 * whose tokens were revoked since it was last seen.
 */
import { afterEach, describe, expect, it } from "vitest";
import { signAdminProof } from "../../contract/token.ts";
import type { RoomSnapshot } from "../../worker/group/room-frames.ts";
import { TEST_SECRET } from "../test-secret.ts";
import { BASE, freshGroup, mint, peer, workerFetch } from "./helpers.ts";

const open = new Set<WebSocket>();
afterEach(() => {
  for (const ws of open) ws.close(1000, "test done");
  open.clear();
});

async function signIn(token: string): Promise<string> {
  const response = await workerFetch(`${BASE}/session`, { method: "POST", headers: { Origin: BASE, "Content-Type": "application/json" }, body: JSON.stringify({ token }) });
  expect(response.status).toBe(200);
  return (response.headers.get("Set-Cookie") ?? "").split(";")[0]!;
}

async function room(group: string, cookie: string): Promise<RoomSnapshot> {
  const response = await workerFetch(`${BASE}/g/${group}/api/room`, { headers: { Cookie: cookie } });
  expect(response.status).toBe(200);
  return (await response.json()) as RoomSnapshot;
}

describe("the room snapshot shows what needs you", () => {
  it("lists the DMs and questions unread for the viewer; an observer gets no questions", async () => {
    const group = freshGroup("attention");
    const alice = await peer(group, "alice");
    const bob = await peer(group, "bob");
    await bob.call("list_peers");
    const dm = await alice.call("send_dm", { to: "bob", text: "urgent: look at the build", urgent: true });
    await alice.call("ask_peer", { to: "bob", question: "merge now?", timeout_seconds: 0 });
    await alice.call("send_message", { text: "for everyone" });

    const seen = await room(group, await signIn(bob.token));
    expect(seen.needs_you!.map((m) => [m.kind, m.text])).toEqual([
      ["dm", "urgent: look at the build"],
      ["question", "merge now?"],
    ]);
    expect(seen.needs_you![0]!.id).toBe(dm.data.id);
    expect(seen.open_questions.map((m) => m.text)).toEqual(["merge now?"]);

    const owl = await room(group, await signIn(await mint(group, "owl", { r: "observer" })));
    expect(owl.open_questions).toEqual([]);
    expect(owl.needs_you).toEqual([]);
    // Read mail is not "needs you" any more.
    await bob.call("read_new_messages");
    expect((await room(group, await signIn(bob.token))).needs_you).toEqual([]);
  });

  it("a person with the room open is online", async () => {
    const group = freshGroup("attention");
    const alice = await peer(group, "alice");
    await alice.call("list_peers");
    const carolCookie = await signIn(await mint(group, "carol"));
    expect((await room(group, carolCookie)).peers.find((p) => p.name === "carol")).toMatchObject({ online: false });
    const response = await workerFetch(`${BASE}/g/${group}/ws`, { headers: { Upgrade: "websocket", Cookie: carolCookie, Origin: BASE } });
    expect(response.status).toBe(101);
    response.webSocket!.accept();
    open.add(response.webSocket!);
    const seenByAlice = await room(group, await signIn(alice.token));
    expect(seenByAlice.peers.find((p) => p.name === "carol")).toMatchObject({ online: true });
    expect(seenByAlice.peers.find((p) => p.name === "alice")).toMatchObject({ online: false });
  });

  it("a revoked peer is not listed, until it comes back with a new token", async () => {
    const group = freshGroup("attention");
    const alice = await peer(group, "alice");
    const bob = await peer(group, "bob");
    await bob.call("list_peers");
    const aliceCookie = await signIn(alice.token);
    expect((await room(group, aliceCookie)).peers.map((p) => p.name)).toEqual(["alice", "bob"]);

    const proof = await signAdminProof(TEST_SECRET, "revoke", `${group}/bob`, Date.now());
    const revoked = await workerFetch(`${BASE}/groups/${group}/revoke`, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ peer: "bob", proof }) });
    expect(revoked.status).toBe(200);
    expect((await room(group, aliceCookie)).peers.map((p) => p.name)).toEqual(["alice"]);

    const back = await peer(group, "bob");
    await back.call("list_peers");
    expect((await room(group, aliceCookie)).peers.map((p) => p.name)).toEqual(["alice", "bob"]);
  });
});

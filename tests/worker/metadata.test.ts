/**
 * What a peer can learn about others beyond what they sent it: times in list_peers are cut to
 * the minute, and tokens (and admin proofs) accept one spelling of their base64url parts only.
 */
import { describe, expect, it } from "vitest";
import { fromBase64url, signAdminProof, verifyAdminProof, verifyToken } from "../../contract/token.ts";
import { TEST_SECRET } from "../test-secret.ts";
import { BASE, freshGroup, mint, peer, sqlIn, workerFetch } from "./helpers.ts";

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/** The same bytes spelled with a spare bit set in the last character (no padding to absorb it). */
function spareBitVariant(part: string): string {
  const last = ALPHABET.indexOf(part.at(-1)!);
  return part.slice(0, -1) + ALPHABET[last ^ 1]!;
}

describe("peers' times", () => {
  it("last_seen is shown to the minute, by list_peers, register and the room; the store keeps milliseconds", async () => {
    const group = freshGroup("meta");
    const alice = await peer(group, "alice");
    const bob = await peer(group, "bob");
    await bob.call("list_peers");
    const first = Date.parse("2026-11-01T09:15:42.123Z");
    const last = Date.parse("2026-11-22T10:20:34.567Z");
    await sqlIn(group, `UPDATE peers SET first_seen = ?, last_seen = ? WHERE name = 'bob'`, first, last);

    const listed = await alice.call("list_peers");
    const shown = listed.data.peers.find((p: { name: string }) => p.name === "bob");
    expect(shown).toMatchObject({ last_seen: "2026-11-22T10:20:00.000Z" });
    expect(listed.text).toContain("last seen 2026-11-22T10:20:00.000Z");
    expect(JSON.stringify(listed)).not.toContain("34.567");
    expect(await sqlIn(group, `SELECT first_seen, last_seen FROM peers WHERE name = 'bob'`)).toEqual([{ first_seen: first, last_seen: last }]);

    const room = await workerFetch(`${BASE}/g/${group}/api/room`, { headers: { Authorization: `Bearer ${alice.token}` } });
    expect(room.status).toBe(200);
    const roomPeers = ((await room.json()) as { peers: { name: string; last_seen: string }[] }).peers;
    expect(roomPeers.find((p) => p.name === "bob")?.last_seen).toBe("2026-11-22T10:20:00.000Z");

    // Everyone's entry, and what register returns, follow the same rule.
    for (const p of [...listed.data.peers, ...roomPeers, (await alice.call("register", { summary: "x" })).data.peer]) {
      expect(p.last_seen).toMatch(/T\d\d:\d\d:00\.000Z$/);
    }
  });
});

describe("canonical base64url only", () => {
  it("decodes the canonical spelling and refuses padding, +/, spare bits and impossible lengths", () => {
    expect(fromBase64url("QQ")).toEqual(new Uint8Array([0x41]));
    expect(fromBase64url("-_8")).toEqual(new Uint8Array([0xfb, 0xff]));
    expect(fromBase64url("")).toEqual(new Uint8Array([]));
    for (const bad of ["QR", "QQ==", "QQ=", "+/8", "-_9", "Q", "QQ QQ", "QUJD\n"]) expect(fromBase64url(bad), bad).toBeNull();
  });

  it("a token whose MAC or claims are spelled another way is refused, at the API and at /mcp", async () => {
    const token = await mint(freshGroup("meta"), "alice");
    const [prefix, claims, mac] = token.split(".") as [string, string, string];
    expect((await verifyToken(TEST_SECRET, token)).ok).toBe(true);

    const variants = {
      "spare bits in the MAC": `${prefix}.${claims}.${spareBitVariant(mac)}`,
      "padded MAC": `${prefix}.${claims}.${mac}=`,
      "standard alphabet": `${prefix}.${claims.replace(/-/g, "+").replace(/_/g, "/")}.${mac.replace(/-/g, "+").replace(/_/g, "/")}`,
      "spare bits in the claims": `${prefix}.${spareBitVariant(claims)}.${mac}`,
    };
    // The first really is the same MAC: only the spelling differs.
    expect(Array.from(atob(spareBitVariant(mac).replace(/-/g, "+").replace(/_/g, "/") + "="), (c) => c.charCodeAt(0))).toEqual(
      Array.from(fromBase64url(mac)!),
    );
    for (const [what, variant] of Object.entries(variants)) {
      if (variant === token) continue;
      expect((await verifyToken(TEST_SECRET, variant)).ok, what).toBe(false);
      const response = await workerFetch(`${BASE}/mcp`, {
        method: "POST",
        headers: { Authorization: `Bearer ${variant}`, "Content-Type": "application/json", Accept: "application/json, text/event-stream" },
        body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "ping" }),
      });
      expect(response.status, what).toBe(401);
    }
  });

  it("an admin proof whose MAC has spare bits set is refused", async () => {
    const at = Date.now();
    const proof = await signAdminProof(TEST_SECRET, "revoke", "g/bob", at);
    expect(await verifyAdminProof(TEST_SECRET, "revoke", "g/bob", proof)).toBe(at);
    const [stamp, mac] = proof.split(".") as [string, string];
    expect(await verifyAdminProof(TEST_SECRET, "revoke", "g/bob", `${stamp}.${spareBitVariant(mac)}`)).toBeNull();
  });
});

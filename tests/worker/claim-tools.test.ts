/**
 * Path claims through the relay's real entry: the three tools through both MCP lanes (overlap both
 * ways, shared vs exclusive, renewal, expiry, two repositories, notifying holders, a lead
 * releasing a quiet peer's claims), the guards' GET /groups/:group/claims, revocation and the alarm.
 */
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { afterEach, describe, expect, it } from "vitest";
import { ClaimsViewRecord } from "../../contract/claims.ts";
import { signAdminProof } from "../../contract/token.ts";
import { TEST_SECRET } from "../test-secret.ts";
import { BASE, bridge, closeSockets, connect, call, freshGroup, LANES, mint, peer, sqlIn, stubFor, workerFetch } from "./helpers.ts";

afterEach(closeSockets);

const APP = "github.com/acme/app";

async function claimsView(group: string, token: string): Promise<Response> {
  return workerFetch(`${BASE}/groups/${group}/claims`, { headers: { Authorization: `Bearer ${token}` } });
}

describe.each(LANES)("claim tools (%s lane)", (lane) => {
  it("overlapping globs are refused both ways, naming holder, pattern, reason and expiry; the rest is granted", async () => {
    const group = freshGroup("claims");
    const alice = await peer(group, "alice", lane);
    const bob = await peer(group, "bob", lane);

    const first = await alice.call("claim_paths", { paths: ["src/api/**"], reason: "API refactor" });
    expect(first.isError).toBe(false);
    expect(first.data).toEqual({ granted: [{ peer: "alice", pattern: "src/api", reason: "API refactor", expires_at: expect.any(String) }] });

    // Narrower inside alice's, and wider around it.
    const narrower = await bob.call("claim_paths", { paths: ["src/api/users.ts", "docs/**"] });
    expect(narrower.isError).toBe(false);
    expect(narrower.data.granted).toEqual([expect.objectContaining({ peer: "bob", pattern: "docs" })]);
    expect(narrower.data.conflicts).toEqual([
      { requested: "src/api/users.ts", peer: "alice", pattern: "src/api", reason: "API refactor", expires_at: first.data.granted[0].expires_at },
    ]);
    expect(narrower.data.advice).toMatch(/alice holds src\/api .*"API refactor".*Ask alice with ask_peer/);
    const wider = await bob.call("claim_paths", { paths: ["src/*"] });
    expect(wider.data.granted).toEqual([]);
    expect(wider.data.conflicts.map((c: { peer: string }) => c.peer)).toEqual(["alice"]);
    expect(wider.text).toMatch(/^Nothing was claimed/);
    // And the other way round: alice cannot reach into bob's docs either.
    expect((await alice.call("claim_paths", { paths: ["docs/*.md"] })).data.conflicts[0]).toMatchObject({ peer: "bob", pattern: "docs" });

    const listed = await bob.call("list_claims");
    expect(listed.data.claims.map((c: { peer: string; pattern: string }) => `${c.peer}:${c.pattern}`)).toEqual(["alice:src/api", "bob:docs"]);
    expect((await bob.call("list_claims", { peer: "alice" })).data.claims).toHaveLength(1);
    await alice.close();
    await bob.close();
  });

  it("shared claims sit together; an exclusive one is refused over them; renewing keeps one claim", async () => {
    const group = freshGroup("claims");
    const alice = await peer(group, "alice", lane);
    const bob = await peer(group, "bob", lane);
    expect((await alice.call("claim_paths", { paths: ["docs"], exclusive: false })).data.granted[0]).toMatchObject({ shared: true });
    expect((await bob.call("claim_paths", { paths: ["docs/*.md"], exclusive: false })).data.granted).toHaveLength(1);
    expect((await bob.call("claim_paths", { paths: ["docs/guide.md"] })).data.conflicts.map((c: { peer: string }) => c.peer)).toEqual(["alice"]);

    const before = (await alice.call("claim_paths", { paths: ["lib"], ttl_minutes: 5 })).data.granted[0].expires_at as string;
    const renewed = (await alice.call("claim_paths", { paths: ["lib/"], ttl_minutes: 90, reason: "longer" })).data.granted[0];
    expect(Date.parse(renewed.expires_at) - Date.parse(before)).toBeGreaterThan(80 * 60_000);
    expect((await alice.call("list_claims", { peer: "alice" })).data.claims.filter((c: { pattern: string }) => c.pattern === "lib")).toEqual([
      { peer: "alice", pattern: "lib", reason: "longer", expires_at: renewed.expires_at },
    ]);
    await alice.close();
    await bob.close();
  });

  it("two repositories: a claim in one leaves the other free; a claim without repo reaches both", async () => {
    const group = freshGroup("claims");
    const alice = await peer(group, "alice", lane);
    const bob = await peer(group, "bob", lane);
    const carol = await peer(group, "carol", lane);
    expect((await alice.call("claim_paths", { paths: ["src"], repo: "git@github.com:acme/app.git" })).data.granted[0]).toMatchObject({ repo: APP });
    expect((await bob.call("claim_paths", { paths: ["src"], repo: "https://github.com/acme/web" })).data.granted).toHaveLength(1);
    expect((await carol.call("claim_paths", { paths: ["src/main.ts"] })).data.conflicts.map((c: { peer: string }) => c.peer)).toEqual(["alice", "bob"]);
    expect((await carol.call("list_claims", { repo: APP })).data.claims.map((c: { peer: string }) => c.peer)).toEqual(["alice"]);
    const bad = await carol.call("claim_paths", { paths: ["../x"] });
    expect(bad.isError).toBe(true);
    await alice.close();
    await bob.close();
    await carol.close();
  });

  it("an expired claim is in nobody's way, and the alarm deletes it", async () => {
    const group = freshGroup("claims");
    const alice = await peer(group, "alice", lane);
    const bob = await peer(group, "bob", lane);
    await alice.call("claim_paths", { paths: ["src"], ttl_minutes: 1 });
    // The alarm is set for the claim's expiry (nothing else here needs one sooner).
    const alarm = await runInDurableObject(stubFor(group), (_i, state) => state.storage.getAlarm());
    expect(alarm).not.toBeNull();
    expect(alarm!).toBeLessThanOrEqual(Date.now() + 60_000);
    await sqlIn(group, `UPDATE claims SET expires_at = ?`, Date.now() - 1);
    expect((await bob.call("list_claims")).data.claims).toEqual([]);
    expect((await bob.call("claim_paths", { paths: ["src/a.ts"] })).data.granted).toHaveLength(1);
    await sqlIn(group, `UPDATE claims SET expires_at = ?`, Date.now() - 1);
    await runDurableObjectAlarm(stubFor(group));
    expect(await sqlIn(group, `SELECT COUNT(*) AS n FROM claims`)).toEqual([{ n: 0 }]);
    await alice.close();
    await bob.close();
  });

  it("notify: true DMs each holder who wanted what and why", async () => {
    const group = freshGroup("claims");
    const alice = await peer(group, "alice", lane);
    const bob = await peer(group, "bob", lane);
    await alice.call("claim_paths", { paths: ["src"] });
    const refused = await bob.call("claim_paths", { paths: ["src/x.ts"], reason: "fix the parser", notify: true });
    expect(refused.data.notified).toEqual(["alice"]);
    const inbox = await alice.call("read_new_messages");
    expect(inbox.data.messages).toEqual([
      expect.objectContaining({ from: "bob", kind: "dm", text: expect.stringMatching(/bob tried to claim src\/x\.ts \(inside your src\) to "fix the parser".*release_paths/) }),
    ]);
    // Without notify, nobody is written to.
    await bob.call("claim_paths", { paths: ["src/y.ts"] });
    expect((await alice.call("read_new_messages")).data.messages).toEqual([]);
    await alice.close();
    await bob.close();
  });

  it("release_paths: named patterns, all of yours, and only a lead releases a quiet peer's claims", async () => {
    const group = freshGroup("claims");
    const alice = await peer(group, "alice", lane);
    const bob = await peer(group, "bob", lane);
    const lead = await connect(await mint(group, "dana", { r: "lead" }), { lane });
    await alice.call("claim_paths", { paths: ["src", "docs", "lib"] });
    expect((await alice.call("release_paths", { paths: ["src/", "nope"] })).data).toMatchObject({ released: [{ pattern: "src" }], not_held: ["nope"] });

    const notLead = await bob.call("release_paths", { peer: "alice" });
    expect(notLead).toMatchObject({ isError: true, data: { error: "forbidden" } });
    expect(notLead.text).toMatch(/Only a lead.*ask_peer/);
    const stillActive = await call(lead, "release_paths", { peer: "alice" });
    expect(stillActive).toMatchObject({ isError: true, data: { error: "forbidden" } });
    expect(stillActive.text).toMatch(/alice is still active.*quiet for 30 minutes/);

    await sqlIn(group, `UPDATE peers SET last_seen = ? WHERE name = 'alice'`, Date.now() - 31 * 60_000);
    const released = await call(lead, "release_paths", { peer: "alice", paths: ["docs"] });
    expect(released.data).toEqual({ released: [expect.objectContaining({ peer: "alice", pattern: "docs" })] });
    expect((await bob.call("list_claims")).data.claims.map((c: { pattern: string }) => c.pattern)).toEqual(["lib"]);
    expect((await alice.call("release_paths")).data.released.map((c: { pattern: string }) => c.pattern)).toEqual(["lib"]);
    await alice.close();
    await bob.close();
    await lead.close();
  });
});

describe("claims beyond the tools", () => {
  it("a lead may not release the claims of a peer still connected by its bridge, however long ago it called", async () => {
    const group = freshGroup("claims");
    const alice = await peer(group, "alice");
    await alice.call("claim_paths", { paths: ["src"] });
    await bridge(group, alice.token);
    await sqlIn(group, `UPDATE peers SET last_seen = ? WHERE name = 'alice'`, Date.now() - 31 * 60_000);
    const lead = await connect(await mint(group, "dana", { r: "lead" }));
    expect((await call(lead, "release_paths", { peer: "alice" })).text).toMatch(/alice is still active/);
    await lead.close();
    await alice.close();
  });

  it("GET /groups/:group/claims answers the caller and every live claim in the guards' shape; other groups and no token are refused", async () => {
    const group = freshGroup("claims");
    const alice = await peer(group, "alice");
    await alice.call("claim_paths", { paths: ["src"], repo: APP, reason: "r" });
    const bobToken = await mint(group, "bob");
    const response = await claimsView(group, bobToken);
    expect(response.status).toBe(200);
    const body = ClaimsViewRecord.parse(await response.json());
    expect(body).toEqual({
      peer: "bob",
      claims: [{ peer: "alice", repo: APP, pattern: "src", exclusive: true, reason: "r", claimed_at: expect.any(String), expires_at: expect.any(String) }],
    });
    expect((await claimsView(`${group}-other`, bobToken)).status).toBe(403);
    expect((await workerFetch(`${BASE}/groups/${group}/claims`)).status).toBe(401);
    await alice.close();
  });

  it("revoking a peer's token releases all its claims", async () => {
    const group = freshGroup("claims");
    const alice = await peer(group, "alice");
    const bob = await peer(group, "bob");
    await alice.call("claim_paths", { paths: ["src", "docs"] });
    await bob.call("claim_paths", { paths: ["lib"] });
    const proof = await signAdminProof(TEST_SECRET, "revoke", `${group}/alice`, Date.now());
    const revoked = await workerFetch(`${BASE}/groups/${group}/revoke`, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ peer: "alice", proof }) });
    expect(revoked.status).toBe(200);
    expect((await bob.call("list_claims")).data.claims.map((c: { peer: string }) => c.peer)).toEqual(["bob"]);
    expect((await bob.call("claim_paths", { paths: ["src/a.ts"] })).data.granted).toHaveLength(1);
    await alice.close();
    await bob.close();
  });

  it("an observer lists claims but is offered no claim_paths; a paused group refuses claims to all but a lead", async () => {
    const group = freshGroup("claims");
    const owl = await connect(await mint(group, "owl", { r: "observer" }));
    const names = (await owl.listTools()).tools.map((t) => t.name);
    expect(names).toContain("list_claims");
    expect(names).not.toContain("claim_paths");
    expect((await call(owl, "list_claims")).isError).toBe(false);
    const lead = await connect(await mint(group, "dana", { r: "lead" }));
    const alice = await peer(group, "alice");
    await stubFor(group).setGroupPause({ group, peer: "dana", iat: Date.now(), role: "lead" }, "freeze");
    expect((await alice.call("claim_paths", { paths: ["src"] })).data.error).toBe("paused");
    expect((await call(lead, "claim_paths", { paths: ["src"] })).isError).toBe(false);
    await owl.close();
    await lead.close();
    await alice.close();
  });
});

describe("the room's claims panel API", () => {
  const api = (group: string, token: string, path: string, body?: unknown) =>
    workerFetch(`${BASE}/g/${group}/api/${path}`, {
      method: body === undefined ? "GET" : "POST",
      headers: { Authorization: `Bearer ${token}`, ...(body !== undefined && { "Content-Type": "application/json" }) },
      ...(body !== undefined && { body: JSON.stringify(body) }),
    });

  it("lists every claim and which holders are quiet; a lead releases a quiet holder's claim, nobody else", async () => {
    const group = freshGroup("claims");
    const alice = await peer(group, "alice");
    const bob = await peer(group, "bob");
    await alice.call("claim_paths", { paths: ["src", "docs"], reason: "moving" });
    await bob.call("claim_paths", { paths: ["lib"] });
    await sqlIn(group, `UPDATE peers SET last_seen = ? WHERE name = 'alice'`, Date.now() - 31 * 60_000);
    const listed = (await (await api(group, bob.token, "claims")).json()) as { claims: { peer: string; pattern: string }[]; quiet: string[] };
    expect(listed.claims.map((c) => `${c.peer}:${c.pattern}`)).toEqual(["alice:docs", "alice:src", "bob:lib"]);
    expect(listed.quiet).toEqual(["alice"]);

    const refused = await api(group, bob.token, "claims/release", { peer: "alice", paths: ["src"] });
    expect(refused.status).toBe(403);
    expect(((await refused.json()) as { message: string }).message).toMatch(/Only a lead/);
    const leadToken = await mint(group, "dana", { r: "lead" });
    expect((await api(group, leadToken, "claims/release", { peer: "bob" })).status).toBe(403);
    const released = await api(group, leadToken, "claims/release", { peer: "alice", paths: ["src"] });
    expect(released.status).toBe(200);
    expect(((await (await api(group, bob.token, "claims")).json()) as { claims: { pattern: string }[] }).claims.map((c) => c.pattern)).toEqual(["docs", "lib"]);
    expect((await api(group, leadToken, "claims/release", { peer: "Not A Name" })).status).toBe(400);
    await alice.close();
    await bob.close();
  });
});

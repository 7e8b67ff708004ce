/**
 * Which names an invite may take, inside workerd through the real Worker: a name the secret holder
 * minted a token for through the relay is reserved (the token keeps working), a lead's or an
 * observer's name for good; look-alikes of any name the group knows are refused, naming it; a
 * refused name costs the invite nothing.
 */
import { describe, expect, it } from "vitest";
import { newInviteId, signInvite } from "../../contract/invite.ts";
import { nameReservationTarget, type NameRole, signAdminProof } from "../../contract/token.ts";
import { TEST_SECRET } from "../test-secret.ts";
import { BASE, call, connect, freshGroup, mint, workerFetch } from "./helpers.ts";

async function makeInvite(group: string, uses: number): Promise<string> {
  const id = newInviteId();
  const code = await signInvite(TEST_SECRET, { i: id, g: group, exp: Date.now() + 60_000, n: uses });
  const proof = await signAdminProof(TEST_SECRET, "invite", `${group}/${id}`, Date.now());
  expect((await workerFetch(`${BASE}/groups/${group}/invites`, { method: "POST", body: JSON.stringify({ invite: code, proof }) })).status).toBe(200);
  return code;
}

async function join(code: string, name: string): Promise<{ status: number; body: { error?: string; message?: string; token?: string } }> {
  const response = await workerFetch(`${BASE}/invite/${code}/join`, { method: "POST", body: JSON.stringify({ name }) });
  return { status: response.status, body: (await response.json()) as { error?: string; message?: string } };
}

/** What `npm run -s token -- … --url` does after signing: reserve the name, proven with the secret. */
async function reserve(group: string, name: string, role: NameRole, expiresAt: number | null = null, secret = TEST_SECRET, signed = { name, role, expiresAt }) {
  const proof = await signAdminProof(secret, "reserve-name", nameReservationTarget(group, signed.name, signed.role, signed.expiresAt), Date.now());
  const response = await workerFetch(`${BASE}/groups/${group}/names`, { method: "POST", body: JSON.stringify({ name, role, expires_at: expiresAt, proof }) });
  return { status: response.status, body: (await response.json()) as Record<string, any> };
}

async function works(token: string): Promise<boolean> {
  const client = await connect(token).catch(() => null);
  if (!client) return false;
  const outcome = await call(client, "read_new_messages");
  await client.close();
  return !outcome.isError;
}

describe("names reserved by minting through the relay", () => {
  it("a lead's, an observer's and a plain peer's minted name cannot be taken by an invite, and their tokens keep working", async () => {
    const group = freshGroup("names");
    const tokens: Record<string, string> = {};
    for (const [name, role] of [["dana", "lead"], ["audit", "observer"], ["erin", "peer"]] as const) {
      tokens[name] = await mint(group, name, role === "peer" ? {} : { r: role });
      const reserved = await reserve(group, name, role);
      expect(reserved.status).toBe(200);
      expect(reserved.body.reservation).toMatchObject({ group, name, role, expires_at: null, known_peer: false, looks_like: null });
    }
    const code = await makeInvite(group, 3);
    for (const name of ["dana", "audit", "erin"]) {
      const refused = await join(code, name);
      expect(refused.status, name).toBe(409);
      expect(refused.body.error).toBe("name_taken");
      expect(refused.body.message).toContain(`The name '${name}' is reserved in group '${group}': the team minted a token for it. Pick another name`);
    }
    // Nothing was voided: each minted token, used only now, still speaks as its name.
    for (const name of ["dana", "audit", "erin"]) expect(await works(tokens[name]!), name).toBe(true);
    // The refusals took no use of the invite.
    for (const name of ["fay", "gus", "hal"]) expect((await join(code, name)).status).toBe(200);
  });

  it("a plain peer's reservation lasts as long as its token; a lead's and an observer's for good", async () => {
    const group = freshGroup("names");
    const past = Date.now() - 1_000;
    expect((await reserve(group, "tmp", "peer", past)).status).toBe(200);
    expect((await reserve(group, "boss", "lead", past)).body.reservation.expires_at).toBeNull();
    expect((await reserve(group, "eyes", "observer", past)).body.reservation.expires_at).toBeNull();
    // A later mint without expiry keeps the name for good, whatever the earlier one said.
    expect((await reserve(group, "kept", "peer", past)).status).toBe(200);
    expect((await reserve(group, "kept", "peer", null)).body.reservation.expires_at).toBeNull();
    expect((await reserve(group, "kept", "peer", past)).body.reservation.expires_at).toBeNull();
    const code = await makeInvite(group, 5);
    expect((await join(code, "tmp")).status).toBe(200);
    for (const name of ["boss", "eyes", "kept"]) expect((await join(code, name)).body.error, name).toBe("name_taken");
  });

  it("reserving needs the team secret, and a proof covers one name, role and expiry", async () => {
    const group = freshGroup("names");
    expect((await reserve(group, "dana", "lead", null, "y".repeat(40))).status).toBe(401);
    const other = await reserve(group, "dana", "lead", null, TEST_SECRET, { name: "dana", role: "peer", expiresAt: null });
    expect(other.status).toBe(401);
    expect(other.body).toMatchObject({ error: "invalid_proof" });
    expect(other.body.message).toContain("npm run -s token");
    expect((await reserve(group, "dana", "lead", null, TEST_SECRET, { name: "dan", role: "lead", expiresAt: null })).status).toBe(401);
    expect((await reserve(group, "dana", "lead", null, TEST_SECRET, { name: "dana", role: "lead", expiresAt: 1 })).status).toBe(401);
    const bad = await workerFetch(`${BASE}/groups/${group}/names`, { method: "POST", body: JSON.stringify({ name: "Dana!", role: "boss", expires_at: null, proof: "1.x" }) });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: string }).error).toBe("invalid_body");
    const farFuture = await reserve(group, "dana", "peer", 8_700_000_000_000_000);
    expect(farFuture.status).toBe(400);
    expect(farFuture.body.error).toBe("invalid_body");
    // Nothing was reserved by the refused calls.
    expect((await join(await makeInvite(group, 1), "dana")).status).toBe(200);
  });

  it("tells the secret holder when the name is a peer's already, or looks like one", async () => {
    const group = freshGroup("names");
    await connect(await mint(group, "alice"));
    expect((await reserve(group, "alice", "peer")).body.reservation).toMatchObject({ known_peer: true, looks_like: null });
    expect((await reserve(group, "a1ice", "peer")).body.reservation).toMatchObject({ known_peer: false, looks_like: "alice" });
  });
});

describe("look-alike names", () => {
  it("an invite may not take a look-alike of a peer's, a reserved or a revoked name, and is told which", async () => {
    const group = freshGroup("names");
    const alice = await connect(await mint(group, "alice"));
    await alice.close();
    await reserve(group, "dana", "lead");
    const revokeProof = await signAdminProof(TEST_SECRET, "revoke", `${group}/mallory`, Date.now());
    expect((await workerFetch(`${BASE}/groups/${group}/revoke`, { method: "POST", body: JSON.stringify({ peer: "mallory", proof: revokeProof }) })).status).toBe(200);

    const code = await makeInvite(group, 1);
    const cases: [string, string][] = [
      ["a1ice", "alice"], ["alice.", "alice"], ["alice-", "alice"], ["alice__", "alice"], ["al-ice", "alice"], ["aiice", "alice"],
      ["d4na", "dana"], ["dana.", "dana"],
      ["rnallory", "mallory"], ["ma11ory", "mallory"],
    ];
    for (const [name, original] of cases) {
      const refused = await join(code, name);
      expect(refused.status, name).toBe(409);
      expect(refused.body.error, name).toBe("name_confusable");
      expect(refused.body.message).toContain(`The name '${name}' looks like '${original}', already in group '${group}'`);
      expect(refused.body.message).toContain("1/l");
      expect(refused.body.message).toContain("Pick a name that differs from it in a letter.");
    }
    // The exact names are taken, as before; the one use is still there for an honest name.
    for (const name of ["alice", "mallory"]) expect((await join(code, name)).body.error, name).toBe("name_taken");
    expect((await join(code, "alicia")).status).toBe(200);
  });

  it("a lead or observer the group has seen keeps its name and its look-alikes from invites", async () => {
    const group = freshGroup("names");
    for (const [name, role] of [["boss", "lead"], ["eyes", "observer"]] as const) {
      expect(await works(await mint(group, name, { r: role }))).toBe(true);
    }
    const code = await makeInvite(group, 1);
    expect((await join(code, "boss")).body.error).toBe("name_taken");
    expect((await join(code, "eyes")).body.error).toBe("name_taken");
    expect((await join(code, "b0ss")).body.error).toBe("name_confusable");
    expect((await join(code, "eye5")).body.error).toBe("name_confusable");
  });

  it("the invite page shows the form again with the reason", async () => {
    const group = freshGroup("names");
    await connect(await mint(group, "alice"));
    const code = await makeInvite(group, 1);
    const response = await workerFetch(`${BASE}/invite/${code}`, { method: "POST", body: new URLSearchParams({ name: "a1ice" }) });
    expect(response.status).toBe(409);
    const html = await response.text();
    expect(html).toContain("looks like");
    expect(html).toMatch(/<form/);
  });
});

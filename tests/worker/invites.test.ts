/**
 * Invites inside workerd: the group object counts uses, so a one-use invite opened by many at once
 * still makes one peer; the admin routes need the team secret; an observer's token is offered
 * only the tools that read.
 */
import { describe, expect, it } from "vitest";
import { newInviteId, signInvite } from "../../contract/invite.ts";
import { signAdminProof } from "../../contract/token.ts";
import { TEST_SECRET } from "../test-secret.ts";
import { BASE, call, connect, freshGroup, mint, workerFetch } from "./helpers.ts";

async function makeInvite(group: string, uses: number, extra: { o?: 1 } = {}): Promise<string> {
  const id = newInviteId();
  const code = await signInvite(TEST_SECRET, { i: id, g: group, exp: Date.now() + 60_000, n: uses, ...extra });
  const proof = await signAdminProof(TEST_SECRET, "invite", `${group}/${id}`, Date.now());
  const response = await workerFetch(`${BASE}/groups/${group}/invites`, { method: "POST", body: JSON.stringify({ invite: code, proof }) });
  expect(response.status).toBe(200);
  return code;
}

function join(code: string, name: string): Promise<Response> {
  return workerFetch(`${BASE}/invite/${code}/join`, { method: "POST", body: JSON.stringify({ name }) });
}

describe("invites in the group object", () => {
  it("a one-use invite opened by five people at once makes exactly one peer", async () => {
    const code = await makeInvite(freshGroup("inv"), 1);
    const statuses = await Promise.all(["p1", "p2", "p3", "p4", "p5"].map(async (name) => (await join(code, name)).status));
    expect(statuses.filter((s) => s === 200)).toHaveLength(1);
    expect(statuses.filter((s) => s === 403)).toHaveLength(4);
  });

  it("recording, listing and revoking need the team secret; an unrecorded invite is refused", async () => {
    const group = freshGroup("inv");
    const id = newInviteId();
    const code = await signInvite(TEST_SECRET, { i: id, g: group, exp: Date.now() + 60_000, n: 1 });
    const forged = await signAdminProof("y".repeat(40), "invite", `${group}/${id}`, Date.now());
    expect((await workerFetch(`${BASE}/groups/${group}/invites`, { method: "POST", body: JSON.stringify({ invite: code, proof: forged }) })).status).toBe(401);
    const unrecorded = await join(code, "ann");
    expect(unrecorded.status).toBe(403);
    expect(((await unrecorded.json()) as { message: string }).message).toContain("no record of this invite");
    expect((await workerFetch(`${BASE}/groups/${group}/invites/list`, { method: "POST", body: JSON.stringify({ proof: forged }) })).status).toBe(401);
    expect((await workerFetch(`${BASE}/groups/${group}/invites/${id}/revoke`, { method: "POST", body: JSON.stringify({ proof: forged }) })).status).toBe(401);
    // An invite signed with another secret is not this relay's.
    const foreign = await signInvite("z".repeat(40), { i: id, g: group, exp: Date.now() + 60_000, n: 1 });
    expect(((await (await join(foreign, "ann")).json()) as { message: string }).message).toContain("not made by this relay");
  });

  it("a name minted but never used goes to whoever redeems it, and the earlier token stops working", async () => {
    const group = freshGroup("inv");
    const unused = await mint(group, "dana", { iat: Date.now() - 1_000 });
    const joined = await join(await makeInvite(group, 1), "dana");
    expect(joined.status).toBe(200);
    const { token } = (await joined.json()) as { token: string };
    // Two tokens for one name would be one identity: the one minted before the invite is void.
    const before = await connect(unused).then(
      async (client) => call(client, "read_new_messages"),
      (error: Error) => ({ isError: true, text: error.message }),
    );
    expect(before.isError).toBe(true);
    expect(before.text).toMatch(/revoked/);
    expect((await call(await connect(token), "read_new_messages")).isError).toBe(false);
  });

  it("an observer's token is offered only the tools that read", async () => {
    const code = await makeInvite(freshGroup("inv"), 1, { o: 1 });
    const joined = (await (await join(code, "watcher")).json()) as { token: string; observer: boolean };
    expect(joined.observer).toBe(true);
    const client = await connect(joined.token);
    const tools = (await client.listTools()).tools.map((t) => t.name).sort();
    expect(tools).toEqual(["get_history", "get_state", "list_claims", "list_peers", "message_status", "read_new_messages", "wait_for_messages"]);
    await client.close();
  });
});

describe("the bridge download's checksum", () => {
  const hexOf = async (bytes: ArrayBuffer) => [...new Uint8Array(await crypto.subtle.digest("SHA-256", bytes))].map((b) => b.toString(16).padStart(2, "0")).join("");

  it("/bridge.mjs, /bridge.mjs.sha256, the invite page and the join answer give the SHA-256 of the bytes served", async () => {
    const download = await workerFetch(`${BASE}/bridge.mjs`);
    expect(download.status).toBe(200);
    const bytes = await download.arrayBuffer();
    const sha256 = await hexOf(bytes);
    expect(download.headers.get("X-Relay-Bridge-Sha256")).toBe(sha256);
    const digest = btoa(String.fromCharCode(...new Uint8Array(await crypto.subtle.digest("SHA-256", bytes))));
    expect(download.headers.get("Repr-Digest")).toBe(`sha-256=:${digest}:`);
    // The format `sha256sum -c` reads, naming the file as the install command saves it.
    const listed = await workerFetch(`${BASE}/bridge.mjs.sha256`);
    expect(listed.status).toBe(200);
    expect(await listed.text()).toBe(`${sha256}  relay-bridge\n`);

    const code = await makeInvite(freshGroup("inv"), 2);
    const verify = `echo "${sha256}  $HOME/.local/bin/relay-bridge" | sha256sum -c`;
    const form = await (await workerFetch(`${BASE}/invite/${code}`)).text();
    expect(form).toContain(verify.replaceAll('"', "&quot;"));
    const page = await (await workerFetch(`${BASE}/invite/${code}`, { method: "POST", headers: { Origin: BASE, "Content-Type": "application/x-www-form-urlencoded" }, body: "name=pia" })).text();
    expect(page).toContain(verify.replaceAll('"', "&quot;"));
    const joined = (await (await join(code, "quinn")).json()) as { verify: string; bridge_sha256: string };
    expect(joined).toMatchObject({ verify, bridge_sha256: sha256 });
  });
});

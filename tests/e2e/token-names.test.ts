/**
 * The real token CLI against the real local relay (`npm start`): minting with --url reserves the
 * name, so an invite made with the real invite CLI cannot take it and the minted token keeps
 * working; minting without a relay still prints exactly the token and says on stderr that the
 * name is not reserved; a relay with another secret gets no token.
 */
import { spawn } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REPO_ROOT, startRelay, type RelayServer } from "../helpers/relay-server.ts";

let relay: RelayServer;

beforeAll(async () => {
  relay = await startRelay();
});

afterAll(async () => {
  await relay?.stop();
});

/** `npm run -s <script> -- <args>` exactly as the secret holder runs it. */
function npmRun(script: string, args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn("npm", ["run", "-s", script, "--", ...args], { cwd: REPO_ROOT, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk) => (stdout += chunk));
    child.stderr.on("data", (chunk) => (stderr += chunk));
    child.once("error", reject);
    child.once("exit", (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

async function join(inviteUrl: string, name: string): Promise<{ status: number; body: { error?: string; message?: string } }> {
  const response = await fetch(`${inviteUrl}/join`, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ name }) });
  return { status: response.status, body: (await response.json()) as { error?: string; message?: string } };
}

async function unread(token: string): Promise<number> {
  const response = await fetch(`${relay.url}/groups/names/unread`, { headers: { Authorization: `Bearer ${token}` } });
  return response.status;
}

describe("the token CLI reserves names on the relay", () => {
  it("a lead's token minted with --url keeps its name from an invite and keeps working; its look-alike is refused too", { timeout: 120_000 }, async () => {
    const minted = await npmRun("token", ["--group", "names", "--peer", "dana", "--lead", "--url", relay.url]);
    expect(minted.code, minted.stderr).toBe(0);
    const token = minted.stdout.trim();
    expect(minted.stdout).toBe(`${token}\n`);
    expect(token).toMatch(/^rly1\./);
    expect(minted.stderr).toBe("");

    const made = await npmRun("invite", ["--group", "names", "--url", relay.url]);
    expect(made.code, made.stderr).toBe(0);
    const inviteUrl = made.stdout.trim();
    const taken = await join(inviteUrl, "dana");
    expect(taken.status).toBe(409);
    expect(taken.body).toMatchObject({ error: "name_taken" });
    expect(taken.body.message).toContain("the team minted a token for it");
    const lookAlike = await join(inviteUrl, "d4na");
    expect(lookAlike.status).toBe(409);
    expect(lookAlike.body).toMatchObject({ error: "name_confusable" });
    expect(lookAlike.body.message).toContain("looks like 'dana'");
    expect(await unread(token)).toBe(200);
    expect((await join(inviteUrl, "erin")).status).toBe(200);
  });

  it("without a reachable relay the token is still printed, and stderr says the name is not reserved", { timeout: 120_000 }, async () => {
    const offline = await npmRun("token", ["--group", "names", "--peer", "fay"]);
    expect(offline.code, offline.stderr).toBe(0);
    expect(offline.stdout).toMatch(/^rly1\.[^\n]+\n$/);
    expect(offline.stderr).toContain("'fay' is not reserved on any relay (no --url)");
    expect(offline.stderr).toContain("Pass --url <relay> to reserve it");

    const down = await npmRun("token", ["--group", "names", "--peer", "fay", "--url", "http://127.0.0.1:9"]);
    expect(down.code, down.stderr).toBe(0);
    expect(down.stdout).toMatch(/^rly1\.[^\n]+\n$/);
    expect(down.stderr).toContain("'fay' is not reserved on http://127.0.0.1:9");
  });

  it("a relay with another secret refuses the reservation, and no token is printed", { timeout: 120_000 }, async () => {
    const foreign = await npmRun("token", ["--group", "names", "--peer", "gus", "--url", relay.url], { RELAY_SECRET: "f0".repeat(32) });
    expect(foreign.code).toBe(1);
    expect(foreign.stdout).toBe("");
    expect(foreign.stderr).toContain("Reserving a name needs the team secret");
    expect(foreign.stderr).toContain("No token was printed");
  });
});

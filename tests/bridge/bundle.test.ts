/**
 * The package bin: `npm run build:bridge` bundles the bridge into one .mjs that must run where
 * TypeScript cannot, on Node 20. Uses a Node 20 from PATH when there is one (the system Node on
 * the project's machines), else the test's own Node.
 */
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { signToken } from "../../contract/token.ts";
import { ProtocolPeer } from "../helpers/protocol-peer.ts";
import { TEST_SECRET } from "../test-secret.ts";
import { waitFor } from "../helpers/wait.ts";
import { nodeVersion, OLDEST_NODE } from "../helpers/node20.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const BUNDLE = fileURLToPath(new URL("../../local-bridge/dist/relay-bridge.mjs", import.meta.url));

const node = OLDEST_NODE;
let relay: ProtocolPeer;

beforeAll(async () => {
  execFileSync("npm", ["run", "-s", "build:bridge"], { cwd: ROOT, stdio: "pipe" });
  relay = await ProtocolPeer.start();
});

afterAll(async () => {
  await relay?.stop();
});

describe(`the bundled relay-bridge on ${nodeVersion(node)}`, { timeout: 60_000 }, () => {
  it("is a single executable file with a node shebang, and the package bin points at it", () => {
    expect(readFileSync(BUNDLE, "utf8").startsWith("#!/usr/bin/env node\n")).toBe(true);
    const pkg = JSON.parse(readFileSync(`${ROOT}/package.json`, "utf8")) as { bin: Record<string, string> };
    expect(pkg.bin["relay-bridge"]).toBe("local-bridge/dist/relay-bridge.mjs");
    // The workspace package (local-bridge/package.json) ships the same file.
    const workspace = JSON.parse(readFileSync(`${ROOT}/local-bridge/package.json`, "utf8")) as { bin: Record<string, string> };
    expect(workspace.bin["relay-bridge"]).toBe("dist/relay-bridge.mjs");
  });

  it("says which build it is", () => {
    expect(execFileSync(node, [BUNDLE, "--version"], { encoding: "utf8" })).toMatch(/^relay-bridge \d+\.\d+\.\d+\+[0-9a-f]{16}\n$/);
  });

  it("prints its usage", () => {
    expect(execFileSync(node, [BUNDLE, "--help"], { encoding: "utf8" })).toContain("relay-bridge connect [--url URL --token TOKEN]");
  });

  it("connects and prints a notice", async () => {
    const token = await signToken(TEST_SECRET, { g: "core", p: "alice", iat: Date.now() });
    const child = spawn(node, [BUNDLE, "connect", "--url", relay.url, "--token", token, "--stdout", "--quiet"], {
      env: { ...process.env, XDG_STATE_HOME: mkdtempSync(join(tmpdir(), "bridge-bundle-")) },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    child.stdout.on("data", (c) => (out += c));
    child.stderr.on("data", (c) => (err += c));
    try {
      await waitFor(() => relay.hellos.length === 1 || child.exitCode !== null, { what: "hello" });
      expect(err).toBe("");
      relay.post({ from: "bob", kind: "dm", to: "alice" });
      await waitFor(() => out.includes("\n"), { what: "a notice line" });
      expect(JSON.parse(out)).toMatchObject({ group: "core", kind: "dm", from: ["bob"], seqs: [1] });
      await waitFor(() => relay.acks.length === 1, { what: "the ack" });
    } finally {
      child.kill("SIGTERM");
    }
  });
});

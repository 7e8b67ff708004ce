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

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const BUNDLE = fileURLToPath(new URL("../../local-bridge/dist/relay-bridge.mjs", import.meta.url));

function nodeVersion(bin: string): string | null {
  try {
    return execFileSync(bin, ["--version"], { encoding: "utf8" }).trim();
  } catch {
    return null;
  }
}

/** A Node 20 on PATH (npm puts node_modules/.bin, with Node 22, first; look past it). */
function findNode20(): string | null {
  const dirs = (process.env.PATH ?? "").split(":").filter((d) => !d.includes("node_modules"));
  for (const dir of [...dirs, "/usr/bin", "/usr/local/bin"]) {
    const bin = `${dir}/node`;
    if (nodeVersion(bin)?.startsWith("v20.")) return bin;
  }
  return null;
}

const node = findNode20() ?? process.execPath;
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
  });

  it("prints its usage", () => {
    expect(execFileSync(node, [BUNDLE, "--help"], { encoding: "utf8" })).toContain("relay-bridge connect --url URL --token TOKEN");
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

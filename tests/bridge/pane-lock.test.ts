/**
 * One bridge per pane, with real bridge processes on a real tmux pane: a second `connect --pane`
 * for a served pane refuses (exit 1, naming the pid that serves it), `--takeover` replaces the
 * running one, and the lock dies with its process, even a SIGKILLed one.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { signToken } from "../../contract/token.ts";
import { paneHolder } from "../../local-bridge/pane/pane-lock.ts";
import { startBridge, stopBridge, type BridgeProcess } from "../helpers/bridge-process.ts";
import { ProtocolPeer } from "../helpers/protocol-peer.ts";
import { TmuxLab } from "../helpers/tmux-lab.ts";
import { waitFor } from "../helpers/wait.ts";
import { TEST_SECRET } from "../test-secret.ts";

let lab: TmuxLab;
let relay: ProtocolPeer;
let token: string;
/** Each test's bridges share a private lock directory (XDG_RUNTIME_DIR). */
let runtimeDir: string;
const bridges: BridgeProcess[] = [];

beforeAll(async () => {
  lab = TmuxLab.start();
  relay = await ProtocolPeer.start();
  token = await signToken(TEST_SECRET, { g: "core", p: "bob", iat: Date.now() });
});

afterAll(async () => {
  await relay?.stop();
  lab?.kill();
});

afterEach(async () => {
  await Promise.all(bridges.splice(0).map(stopBridge));
});

function bridgeFor(pane: string, extra: string[] = []): BridgeProcess {
  const bridge = startBridge(["connect", "--url", relay.url, "--token", token, "--pane", pane, ...extra], {
    TMUX: lab.tmuxEnv(),
    XDG_RUNTIME_DIR: runtimeDir,
  });
  bridges.push(bridge);
  return bridge;
}

function tmuxServer(): string {
  return lab.tmuxSync(["display-message", "-p", "#{socket_path}"]).trim();
}

/** Waits until the pane's lock names `pid` (null: nobody serves it). */
async function servedBy(pane: string, pid: number | undefined | null): Promise<void> {
  const dir = join(runtimeDir, "claude-relay");
  await waitFor(async () => (await paneHolder(tmuxServer(), pane, dir)) === (pid ?? null), { what: `pane ${pane} served by pid ${pid}` });
}

describe("one bridge per pane", () => {
  it("refuses a second bridge for a served pane, naming the process that serves it", async () => {
    runtimeDir = mkdtempSync(join(tmpdir(), "relay-runtime-"));
    const standin = await lab.standin();
    const first = bridgeFor(standin.pane);
    await servedBy(standin.pane, first.child.pid);

    const second = bridgeFor(standin.pane);
    expect(await second.exited).toBe(1);
    expect(second.stderr()).toContain(`pane ${standin.pane} is already served by another relay-bridge (pid ${first.child.pid})`);
    expect(second.stderr()).toContain("--takeover");
    // The first one is untouched, and another pane is not affected.
    expect(first.child.exitCode).toBeNull();
    const other = await lab.standin();
    const third = bridgeFor(other.pane);
    await servedBy(other.pane, third.child.pid);
  });

  it("--takeover stops the running bridge and serves the pane itself", async () => {
    runtimeDir = mkdtempSync(join(tmpdir(), "relay-runtime-"));
    const standin = await lab.standin();
    const first = bridgeFor(standin.pane);
    await servedBy(standin.pane, first.child.pid);

    const second = bridgeFor(standin.pane, ["--takeover"]);
    expect(await first.exited).toBe(0);
    expect(first.stderr()).toContain(`taken over by another relay-bridge (pid ${second.child.pid})`);
    await servedBy(standin.pane, second.child.pid);
    expect(second.child.exitCode).toBeNull();
  });

  it("dies with its process: after a SIGKILL the pane is free again", async () => {
    runtimeDir = mkdtempSync(join(tmpdir(), "relay-runtime-"));
    const standin = await lab.standin();
    const first = bridgeFor(standin.pane);
    await servedBy(standin.pane, first.child.pid);
    first.child.kill("SIGKILL");
    await first.exited;
    await servedBy(standin.pane, null);

    const second = bridgeFor(standin.pane);
    await servedBy(standin.pane, second.child.pid);
  });
});

/**
 * Announcing unread mail once more (core/reannounce.ts) in a real Bridge against a real socket:
 * mail still unread after the delay is announced again, once; mail read meanwhile never is; and a
 * connection that drops and comes back tells the person how to bring the relay's tools back.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { NoticeFrame } from "../../contract/frames.ts";
import { signToken } from "../../contract/token.ts";
import { AckStore } from "../../local-bridge/core/ack-store.ts";
import { Bridge, type NoticeSink, RECONNECT_HINT } from "../../local-bridge/core/bridge.ts";
import { resolveTarget } from "../../local-bridge/core/config.ts";
import { StatusLine } from "../../local-bridge/core/status.ts";
import { ProtocolPeer } from "../helpers/protocol-peer.ts";
import { waitFor } from "../helpers/wait.ts";
import { TEST_SECRET } from "../test-secret.ts";

const FAST = { pingIntervalMs: 50, deadAfterMs: 400, backoffBaseMs: 50, backoffCapMs: 200, stableAfterMs: 1_000 };

class RecordingSink implements NoticeSink {
  readonly maxBatch = Number.POSITIVE_INFINITY;
  readonly batches: number[][] = [];
  async ready(): Promise<void> {}
  render(batch: readonly NoticeFrame[]): string {
    return JSON.stringify(batch.map((n) => n.seq));
  }
  async write(text: string): Promise<void> {
    this.batches.push(JSON.parse(text) as number[]);
  }
}

const running: { bridge: Bridge; relay: ProtocolPeer }[] = [];
afterEach(async () => {
  for (const r of running.splice(0)) {
    r.bridge.stop();
    await r.relay.stop();
  }
});

describe("announcing unread mail again", () => {
  it("announces mail still unread after the delay once more, never mail read meanwhile, and says how to reconnect after a drop", async () => {
    const relay = await ProtocolPeer.start();
    const target = resolveTarget(relay.url, await signToken(TEST_SECRET, { g: "core", p: "bob", iat: Date.now() }));
    const sink = new RecordingSink();
    const notes: string[] = [];
    const bridge = new Bridge({
      ...target,
      sink,
      acks: new AckStore({ url: target.baseUrl, group: target.group, peer: target.peer }, mkdtempSync(join(tmpdir(), "bridge-state-"))),
      status: new StatusLine("test", { write: (text: string) => notes.push(text) }),
      connection: FAST,
      reannounce: { afterMs: 400, checkMs: 50 },
    });
    running.push({ bridge, relay });
    void bridge.run().catch(() => {});
    await waitFor(() => relay.connected() === 1 && relay.hellos.length === 1, { what: "the bridge to say hello" });

    const first = relay.post({ from: "alice", to: "bob" });
    const second = relay.post({ from: "carol", to: "bob", urgent: true });
    await waitFor(() => sink.batches.flat().includes(second.seq), { what: "the first notices" });
    relay.announceRead("bob", first.seq);

    await waitFor(() => sink.batches.flat().filter((s) => s === second.seq).length === 2, { what: "the unread one announced again" });
    // Long past another delay: nothing a third time, and the read one never again.
    await new Promise((r) => setTimeout(r, 1_200));
    expect(sink.batches.flat().filter((s) => s === second.seq)).toHaveLength(2);
    expect(sink.batches.flat().filter((s) => s === first.seq)).toHaveLength(1);
    expect(notes.join("")).toContain("announcing 1 message again");

    expect(notes.join("")).not.toContain("/mcp");
    relay.closeAll(1012, "restarting");
    await waitFor(() => notes.join("").includes(RECONNECT_HINT), { what: "the hint after the connection came back" });
  }, 30_000);
});

/**
 * The group object's parked waits are plain memory with no platform imports, so their rules are
 * tested here in Node, with real timers: who a message wakes, the per-peer limit, timeouts and
 * revocation.
 */
import { describe, expect, it } from "vitest";
import { MAX_WAITS_PER_PEER } from "../../contract/limits.ts";
import type { Listener } from "../../worker/group/audience.ts";
import { ParkedWaits } from "../../worker/group/mail/waits.ts";
import type { Message } from "../../worker/types.ts";

let seq = 0;
function message(from: string, to: string | null, extra: Partial<Message> = {}): Message {
  seq++;
  return { id: `m_${seq}`, seq, from, to, kind: to ? "dm" : "group", text: "t", reply_to: null, urgent: false, tags: [], time: "", ...extra };
}

const present = (peer: string): Listener => ({ name: peer, left: false });

/** Settles to "woken", "timeout" or the pending marker after `ms`. */
async function state<T>(promise: Promise<T | null>, ms = 20): Promise<"woken" | "timeout" | "pending"> {
  return Promise.race([promise.then((v) => (v === null ? "timeout" : "woken")), new Promise<"pending">((r) => setTimeout(() => r("pending"), ms))]);
}

function park(waits: ParkedWaits, peer: string, timeoutMs = 5_000) {
  const parked = waits.forMail(peer, 1, timeoutMs);
  if (!parked.ok) throw new Error(parked.problem.message);
  return parked.value;
}

describe("ParkedWaits", () => {
  it("a DM wakes its recipient's oldest wait only", async () => {
    const waits = new ParkedWaits();
    const [first, second] = [park(waits, "bob"), park(waits, "bob")];
    const carol = park(waits, "carol");
    waits.deliver(message("alice", "bob"), present);
    expect(await state(first)).toBe("woken");
    expect(await state(second)).toBe("pending");
    expect(await state(carol)).toBe("pending");
    expect(waits.counts()).toEqual({ mail: 2, reply: 0 });
  });

  it("a broadcast wakes one wait per peer that hears it: not the sender's, not a peer who left", async () => {
    const waits = new ParkedWaits();
    const bob = [park(waits, "bob"), park(waits, "bob")];
    const alice = park(waits, "alice");
    const gone = park(waits, "dave");
    waits.deliver(message("alice", null), (peer) => ({ name: peer, left: peer === "dave" }));
    expect(await Promise.all([...bob, alice, gone].map((p) => state(p)))).toEqual(["woken", "pending", "pending", "pending"]);
  });

  it("a reply wakes the ask waiting for it, only when it comes from the one asked", async () => {
    const waits = new ParkedWaits();
    const parked = waits.forReply("alice", 1, "m_q", "bob", 5_000);
    if (!parked.ok) throw new Error("refused");
    waits.deliver(message("carol", "alice", { reply_to: "m_q" }), present);
    expect(await state(parked.value)).toBe("pending");
    const reply = message("bob", "alice", { reply_to: "m_q" });
    waits.deliver(reply, present);
    expect(await parked.value).toBe(reply);
  });

  it(`refuses the ${MAX_WAITS_PER_PEER + 1}th parked call of one peer, and counts it down as calls end`, async () => {
    const waits = new ParkedWaits();
    const parked = Array.from({ length: MAX_WAITS_PER_PEER }, () => park(waits, "bob", 30));
    expect(waits.capacityProblem("bob")?.code).toBe("too_many_waits");
    expect(waits.forMail("bob", 1, 10).ok).toBe(false);
    expect(waits.capacityProblem("carol")).toBeNull();
    expect(await Promise.all(parked)).toEqual(Array(MAX_WAITS_PER_PEER).fill(null));
    expect(waits.capacityProblem("bob")).toBeNull();
    expect(waits.counts()).toEqual({ mail: 0, reply: 0 });
  });

  it("ends the waits of a revoked token, and only those", async () => {
    const waits = new ParkedWaits();
    const old = waits.forMail("bob", 100, 5_000);
    const fresh = waits.forMail("bob", 300, 5_000);
    if (!old.ok || !fresh.ok) throw new Error("refused");
    waits.endFor("bob", 200);
    expect(await state(old.value)).toBe("timeout");
    expect(await state(fresh.value)).toBe("pending");
  });
});

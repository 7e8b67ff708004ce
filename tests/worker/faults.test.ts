/**
 * Faults inside workerd: the group object evicted over and over in the middle of a
 * conversation, concurrent senders, and one peer on two MCP clients and two bridges at once.
 * Each test is bounded in time, and each ends with an exact account: every message is where it
 * should be, once, in seq order.
 *
 * (Single-fault cases - one socket surviving an eviction, one wait surviving a restart - are in
 * sockets.test.ts and waits.test.ts; these tests pile the faults on top of each other.)
 */
import { evictDurableObject, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { freshGroup, mint, parkedWaits as parked, peer } from "./helpers.ts";
import { bridge, type Frame, groupStub, within } from "./reliability-helpers.ts";

type Peer = Awaited<ReturnType<typeof peer>>;
type Msg = { id: string; seq: number; from: string; to: string | null; kind: string; text: string; reply_to: string | null };


/** Evicts the running instance and proves a new one took over (memory gone, storage kept). */
async function evict(group: string): Promise<void> {
  await runInDurableObject(groupStub(group), (instance) => {
    (instance as unknown as { generation: string }).generation = "old";
  });
  await within(20_000, "eviction", evictDurableObject(groupStub(group), { webSockets: "hibernate" }));
  const generation = await runInDurableObject(groupStub(group), (instance) => (instance as unknown as { generation?: string }).generation);
  expect(generation, "the object was not actually evicted").toBeUndefined();
}

async function readAll(p: Peer, limit = 50): Promise<Msg[]> {
  const out: Msg[] = [];
  for (;;) {
    const inbox = await p.call("read_new_messages", { limit });
    expect(inbox.isError, inbox.text).toBe(false);
    out.push(...inbox.data.messages);
    if (inbox.data.remaining === 0) return out;
  }
}

const seqs = (messages: readonly any[]): number[] => messages.map((m) => m.seq as number);

function expectIncreasing(values: number[], what: string): void {
  for (let i = 1; i < values.length; i++) expect(values[i]!, `${what}: ${values.join(",")}`).toBeGreaterThan(values[i - 1]!);
}

describe("group object evicted mid-conversation", () => {
  it("between sends and during waits and questions: nothing lost, every waiter answered", { timeout: 90_000 }, async () => {
    const group = freshGroup("evict");
    const alice = await peer(group, "alice");
    const bob = await peer(group, "bob");
    const carol = await peer(group, "carol");
    await bob.call("register", { summary: "bob survives evictions" });
    await carol.call("list_peers");
    const socket = await bridge(bob.token, group);

    const bobGot: Msg[] = [];
    const sentToBob: number[] = [];
    const answered: number[] = [];
    const rounds = 4;
    for (let round = 0; round < rounds; round++) {
      // Between sends.
      sentToBob.push((await alice.call("send_message", { text: `r${round} broadcast from alice` })).data.seq);
      await evict(group);
      sentToBob.push((await alice.call("send_dm", { to: "bob", text: `r${round} dm from alice` })).data.seq);
      await carol.call("send_message", { text: `r${round} broadcast from carol` }).then((r) => sentToBob.push(r.data.seq));
      await evict(group);
      bobGot.push(...(await readAll(bob, 2)));

      // During a wait: the eviction drains in-flight calls, and mail sent meanwhile must still wake bob.
      const waiting = within(20_000, "wait_for_messages across an eviction", bob.call("wait_for_messages", { timeout_seconds: 30 }));
      await expect.poll(() => parked(group)).toEqual({ mail: 1, reply: 0 });
      const evicting = evict(group);
      sentToBob.push((await carol.call("send_dm", { to: "bob", text: `r${round} dm during the eviction` })).data.seq);
      const woken = await waiting;
      expect(woken.data.messages.map((m: Msg) => m.text)).toEqual([`r${round} dm during the eviction`]);
      bobGot.push(...woken.data.messages);
      await evicting;

      // During a question: the reply reaches the asker although the object is being replaced.
      const asking = within(20_000, "ask_peer across an eviction", alice.call("ask_peer", { to: "bob", question: `r${round} still there?`, timeout_seconds: 30 }));
      await expect.poll(() => parked(group)).toEqual({ mail: 0, reply: 1 });
      const question = (await readAll(bob)).find((m) => m.kind === "question")!;
      expect(question.text).toBe(`r${round} still there?`);
      bobGot.push(question);
      sentToBob.push(question.seq);
      const evictingAgain = evict(group);
      const reply = await bob.call("send_dm", { to: "alice", text: `r${round} yes`, reply_to: question.id });
      const answer = await asking;
      expect(answer.data.reply, answer.text).toMatchObject({ id: reply.data.id, text: `r${round} yes` });
      answered.push(reply.data.seq);
      await evictingAgain;
    }

    // bob read every message meant for him exactly once, in seq order.
    bobGot.push(...(await readAll(bob)));
    expect(seqs(bobGot)).toEqual([...sentToBob].sort((a, b) => a - b));
    // His hibernated socket heard about each of them once, in order, through every eviction.
    await socket.until((f) => f.filter((x) => x.type === "notice").length >= sentToBob.length, "every notice");
    expect(seqs(socket.notices())).toEqual([...sentToBob].sort((a, b) => a - b));
    // alice got each reply as her ask_peer result, so none of them is unread mail for her.
    const aliceUnread = await readAll(alice);
    expect(aliceUnread.filter((m) => answered.includes(m.seq))).toEqual([]);
    // The group channel is whole: seqs have no gaps, the profile survived.
    const history = await alice.call("get_history", { limit: 200 });
    expect(history.data.messages.map((m: Msg) => m.text)).toEqual(
      Array.from({ length: rounds }, (_, r) => [`r${r} broadcast from alice`, `r${r} broadcast from carol`]).flat(),
    );
    const peers = (await alice.call("list_peers")).data.peers as { name: string; summary?: string; online: boolean }[];
    expect(peers.find((p) => p.name === "bob")).toMatchObject({ summary: "bob survives evictions", online: true });
    socket.close();
  });
});

describe("concurrent senders into one group", () => {
  it("every reader sees the same messages in the same seq order, none skipped or repeated", { timeout: 60_000 }, async () => {
    const group = freshGroup("race");
    const senders = await Promise.all(["s1", "s2", "s3", "s4", "s5", "s6"].map((name) => peer(group, name)));
    const readers = await Promise.all(["r1", "r2", "r3"].map((name) => peer(group, name)));
    for (const r of readers) await r.call("list_peers");
    const sockets = await Promise.all(readers.map((r) => bridge(r.token, group)));
    const perSender = 12; // under the default rate limit (30 per 10 s per peer)

    // Readers read in small pages while the senders race each other.
    const got = new Map<string, Msg[]>(readers.map((r) => [r.name, []]));
    let sending = true;
    const reading = readers.map(async (r) => {
      while (sending) {
        got.get(r.name)!.push(...(await r.call("read_new_messages", { limit: 3 })).data.messages);
      }
    });
    const sent = await Promise.all(
      senders.map(async (s) => {
        const mine: { seq: number; text: string }[] = [];
        for (let i = 0; i < perSender; i++) {
          const text = `${s.name}#${i}`;
          const result = await s.call("send_message", { text });
          expect(result.isError, result.text).toBe(false);
          mine.push({ seq: result.data.seq, text });
        }
        return mine;
      }),
    );
    sending = false;
    await Promise.all(reading);
    console.log(`concurrent: read during the race ${readers.map((r) => got.get(r.name)!.length).join("/")} of ${perSender * senders.length}`);
    for (const r of readers) got.get(r.name)!.push(...(await readAll(r)));

    const all = sent.flat().sort((a, b) => a.seq - b.seq);
    expect(new Set(all.map((m) => m.seq)).size).toBe(all.length);
    // Each sender's own messages got increasing seqs in the order it sent them.
    for (const mine of sent) expectIncreasing(seqs(mine), "a sender's seqs");
    for (const r of readers) {
      const messages = got.get(r.name)!;
      expect(messages.map((m) => `${m.seq}:${m.text}`), `reader ${r.name}`).toEqual(all.map((m) => `${m.seq}:${m.text}`));
    }
    // The sockets saw the same order, and so does the history.
    for (const socket of sockets) {
      await socket.until((f) => f.filter((x: Frame) => x.type === "notice").length >= all.length, "all notices");
      expect(seqs(socket.notices())).toEqual(seqs(all));
      socket.close();
    }
    const history = await readers[0]!.call("get_history", { limit: 200 });
    expect(seqs(history.data.messages)).toEqual(seqs(all));
  });
});

describe("one peer on two MCP clients and two bridges at once (two machines)", () => {
  it("shares one cursor: no mail is read twice or skipped, and both bridges hear everything", { timeout: 60_000 }, async () => {
    const group = freshGroup("twice");
    const alice = await peer(group, "alice");
    const dave = await peer(group, "dave");
    // Two machines, two tokens for the same peer, each with its own MCP client and bridge.
    const laptop = await peer(group, "bob");
    const desktop = await peer(group, "bob");
    await laptop.call("list_peers");
    const laptopSocket = await bridge(laptop.token, group);
    const desktopSocket = await bridge(await mint(group, "bob"), group);

    const expected: number[] = [];
    let sending = true;
    const reads = { laptop: [] as Msg[], desktop: [] as Msg[] };
    const reader = async (who: "laptop" | "desktop", client: Peer) => {
      let round = 0;
      while (sending || round === 0) {
        round++;
        // Alternate plain reads and short waits, as two Claude sessions would.
        const result = round % 3 === 0 ? await client.call("wait_for_messages", { timeout_seconds: 1 }) : await client.call("read_new_messages", { limit: 1 + (round % 4) });
        expect(result.isError, result.text).toBe(false);
        reads[who].push(...result.data.messages);
      }
    };
    const readingLaptop = reader("laptop", laptop);
    const readingDesktop = reader("desktop", desktop);
    for (let i = 0; i < 20; i++) {
      const from = i % 2 === 0 ? alice : dave;
      const result = i % 3 === 0 ? await from.call("send_message", { text: `all ${i}` }) : await from.call("send_dm", { to: "bob", text: `dm ${i}` });
      expect(result.isError, result.text).toBe(false);
      expected.push(result.data.seq);
    }
    sending = false;
    await Promise.all([readingLaptop, readingDesktop]);
    const rest = [...(await readAll(laptop)), ...(await readAll(desktop))];

    // Together the two clients read every message exactly once; each saw its share in order.
    const together = [...reads.laptop, ...reads.desktop, ...rest];
    expect(seqs(together).sort((a, b) => a - b)).toEqual(expected);
    expectIncreasing(seqs(reads.laptop), "laptop's reads");
    expectIncreasing(seqs(reads.desktop), "desktop's reads");
    console.log(`two clients, one peer: laptop read ${reads.laptop.length}, desktop ${reads.desktop.length}, after the race ${rest.length}`);

    // Both bridges were told about every message, each once, in order.
    for (const socket of [laptopSocket, desktopSocket]) {
      await socket.until((f) => f.filter((x) => x.type === "notice").length >= expected.length, "every notice");
      expect(seqs(socket.notices())).toEqual(expected);
    }
    // One bridge acks; the other reconnects with no local record and is replayed nothing stale.
    laptopSocket.send({ type: "ack", seq: expected.at(-1) });
    desktopSocket.close();
    const again = await bridge(await mint(group, "bob"), group, null);
    expect(again.notices()).toEqual([]);
    // And new mail reaches both the bridges still open.
    const last = await alice.call("send_dm", { to: "bob", text: "one more" });
    for (const socket of [laptopSocket, again]) await socket.until((f) => f.some((x) => x.type === "notice" && x.seq === last.data.seq), "the last notice");
    const final = await desktop.call("read_new_messages");
    expect(final.data.messages.map((m: Msg) => m.text)).toEqual(["one more"]);
    expect((await laptop.call("read_new_messages")).data.messages).toEqual([]);
    laptopSocket.close();
    again.close();
  });
});

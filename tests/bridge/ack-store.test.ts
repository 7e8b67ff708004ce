/** The on-disk ack record: per relay + group + peer, atomic, monotonic, tolerant of garbage. */
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { AckStore, ackFilePath, defaultStateDir } from "../../local-bridge/core/ack-store.ts";

const key = { url: "http://127.0.0.1:8787", group: "core", peer: "alice" };

describe("AckStore", () => {
  it("starts with no record, then keeps the highest seq across instances", () => {
    const dir = mkdtempSync(join(tmpdir(), "acks-"));
    const store = new AckStore(key, dir);
    expect(store.load()).toBeNull();
    store.save(5);
    store.save(3); // never goes back
    expect(store.load()).toBe(5);
    expect(new AckStore(key, dir).load()).toBe(5);
    // Only the final file is left: the temp file was renamed over it.
    expect(readdirSync(dir)).toEqual([ackFilePath(dir, key).split("/").pop()]);
  });

  it("keeps separate records per relay, group and peer", () => {
    const dir = mkdtempSync(join(tmpdir(), "acks-"));
    new AckStore(key, dir).save(7);
    expect(new AckStore({ ...key, peer: "bob" }, dir).load()).toBeNull();
    expect(new AckStore({ ...key, group: "infra" }, dir).load()).toBeNull();
    expect(new AckStore({ ...key, url: "https://relay.example.workers.dev" }, dir).load()).toBeNull();
  });

  it("treats an unreadable or foreign file as no record, and reset forgets", () => {
    const dir = mkdtempSync(join(tmpdir(), "acks-"));
    const path = ackFilePath(dir, key);
    writeFileSync(path, "{not json");
    expect(new AckStore(key, dir).load()).toBeNull();
    writeFileSync(path, JSON.stringify({ ...key, peer: "mallory", last_acked: 9 }));
    expect(new AckStore(key, dir).load()).toBeNull();
    const store = new AckStore(key, dir);
    store.save(2);
    expect(JSON.parse(readFileSync(path, "utf8"))).toMatchObject({ ...key, last_acked: 2 });
    store.reset();
    expect(new AckStore(key, dir).load()).toBeNull();
  });

  it("lives under XDG_STATE_HOME, else ~/.local/state", () => {
    expect(defaultStateDir({ XDG_STATE_HOME: "/x/state" })).toBe("/x/state/claude-relay");
    expect(defaultStateDir({})).toMatch(/\.local\/state\/claude-relay$/);
  });
});

/**
 * The relay's layers import one way, checked here rather than promised in a comment: the group
 * (worker/group/) is the domain and imports only contract/ and itself; the tools (worker/mcp/),
 * the web room (worker/web/) and the invite pages (worker/invite/) import the group, never the
 * reverse; no module imports itself back through others; and no folder imports a folder that
 * imports it back.
 */
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, normalize, relative } from "node:path";
import { describe, expect, it } from "vitest";

const root = join(import.meta.dirname, "..", "..");

/** Every relative import (and re-export) between the .ts files of worker/ and contract/, as repo paths. */
function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const dir of ["worker", "contract"]) {
    const files = readdirSync(join(root, dir), { recursive: true, encoding: "utf8" }).filter((file) => file.endsWith(".ts") && !file.endsWith(".d.ts"));
    for (const file of files) {
      const path = `${dir}/${file}`;
      const text = readFileSync(join(root, path), "utf8");
      const targets = [...text.matchAll(/^\s*(?:import|export)[^'"]*?from\s+["']([^"']+)["']/gm)]
        .map((m) => m[1]!)
        .filter((spec) => spec.startsWith("."))
        .map((spec) => relative(root, normalize(join(root, dirname(path), spec))));
      graph.set(path, targets);
    }
  }
  return graph;
}

/** One cycle in `graph`, as the nodes along it, or null when there is none. */
function findCycle(graph: Map<string, string[]>): string[] | null {
  const state = new Map<string, "open" | "done">();
  const stack: string[] = [];
  const visit = (node: string): string[] | null => {
    state.set(node, "open");
    stack.push(node);
    for (const next of graph.get(node) ?? []) {
      if (state.get(next) === "open") return [...stack.slice(stack.indexOf(next)), next];
      if (state.get(next) === undefined) {
        const found = visit(next);
        if (found) return found;
      }
    }
    stack.pop();
    state.set(node, "done");
    return null;
  };
  for (const node of graph.keys()) {
    if (state.get(node) !== undefined) continue;
    const found = visit(node);
    if (found) return found;
  }
  return null;
}

/**
 * The node a file belongs to when folders are compared: its folder, except for the files directly
 * in worker/ and worker/group/ (the entry points and the leaves every feature shares), which stand
 * for themselves.
 */
function folderOf(file: string): string {
  const dir = dirname(file);
  return dir === "worker" || dir === "worker/group" ? file : dir;
}

describe("import graph of worker/ and contract/", () => {
  const graph = importGraph();

  it("sees the relay's modules and their imports", () => {
    expect(graph.size).toBeGreaterThan(30);
    expect(graph.get("worker/group/object.ts")).toContain("worker/group/mail/mail.ts");
  });

  it("has no import circle between modules", () => {
    expect(findCycle(graph)).toBeNull();
  });

  it("has no folder that imports a folder importing it back", () => {
    const folders = new Map<string, string[]>();
    for (const [file, targets] of graph) {
      const from = folderOf(file);
      const edges = folders.get(from) ?? [];
      for (const target of targets) if (folderOf(target) !== from) edges.push(folderOf(target));
      folders.set(from, edges);
    }
    expect(findCycle(folders)).toBeNull();
  });

  it("the group imports only contract/ and itself: never the tools, the web room, the invite pages or the Worker", () => {
    const outward = [...graph].flatMap(([file, targets]) =>
      file.startsWith("worker/group/") ? targets.filter((t) => !t.startsWith("worker/group/") && !t.startsWith("contract/")).map((t) => `${file} -> ${t}`) : [],
    );
    expect(outward).toEqual([]);
  });
});

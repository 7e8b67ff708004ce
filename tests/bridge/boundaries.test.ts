/**
 * The contract shared by the worker and the bridge is a directory, and the boundary is checked
 * here rather than promised in a comment: contract/ imports only zod and itself, and the bridge
 * reaches the relay's code only through contract/.
 */
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, normalize } from "node:path";
import { describe, expect, it } from "vitest";

const root = join(import.meta.dirname, "..", "..");

function importsOf(dir: string): { file: string; from: string }[] {
  return readdirSync(join(root, dir), { recursive: true, encoding: "utf8" })
    .filter((file) => file.endsWith(".ts") && !file.includes("node_modules") && !file.startsWith("dist"))
    .flatMap((file) => {
      const text = readFileSync(join(root, dir, file), "utf8");
      // Static imports and re-exports, and dynamic imports of a literal path (the CLI loads its hook
      // command that way, and a circle through one is as real as through a static import).
      const staticImports = [...text.matchAll(/^\s*(?:import|export)[^'"]*?from\s+["']([^"']+)["']/gm)].map((m) => m[1]!);
      const dynamicImports = [...text.matchAll(/\bimport\(\s*["']([^"']+)["']\s*\)/g)].map((m) => m[1]!);
      return [...staticImports, ...dynamicImports].map((from) => ({ file: `${dir}/${file}`, from }));
    });
}

/** A directed graph's circles, each as the path that closes it (first node repeated at the end). */
function cycles(edges: Map<string, Set<string>>): string[][] {
  const found: string[][] = [];
  const state = new Map<string, "open" | "done">();
  const path: string[] = [];
  const visit = (node: string): void => {
    state.set(node, "open");
    path.push(node);
    for (const next of edges.get(node) ?? []) {
      if (state.get(next) === "open") found.push([...path.slice(path.indexOf(next)), next]);
      else if (!state.has(next)) visit(next);
    }
    path.pop();
    state.set(node, "done");
  };
  for (const node of [...edges.keys()].sort()) if (!state.has(node)) visit(node);
  return found;
}

/** The bridge's own imports, file to file, as paths relative to local-bridge/. */
function bridgeFileGraph(): Map<string, Set<string>> {
  const edges = new Map<string, Set<string>>();
  for (const { file, from } of importsOf("local-bridge")) {
    if (!from.startsWith(".")) continue;
    const source = file.slice("local-bridge/".length);
    const target = normalize(join(dirname(source), from));
    if (target.startsWith("..")) continue; // contract/, checked above
    if (!edges.has(source)) edges.set(source, new Set());
    edges.get(source)!.add(target);
  }
  return edges;
}

/** The folder a bridge file lives in ("." for the top). */
const folderOf = (path: string) => (path.includes("/") ? path.slice(0, path.indexOf("/")) : ".");

describe("module boundaries", () => {
  it("contract/ imports nothing but zod and its own modules", () => {
    const imports = importsOf("contract");
    expect(imports.length).toBeGreaterThan(0);
    const foreign = imports.filter(({ from }) => !(from.startsWith("./") || from === "zod" || from === "zod/mini"));
    expect(foreign).toEqual([]);
  });

  it("the bridge reaches the relay's code only through contract/", () => {
    const resolved = importsOf("local-bridge")
      .filter(({ from }) => from.startsWith("."))
      .map(({ file, from }) => ({ file, to: normalize(join(dirname(file), from)) }));
    const intoWorker = resolved.filter(({ to }) => !to.startsWith("local-bridge/") && !to.startsWith("contract/"));
    expect(intoWorker).toEqual([]);
    expect(resolved.some(({ to }) => to.startsWith("contract/"))).toBe(true);
  });

  it("no module imports the group Durable Object for a type", () => {
    const files = [...importsOf("worker"), ...importsOf("local-bridge"), ...importsOf("tests"), ...importsOf("bench"), ...importsOf("scripts")];
    const intoObject = files.filter(({ file, from }) => /group\/object\.ts$|\/group\.ts$/.test(from) && file !== "worker/env.ts" && file !== "worker/index.ts");
    expect(intoObject).toEqual([]);
  });

  it("the bridge's folders import one way: no folder imports one that imports it back, directly or around a circle", () => {
    const files = bridgeFileGraph();
    expect(files.size).toBeGreaterThan(10);
    const folders = new Map<string, Set<string>>();
    for (const [source, targets] of files) {
      for (const target of targets) {
        const [from, to] = [folderOf(source), folderOf(target)];
        if (from === to) continue;
        if (!folders.has(from)) folders.set(from, new Set());
        folders.get(from)!.add(to);
      }
    }
    expect(cycles(folders)).toEqual([]);
    // Every module sits in a folder that says what it is.
    expect([...files.keys()].filter((file) => folderOf(file) === ".")).toEqual([]);
  });

  it("no import circle among the bridge's modules", () => {
    expect(cycles(bridgeFileGraph())).toEqual([]);
  });

  it("the circle check finds a circle", () => {
    const graph = new Map([["a", new Set(["b"])], ["b", new Set(["c"])], ["c", new Set(["a"])], ["d", new Set(["a"])]]);
    expect(cycles(graph)).toEqual([["a", "b", "c", "a"]]);
  });
});

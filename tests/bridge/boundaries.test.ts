/**
 * The contract shared by the worker and the bridge is a directory, and the boundary is checked
 * here rather than promised in a comment: contract/ imports only zod and itself, and the bridge
 * reaches the relay's code only through contract/.
 */
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { describe, expect, it } from "vitest";

const root = join(import.meta.dirname, "..", "..");

function importsOf(dir: string): { file: string; from: string }[] {
  return readdirSync(join(root, dir), { recursive: true, encoding: "utf8" })
    .filter((file) => file.endsWith(".ts") && !file.includes("node_modules") && !file.startsWith("dist"))
    .flatMap((file) => {
      const text = readFileSync(join(root, dir, file), "utf8");
      return [...text.matchAll(/^\s*(?:import|export)[^'"]*?from\s+["']([^"']+)["']/gm)].map((m) => ({ file: `${dir}/${file}`, from: m[1]! }));
    });
}

describe("module boundaries", () => {
  it("contract/ imports nothing but zod and its own modules", () => {
    const imports = importsOf("contract");
    expect(imports.length).toBeGreaterThan(0);
    const foreign = imports.filter(({ from }) => !(from.startsWith("./") || from === "zod" || from === "zod/mini"));
    expect(foreign).toEqual([]);
  });

  it("the bridge reaches the relay's code only through contract/", () => {
    const imports = importsOf("local-bridge");
    // Resolved from the importing file, so modules in subfolders (local-bridge/guard/) are held to it too.
    const target = ({ file, from }: { file: string; from: string }) => relative(root, join(root, dirname(file), from));
    const intoWorker = imports.filter((i) => i.from.startsWith(".") && !/^(local-bridge|contract)\//.test(target(i)));
    expect(intoWorker).toEqual([]);
    expect(imports.some((i) => i.from.startsWith(".") && target(i).startsWith("contract/"))).toBe(true);
  });

  it("no module imports the group Durable Object for a type", () => {
    const files = [...importsOf("worker"), ...importsOf("local-bridge"), ...importsOf("tests"), ...importsOf("bench"), ...importsOf("scripts")];
    const intoObject = files.filter(({ file, from }) => /group\/object\.ts$|\/group\.ts$/.test(from) && file !== "worker/env.ts" && file !== "worker/index.ts");
    expect(intoObject).toEqual([]);
  });
});

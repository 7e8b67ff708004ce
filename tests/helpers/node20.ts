/**
 * The oldest Node the bridge supports, for tests that run the bundled bridge the way a teammate
 * does: a Node 20 from PATH when there is one (the system Node on the project's machines), else
 * the test's own Node.
 */
import { execFileSync } from "node:child_process";

export function nodeVersion(bin: string): string | null {
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

export const OLDEST_NODE = findNode20() ?? process.execPath;

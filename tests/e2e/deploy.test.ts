/** `wrangler deploy --dry-run` must bundle the relay offline, as `npm run deploy` will for real. */
import { execFile } from "node:child_process";
import { mkdtempSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { expect, it } from "vitest";
import { REPO_ROOT } from "../helpers/relay-server.ts";

const run = promisify(execFile);

it("bundles cleanly with wrangler deploy --dry-run", async () => {
  const outdir = mkdtempSync(join(tmpdir(), "relay-bundle-"));
  const { stdout, stderr } = await run("npx", ["wrangler", "deploy", "--dry-run", "--outdir", outdir], {
    cwd: REPO_ROOT,
    env: { ...process.env, WRANGLER_SEND_METRICS: "false", NO_COLOR: "1" },
  });
  const output = stdout + stderr;
  expect(output).toMatch(/Total Upload: [\d.]+ KiB \/ gzip: [\d.]+ KiB/);
  expect(output).toContain("GroupObject");
  expect(readdirSync(outdir)).toContain("index.js");
});

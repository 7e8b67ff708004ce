/**
 * Where the local tools find the team secret: RELAY_SECRET in the environment, else the
 * RELAY_SECRET line of .dev.vars (the file `wrangler dev` reads its secrets from).
 */
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

export const DEV_VARS_PATH = fileURLToPath(new URL("../.dev.vars", import.meta.url));

function secretFromDevVars(path: string): string | undefined {
  if (!existsSync(path)) return undefined;
  const line = readFileSync(path, "utf8")
    .split(/\r?\n/)
    .find((l) => /^\s*RELAY_SECRET\s*=/.test(l));
  const value = line?.slice(line.indexOf("=") + 1).trim().replace(/^(["'])(.*)\1$/, "$2");
  return value || undefined;
}

export function findSecret(path = DEV_VARS_PATH): string | undefined {
  return process.env.RELAY_SECRET || secretFromDevVars(path);
}

/** Makes sure .dev.vars holds a secret; creates a random one the first time. Returns true if it made one. */
export function ensureDevSecret(path = DEV_VARS_PATH): boolean {
  if (secretFromDevVars(path)) return false;
  const line = `RELAY_SECRET=${randomBytes(32).toString("hex")}\n`;
  if (!existsSync(path)) {
    // Exclusive create: two `npm start`s racing on a fresh clone must end up with ONE secret,
    // or one server would refuse the tokens minted from the file.
    try {
      writeFileSync(path, line, { mode: 0o600, flag: "wx" });
      return true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      // The other process may not have written its line yet: give it a moment.
      for (let i = 0; i < 50; i++) {
        if (secretFromDevVars(path)) return false;
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
      }
    }
  }
  const existing = readFileSync(path, "utf8");
  writeFileSync(path, `${existing}${existing === "" || existing.endsWith("\n") ? "" : "\n"}${line}`, { mode: 0o600 });
  return true;
}

/**
 * The CLI in its own words and with the README's exit codes, against the real relay (`npm start`):
 * 2 for a usage mistake (an empty message), 1 for a token the relay refuses (revoked), 3 for a
 * request the relay refuses, told in commands and flags (`dm`, `--reply-to`), never in tool names
 * (`send_dm`, `reply_to`). And the next step `join` prints runs this very relay-bridge, on PATH or not.
 */
import { execFile } from "node:child_process";
import { chmodSync, copyFileSync, mkdtempSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { inCliWords } from "../../local-bridge/cli/cli-words.ts";
import { commandToType } from "../../local-bridge/cli/self.ts";
import { CLI } from "../helpers/bridge-process.ts";
import { startRelay, type RelayServer } from "../helpers/relay-server.ts";

const exec = promisify(execFile);
const ROOT = fileURLToPath(new URL("../..", import.meta.url));

async function cli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  const home = mkdtempSync(join(tmpdir(), "cli-words-"));
  try {
    const { stdout, stderr } = await exec(process.execPath, [CLI, ...args], {
      env: { ...process.env, XDG_CONFIG_HOME: join(home, "config"), XDG_STATE_HOME: join(home, "state"), RELAY_URL: undefined, RELAY_TOKEN: undefined, ...env },
      timeout: 60_000,
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe("tool words become CLI words", () => {
  it("names commands and flags, not tools and arguments", () => {
    expect(inCliWords("Input validation error: Invalid arguments for tool send_dm: reply_to: ids are at most 48 characters")).toBe(
      "`dm` was given input the relay refuses: --reply-to: ids are at most 48 characters",
    );
    expect(inCliWords("call set_state with value null to remove it, or get_state to list keys")).toBe(
      "call `board set` with value null to remove it, or `board get` to list keys",
    );
    expect(inCliWords("use `mcp__relay__send_message` instead")).toBe("use `send` instead");
    // Words that merely contain a tool's name stay as they are.
    expect(inCliWords("resend_message_count")).toBe("resend_message_count");
  });
});

describe("exit codes as the README's table says, against the real relay", () => {
  let relay: RelayServer;
  beforeAll(async () => {
    relay = await startRelay();
  });
  afterAll(async () => {
    await relay?.stop();
  });

  it("2 for an empty message, 3 for a refused request in CLI words, 1 for a revoked token", { timeout: 240_000 }, async () => {
    const token = await relay.mint("words", "ann");
    const flags = ["--url", relay.url, "--token", token];

    const empty = await cli(["send", "", ...flags]);
    expect(empty.code).toBe(2);
    expect(empty.stderr).toContain("send: the message is empty");
    expect((await cli(["dm", "ann", "", ...flags])).code).toBe(2);

    const refused = await cli(["dm", "ann", "hi", "--reply-to", "m".repeat(200), ...flags]);
    expect(refused.code).toBe(3);
    expect(refused.stderr).toContain("`dm` was given input the relay refuses");
    expect(refused.stderr).toContain("--reply-to");
    expect(refused.stderr).not.toMatch(/send_dm|reply_to|Input validation error/);

    expect((await cli(["peers", ...flags])).code).toBe(0);
    const revoke = await exec(process.execPath, [join(ROOT, "scripts", "token.ts"), "--revoke", "--group", "words", "--peer", "ann", "--url", relay.url], { cwd: ROOT, timeout: 60_000 });
    expect(revoke.stderr).toContain("Revoked");
    const after = await cli(["send", "still here?", ...flags]);
    expect(after.code).toBe(1);
    expect(after.stderr).toContain("refused the token");
  });
});

describe("the command join prints to run setup", () => {
  it("is `relay-bridge setup` only when that name on PATH is this file; else the full path", () => {
    const dir = mkdtempSync(join(tmpdir(), "self-"));
    const file = join(dir, "relay-bridge.mjs");
    copyFileSync(join(ROOT, "local-bridge", "dist", "relay-bridge.mjs"), file);
    chmodSync(file, 0o755);
    const bin = mkdtempSync(join(tmpdir(), "self-bin-"));
    expect(commandToType(["setup"], file, "/usr/bin:/bin")).toBe(`${file} setup`);
    symlinkSync(file, join(bin, "relay-bridge"));
    expect(commandToType(["setup"], file, `/usr/bin:${bin}`)).toBe("relay-bridge setup");
    // Not executable (a TypeScript source run by node): node and the path.
    expect(commandToType(["setup"], CLI, "/usr/bin:/bin")).toBe(`${process.execPath} ${CLI} setup`);
  });
});

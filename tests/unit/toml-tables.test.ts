/**
 * The table-level TOML edit that setup uses on Codex's config.toml: owned tables are replaced,
 * everything else (comments, order, other tables, multi-line strings that look like headers) stays
 * byte for byte, and an owned table written as a key is refused with nothing changed.
 */
import { describe, expect, it } from "vitest";
import { parseKey, replaceTables } from "../../local-bridge/setup/toml-tables.ts";
import { codexEventKey, codexTrustedHash } from "../../local-bridge/setup/codex.ts";

const OWNED = [["mcp_servers", "relay"], ["hooks", "state", "/h/hooks.json:stop:0:0"]];
const MINE = `[mcp_servers.relay]\nurl = "https://r/mcp"\n\n[hooks.state."/h/hooks.json:stop:0:0"]\ntrusted_hash = "sha256:x"`;

describe("replaceTables", () => {
  it("replaces owned tables and their subtables, keeping the rest as written", () => {
    const before = [
      "# mine",
      'model = "o"',
      "",
      "[mcp_servers.relay]",
      'url = "old"',
      "[mcp_servers.relay.env]",
      'A = "1"',
      "",
      "[mcp_servers.other] # a comment",
      'command = "x"',
      'notes = """',
      "[mcp_servers.relay]",
      '"""',
      "",
      "[hooks.state.'/h/hooks.json:stop:0:0']",
      'trusted_hash = "sha256:old"',
      '[hooks.state."/h/hooks.json:session_start:0:0"]',
      'trusted_hash = "sha256:theirs"',
    ].join("\n");
    const after = replaceTables(before, OWNED, MINE, "config.toml");
    expect(after).toBe(
      [
        "# mine",
        'model = "o"',
        "",
        "[mcp_servers.other] # a comment",
        'command = "x"',
        'notes = """',
        "[mcp_servers.relay]",
        '"""',
        "",
        '[hooks.state."/h/hooks.json:session_start:0:0"]',
        'trusted_hash = "sha256:theirs"',
        "",
        MINE,
        "",
      ].join("\n"),
    );
    expect(replaceTables(after, OWNED, MINE, "config.toml")).toBe(after);
  });

  it("writes into an empty file", () => {
    expect(replaceTables("", OWNED, MINE, "config.toml")).toBe(`${MINE}\n`);
  });

  it.each([
    ['mcp_servers.relay.url = "x"'],
    ['[mcp_servers]\nrelay = { url = "x" }'],
    ['mcp_servers = { relay = { url = "x" } }'],
    ['[hooks]\nstate = { }'],
  ])("refuses an owned table written as a key: %s", (text) => {
    expect(() => replaceTables(text, OWNED, MINE, "config.toml")).toThrow(/remove that entry by hand and run setup again; nothing was changed/);
  });

  it("parses dotted, quoted and literal keys", () => {
    expect(parseKey(` a . "b.c" . 'd' `)).toEqual(["a", "b.c", "d"]);
    expect(parseKey("a..b")).toBeNull();
  });
});

describe("Codex's hook trust hash", () => {
  // Goldens from `codex app-server` hooks/list (codex-cli 0.171.0) for these exact hooks.
  it("matches what Codex reports", () => {
    expect(codexEventKey("UserPromptSubmit")).toBe("user_prompt_submit");
    expect(codexTrustedHash("SessionStart", "echo hi", 5)).toBe("sha256:9e87c3ad0f08b294d080bebd23a4971ebf5c8d908f22a10ac0a01510508c7917");
    expect(codexTrustedHash("Stop", "echo bye", 600)).toBe("sha256:4f878c38b4dbda92e002b63eef79a8f2f60364c2b7b7490baffe2e180dcea6ac");
  });
});

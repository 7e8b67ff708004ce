/**
 * The bridge's config file and how commands pick their relay: flags, then RELAY_URL/RELAY_TOKEN,
 * then the profile (--profile, else the default, else the only one).
 */
import { chmodSync, mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { signToken } from "../../contract/token.ts";
import { configPath, pickProfile, readConfig, saveProfile } from "../../local-bridge/core/config-file.ts";
import { normaliseRelayUrl, targetFrom } from "../../local-bridge/core/config.ts";

const secret = "s".repeat(40);

function home(): NodeJS.ProcessEnv {
  return { XDG_CONFIG_HOME: mkdtempSync(join(tmpdir(), "relay-config-")) };
}

describe("the config file", () => {
  it("lives under XDG_CONFIG_HOME, else ~/.config, and is written 0600 even over a looser file", () => {
    expect(configPath({ XDG_CONFIG_HOME: "/x" })).toBe("/x/claude-relay/config.json");
    expect(configPath({ HOME: "/home/bob" })).toBe("/home/bob/.config/claude-relay/config.json");
    const path = configPath(home());
    saveProfile("core", { url: "http://a", group: "core", peer: "bob", token: "t1" }, path);
    chmodSync(path, 0o644);
    saveProfile("infra", { url: "http://b", group: "infra", peer: "bob", token: "t2" }, path);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(path, "utf8"))).toMatchObject({ default: "infra", profiles: { core: { token: "t1" }, infra: { token: "t2" } } });
  });

  it("picks the named profile, else the default, else the only one, and says what to do otherwise", () => {
    const path = configPath(home());
    expect(pickProfile(readConfig(path), undefined, path)).toBeNull();
    expect(() => pickProfile(readConfig(path), "core", path)).toThrow(/no profile 'core'.*relay-bridge join/);
    saveProfile("core", { url: "http://a", group: "core", peer: "bob", token: "t1" }, path);
    saveProfile("infra", { url: "http://b", group: "infra", peer: "bob", token: "t2" }, path);
    expect(pickProfile(readConfig(path), undefined, path)!.name).toBe("infra");
    expect(pickProfile(readConfig(path), "core", path)!.profile.url).toBe("http://a");
    writeFileSync(path, JSON.stringify({ profiles: readConfig(path).profiles }));
    expect(() => pickProfile(readConfig(path), undefined, path)).toThrow(/several profiles \(core, infra\).*--profile NAME/);
    writeFileSync(path, "{not json");
    expect(() => readConfig(path)).toThrow(/is not JSON/);
  });

  it("flags and RELAY_URL/RELAY_TOKEN override the profile", async () => {
    const env = home();
    const saved = await signToken(secret, { g: "core", p: "bob", iat: 1 });
    const other = await signToken(secret, { g: "infra", p: "bob", iat: 1 });
    saveProfile("core", { url: "http://saved:1", group: "core", peer: "bob", token: saved }, configPath(env));
    expect(targetFrom({}, env)).toMatchObject({ baseUrl: "http://saved:1", group: "core" });
    expect(targetFrom({}, { ...env, RELAY_TOKEN: other })).toMatchObject({ baseUrl: "http://saved:1", group: "infra" });
    expect(targetFrom({ url: "http://flag:2" }, { ...env, RELAY_URL: "http://env:3" })).toMatchObject({ baseUrl: "http://flag:2", token: saved });
    expect(() => targetFrom({}, home())).toThrow(/no relay URL.*relay-bridge join/);
  });

  it("takes relay URLs as people paste them", () => {
    expect(normaliseRelayUrl("https://relay.example.workers.dev/mcp/")).toEqual({
      base: "https://relay.example.workers.dev",
      notes: ["note: using the relay's base URL https://relay.example.workers.dev (the /mcp at the end of --url is the MCP endpoint, added where needed)"],
    });
    expect(() => normaliseRelayUrl("localhost:8787")).toThrow('--url "localhost:8787" has no scheme: add http:// (http://localhost:8787)');
    expect(() => normaliseRelayUrl("relay.example.com")).toThrow("add https://");
    expect(normaliseRelayUrl("wss://relay.example.com").base).toBe("https://relay.example.com");
  });
});

/**
 * The relay's own Claude Code plugin marketplace, for a deployed (https) relay:
 *
 *   claude plugin marketplace add https://<relay>/marketplace.json
 *   claude plugin install relay@claude-relay
 *
 * GET /marketplace.json lists one plugin whose source is an archive (GET /relay-plugin.zip) with
 * its SHA-256; Claude Code verifies every download against it. The plugin is the one
 * `relay-bridge plugin install` builds locally (local-bridge/plugin/manifest.ts), with the bridge
 * from the same build inside it, so its hooks run `node ${CLAUDE_PLUGIN_ROOT}/relay-bridge.mjs`.
 *
 * Claude Code refuses archive sources over plain http and on loopback, so a local `npm start`
 * serves these files but Claude Code will not install from it; the answer says so in a header.
 */
import { Hono } from "hono";
import { marketplaceManifest, PLUGIN_COMMANDS, pluginManifest } from "../local-bridge/plugin/manifest.ts";
import { BRIDGE_BUNDLE, BRIDGE_VERSION } from "./bridge-bundle.gen.ts";
import type { Env } from "./env.ts";
import { zipStored } from "./zip.ts";

export const pluginMarketplace = new Hono<{ Bindings: Env }>();

export const PLUGIN_ARCHIVE = "relay-plugin.zip";

interface Archive {
  bytes: Uint8Array<ArrayBuffer>;
  sha256: string;
}

let archive: Promise<Archive> | null = null;

/** The plugin as a zip, built once per isolate (it depends only on this build). */
function pluginArchive(): Promise<Archive> {
  archive ??= (async () => {
    const encoder = new TextEncoder();
    const version = /^\d+\.\d+\.\d+/.exec(BRIDGE_VERSION)?.[0] ?? "0.0.0";
    const manifest = pluginManifest(version, { command: "node", args: ["${CLAUDE_PLUGIN_ROOT}/relay-bridge.mjs"] });
    const bytes = zipStored([
      { name: ".claude-plugin/plugin.json", data: encoder.encode(`${JSON.stringify(manifest, null, 2)}\n`) },
      ...Object.entries(PLUGIN_COMMANDS).map(([name, text]) => ({ name: `commands/${name}`, data: encoder.encode(text) })),
      { name: "relay-bridge.mjs", data: encoder.encode(BRIDGE_BUNDLE), mode: 0o755 },
    ]);
    const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
    return { bytes, sha256: [...digest].map((b) => b.toString(16).padStart(2, "0")).join("") };
  })();
  return archive;
}

function refusedByClaudeCode(url: URL): boolean {
  return url.protocol !== "https:" || /^(localhost|127\.|\[::1\])/.test(url.hostname);
}

pluginMarketplace.get("/marketplace.json", async (c) => {
  const url = new URL(c.req.url);
  const { sha256 } = await pluginArchive();
  const source = { source: "archive", url: `${url.origin}/${PLUGIN_ARCHIVE}`, sha256 };
  const version = /^\d+\.\d+\.\d+/.exec(BRIDGE_VERSION)?.[0] ?? "0.0.0";
  return c.json(marketplaceManifest(source, version), 200, {
    "Cache-Control": "no-cache",
    ...(refusedByClaudeCode(url) && {
      "X-Relay-Note": "Claude Code installs archive plugins only over https from a non-loopback host; on this relay use `relay-bridge plugin install`.",
    }),
  });
});

pluginMarketplace.get(`/${PLUGIN_ARCHIVE}`, async (c) => {
  const { bytes, sha256 } = await pluginArchive();
  return c.body(bytes, 200, { "Content-Type": "application/zip", "Cache-Control": "no-cache", "X-Relay-Plugin-Sha256": sha256, "X-Content-Type-Options": "nosniff" });
});

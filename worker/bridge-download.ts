/**
 * GET /bridge.mjs: the bridge, bundled into one file by scripts/build-bridge.ts in the same build
 * as this Worker, so a teammate installs it with curl and never clones the repository. Public:
 * the bridge holds no secret, and it is useless without a token.
 *
 * Its SHA-256, computed in the same build, comes with every download (a header) and on its own at
 * GET /bridge.mjs.sha256, in the format `sha256sum -c` reads, naming the file as the install
 * command saves it: `cd ~/.local/bin && curl -fsSL <relay>/bridge.mjs.sha256 | sha256sum -c`.
 */
import { Hono } from "hono";
import { BRIDGE_BUNDLE, BRIDGE_SHA256, BRIDGE_VERSION } from "./bridge-bundle.gen.ts";
import type { Env } from "./env.ts";

export const bridgeDownload = new Hono<{ Bindings: Env }>();

/** The file name the install command gives the download, and the checksum line names. */
export const BRIDGE_FILE = "relay-bridge";

function base64OfHex(hex: string): string {
  return btoa(String.fromCharCode(...(hex.match(/../g) ?? []).map((byte) => parseInt(byte, 16))));
}

bridgeDownload.get("/bridge.mjs", (c) => {
  const etag = `"${BRIDGE_VERSION}"`;
  if (c.req.header("If-None-Match") === etag) return c.body(null, 304);
  return c.body(BRIDGE_BUNDLE, 200, {
    "Content-Type": "text/javascript; charset=utf-8",
    "Cache-Control": "no-cache",
    ETag: etag,
    "X-Relay-Bridge-Version": BRIDGE_VERSION,
    "X-Relay-Bridge-Sha256": BRIDGE_SHA256,
    // RFC 9530's digest of the bytes sent, for clients that check it themselves.
    "Repr-Digest": `sha-256=:${base64OfHex(BRIDGE_SHA256)}:`,
    "X-Content-Type-Options": "nosniff",
  });
});

bridgeDownload.get("/bridge.mjs.sha256", (c) =>
  c.body(`${BRIDGE_SHA256}  ${BRIDGE_FILE}\n`, 200, {
    "Content-Type": "text/plain; charset=utf-8",
    "Cache-Control": "no-cache",
    "X-Relay-Bridge-Version": BRIDGE_VERSION,
    "X-Content-Type-Options": "nosniff",
  }),
);

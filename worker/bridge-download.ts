/**
 * GET /bridge.mjs: the bridge, bundled into one file by scripts/build-bridge.ts in the same build
 * as this Worker, so a teammate installs it with curl and never clones the repository. Public:
 * the bridge holds no secret, and it is useless without a token.
 */
import { Hono } from "hono";
import { BRIDGE_BUNDLE, BRIDGE_VERSION } from "./bridge-bundle.gen.ts";
import type { Env } from "./env.ts";

export const bridgeDownload = new Hono<{ Bindings: Env }>();

bridgeDownload.get("/bridge.mjs", (c) => {
  const etag = `"${BRIDGE_VERSION}"`;
  if (c.req.header("If-None-Match") === etag) return c.body(null, 304);
  return c.body(BRIDGE_BUNDLE, 200, {
    "Content-Type": "text/javascript; charset=utf-8",
    "Cache-Control": "no-cache",
    ETag: etag,
    "X-Relay-Bridge-Version": BRIDGE_VERSION,
    "X-Content-Type-Options": "nosniff",
  });
});

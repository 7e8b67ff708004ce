/**
 * /mcp bodies are read as a stream with a byte cap: a body without Content-Length is refused
 * with a 413 as soon as it passes MAX_MCP_BODY_BYTES, and the Worker stops pulling it there.
 */
import { describe, expect, it } from "vitest";
import { MAX_MCP_BODY_BYTES } from "../../contract/limits.ts";
import { BASE, freshGroup, mint, workerFetch } from "./helpers.ts";

const CHUNK = 64 * 1024;

/** A body of `total` bytes produced on demand, counting how much the reader pulled. */
function countingBody(total: number, chunk: Uint8Array) {
  const counter = { pulled: 0, cancelled: false };
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (counter.pulled >= total) return controller.close();
      counter.pulled += chunk.byteLength;
      controller.enqueue(chunk);
    },
    cancel() {
      counter.cancelled = true;
    },
  }, { highWaterMark: 0 });
  return { stream, counter };
}

function post(token: string, body: BodyInit, headers: Record<string, string> = {}): Promise<Response> {
  return workerFetch(`${BASE}/mcp`, {
    method: "POST",
    headers: {
      Authorization: `Bearer ${token}`,
      "Content-Type": "application/json",
      Accept: "application/json, text/event-stream",
      ...headers,
    },
    body,
    // @ts-expect-error: workerd accepts the streaming-body flag the DOM types do not list
    duplex: "half",
  });
}

describe("/mcp request bodies", () => {
  it("an 8 MB body without Content-Length gets a 413 and is not pulled past the cap", async () => {
    const token = await mint(freshGroup("body"), "alice");
    const { stream, counter } = countingBody(8 * 1024 * 1024, new Uint8Array(CHUNK).fill(0x20));
    const response = await post(token, stream);
    expect(response.status).toBe(413);
    expect(await response.json()).toEqual({
      error: "body_too_large",
      message: expect.stringMatching(new RegExp(`over ${MAX_MCP_BODY_BYTES} bytes, the most /mcp reads\\. Nothing was done\\. Send less per call`)),
    });
    expect(counter.pulled).toBeGreaterThan(MAX_MCP_BODY_BYTES);
    // A few chunks in flight at most: nowhere near the 8 MB offered.
    expect(counter.pulled).toBeLessThan(MAX_MCP_BODY_BYTES + 16 * CHUNK);
    // And the rest was cancelled, not left to drain.
    expect(counter.cancelled).toBe(true);
  });

  it("a declared Content-Length over the cap is refused before anything is read", async () => {
    const token = await mint(freshGroup("body"), "alice");
    const { stream, counter } = countingBody(MAX_MCP_BODY_BYTES + CHUNK, new Uint8Array(CHUNK).fill(0x20));
    const response = await post(token, stream, { "Content-Length": String(MAX_MCP_BODY_BYTES + CHUNK) });
    expect(response.status).toBe(413);
    expect(((await response.json()) as { error: string }).error).toBe("body_too_large");
    expect(counter.pulled).toBeLessThanOrEqual(2 * CHUNK);
  });

  it("a streamed body within the cap is read whole and answered as usual", async () => {
    const token = await mint(freshGroup("body"), "alice");
    const initialize = JSON.stringify({
      jsonrpc: "2.0",
      id: 1,
      method: "initialize",
      params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "t", version: "1" } },
    });
    // Split mid-way through a multi-byte character too: the decoder must carry it over.
    const bytes = new TextEncoder().encode(initialize.replace('"t"', '"tést"'));
    const split = bytes.indexOf(0xc3) + 1;
    const parts = [bytes.slice(0, 10), bytes.slice(10, split), bytes.slice(split)];
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        const next = parts.shift();
        if (next) controller.enqueue(next);
        else controller.close();
      },
    });
    const response = await post(token, stream);
    expect(response.status).toBe(200);
    expect(await response.text()).toContain('"serverInfo"');
  });
});

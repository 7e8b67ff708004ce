/**
 * The run's global setup (vitest.config.ts) owns the one relay that test files share
 * (./shared-relay.ts). Vitest runs each file in a fresh worker process, so a relay kept in a module
 * there would die with the file; this process lives for the whole run. It starts the relay only
 * when a file first asks, on a local endpoint, so a run without such a file starts none, and
 * stops it when the run ends.
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import type { TestProject } from "vitest/node";
import { startRelay, type RelayServer } from "./relay-server.ts";

declare module "vitest" {
  export interface ProvidedContext {
    /** Where a test file asks for the shared relay's address (GET, answered once it is healthy). */
    sharedRelayEndpoint: string;
  }
}

/** What the endpoint answers: enough to reach the relay; tokens are minted from .dev.vars. */
export interface SharedRelayAddress {
  url: string;
  port: number;
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  let relay: Promise<RelayServer> | undefined;
  const server = createServer((_request, response) => {
    relay ??= startRelay();
    relay.then(
      ({ url, port }) => response.writeHead(200, { "Content-Type": "application/json" }).end(JSON.stringify({ url, port } satisfies SharedRelayAddress)),
      (error: unknown) => response.writeHead(500, { "Content-Type": "text/plain" }).end(String(error)),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  project.provide("sharedRelayEndpoint", `http://127.0.0.1:${(server.address() as AddressInfo).port}`);

  return async () => {
    server.close();
    const started = await relay?.catch(() => undefined);
    await started?.stop();
  };
}

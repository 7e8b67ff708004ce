/**
 * The relay (`npm start`) that test files share: one for the whole run, started when the first
 * file asks and stopped when the run ends (./shared-relay-setup.ts). A file keeps to group names
 * of its own, so it never sees another file's peers or mail. A file that restarts, crashes or
 * reconfigures its relay, or reads its log, starts its own with startRelay() instead: this type
 * offers none of that.
 */
import { inject } from "vitest";
import { mintToken } from "./relay-server.ts";
import type { SharedRelayAddress } from "./shared-relay-setup.ts";

export interface SharedRelay extends SharedRelayAddress {
  mint: typeof mintToken;
}

export async function sharedRelay(): Promise<SharedRelay> {
  const response = await fetch(inject("sharedRelayEndpoint"));
  if (!response.ok) throw new Error(`the shared relay did not start:\n${await response.text()}`);
  const address = (await response.json()) as SharedRelayAddress;
  return { ...address, mint: mintToken };
}

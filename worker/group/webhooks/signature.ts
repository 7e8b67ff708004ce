/**
 * How a webhook delivery is signed. The signed string is `${timestamp}.${body}`: the timestamp
 * (unix seconds, also sent as X-Relay-Timestamp) is inside the signature, so a receiver that
 * refuses timestamps older than a few minutes refuses replays, and a captured body cannot be
 * re-sent with a fresh timestamp. The signature goes in X-Relay-Signature as `sha256=<hex>`.
 * docs/webhooks.md shows a receiver checking it.
 */
const encoder = new TextEncoder();

export const SIGNATURE_HEADER = "X-Relay-Signature";
export const TIMESTAMP_HEADER = "X-Relay-Timestamp";
export const EVENT_HEADER = "X-Relay-Event";
export const DELIVERY_HEADER = "X-Relay-Delivery";

/** A new signing secret: shown to the lead once, kept by the group to sign with. */
export function newWebhookSecret(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  return `whsec_${Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("")}`;
}

export async function signDelivery(secret: string, timestamp: number, body: string): Promise<string> {
  const key = await crypto.subtle.importKey("raw", encoder.encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", key, encoder.encode(`${timestamp}.${body}`)));
  return `sha256=${Array.from(mac, (b) => b.toString(16).padStart(2, "0")).join("")}`;
}

/** Header names of a Tessera webhook; docs/CRON.md shows a receiver checking them. */
export const WEBHOOK_HEADERS = {
  event: "X-Tessera-Event",
  delivery: "X-Tessera-Delivery",
  timestamp: "X-Tessera-Timestamp",
  signature: "X-Tessera-Signature",
} as const;

const encoder = new TextEncoder();

/**
 * `sha256=<hex HMAC-SHA256(secret, timestamp + "." + body)>`. The timestamp (unix seconds) is signed
 * with the body, so a receiver that refuses old timestamps also refuses replayed deliveries.
 */
export async function signWebhook(secret: string, timestampS: number, body: string): Promise<string> {
  const key = await crypto.subtle.importKey("raw", encoder.encode(secret), { name: "HMAC", hash: "SHA-256" }, false, [
    "sign",
  ]);
  const mac = await crypto.subtle.sign("HMAC", key, encoder.encode(`${timestampS}.${body}`));
  return `sha256=${[...new Uint8Array(mac)].map((b) => b.toString(16).padStart(2, "0")).join("")}`;
}

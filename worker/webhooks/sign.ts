import { hmacSha256Hex } from "../util/hex";

/** Header names of a Tessera webhook; docs/CRON.md shows a receiver checking them. */
export const WEBHOOK_HEADERS = {
  event: "X-Tessera-Event",
  delivery: "X-Tessera-Delivery",
  timestamp: "X-Tessera-Timestamp",
  signature: "X-Tessera-Signature",
} as const;

/**
 * `sha256=<hex HMAC-SHA256(secret, timestamp + "." + body)>`. The timestamp (unix seconds) is signed
 * with the body, so a receiver that refuses old timestamps also refuses replayed deliveries.
 */
export async function signWebhook(secret: string, timestampS: number, body: string): Promise<string> {
  return `sha256=${await hmacSha256Hex(secret, `${timestampS}.${body}`)}`;
}

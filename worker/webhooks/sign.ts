// Standard Webhooks (https://www.standardwebhooks.com): docs/CRON.md shows a receiver verifying with
// the `standardwebhooks` library; docs/DESIGN.md "Webhooks" says why this scheme.

/**
 * The three headers of the specification, lower case as it writes them, and the event type for
 * receivers that route before parsing (it is also the body's `type`). `webhook-id` replaced the former
 * `X-Tessera-Delivery`.
 */
export const WEBHOOK_HEADERS = {
  event: "X-Tessera-Event",
  id: "webhook-id",
  timestamp: "webhook-timestamp",
  signature: "webhook-signature",
} as const;

/** A secret is `whsec_` then the base64 of its key bytes; the specification asks for 24 to 64 of them. */
export const WEBHOOK_SECRET_PREFIX = "whsec_";
export const WEBHOOK_KEY_MIN_BYTES = 24;
export const WEBHOOK_KEY_MAX_BYTES = 64;

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** The key bytes of a `whsec_` secret, or null for anything else (a secret stored before the migration to this form). */
export function webhookKey(secret: string): Uint8Array | null {
  if (!secret.startsWith(WEBHOOK_SECRET_PREFIX)) return null;
  const encoded = secret.slice(WEBHOOK_SECRET_PREFIX.length);
  if (encoded.length === 0 || !BASE64.test(encoded)) return null;
  return Uint8Array.from(atob(encoded), (c) => c.charCodeAt(0));
}

const toBase64 = (bytes: ArrayBuffer): string => btoa(String.fromCharCode(...new Uint8Array(bytes)));

/**
 * `v1,<base64 HMAC-SHA256(key, id + "." + timestamp + "." + body)>`. The id and the timestamp (unix
 * seconds) are signed with the body, so a receiver that refuses old timestamps and remembers ids
 * refuses replayed deliveries.
 */
export async function signWebhook(key: Uint8Array, id: string, timestampS: number, body: string): Promise<string> {
  const hmac = await crypto.subtle.importKey("raw", key, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const mac = await crypto.subtle.sign("HMAC", hmac, new TextEncoder().encode(`${id}.${timestampS}.${body}`));
  return `v1,${toBase64(mac)}`;
}

/** A fresh message id, for an event sent once (a leak alert); retried events derive theirs from what they are about. */
export const newWebhookId = (): string => `msg_${crypto.randomUUID().replaceAll("-", "")}`;

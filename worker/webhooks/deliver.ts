import { isOutboundUrlAllowed, OUTBOUND_URL_RULE } from "../http/outbound-url";
import { SECOND_MS } from "../limits";
import { signWebhook, WEBHOOK_HEADERS, webhookKey } from "./sign";

/** One slow receiver must not eat a cron run (or a leak report's answer). */
export const WEBHOOK_TIMEOUT_MS = 5 * SECOND_MS;

/** Where an organization's webhooks go: `organizations.webhook_url` and `webhook_secret`. */
export interface WebhookTarget {
  slug: string;
  webhookUrl: string | null;
  webhookSecret: string | null;
}

/**
 * One event. `id` is the Standard Webhooks message id: the same on every attempt to send this event
 * (a retried expiry notice derives it from its token and threshold), so receivers can drop duplicates.
 */
export interface WebhookMessage {
  id: string;
  type: string;
  data: Record<string, unknown>;
  /** When the event happened (epoch ms): the body's `createdAt`, the same on every attempt. Default: the send time. */
  createdAt?: number;
}

export type WebhookDelivery =
  // `status: null`: nothing was sent and nothing needs to be (worker/webhooks/outbox.ts: not subscribed).
  | { ok: true; deliveryId: string; status: number | null }
  | { ok: false; deliveryId: string; status: number | null; error: string };

/**
 * POSTs one signed event to the organization's webhook. Never throws: failures come back as
 * `{ok: false}` for the caller to retry later; a timeout, a refused connection and a non-2xx answer
 * are all failures. Redirects are not followed, so the signed body only ever reaches the configured URL.
 * The body is `{id, type, createdAt, org: {slug}, data}`; `now` is epoch ms and the signed timestamp.
 */
export async function deliverWebhook(
  org: WebhookTarget,
  message: WebhookMessage,
  now: number,
): Promise<WebhookDelivery> {
  const deliveryId = message.id;
  if (!org.webhookUrl || !org.webhookSecret)
    return { ok: false, deliveryId, status: null, error: "no webhook configured" };
  let url: URL;
  try {
    url = new URL(org.webhookUrl);
  } catch {
    return { ok: false, deliveryId, status: null, error: "the webhook URL is not a URL" };
  }
  if (!isOutboundUrlAllowed(url)) {
    return { ok: false, deliveryId, status: null, error: `the webhook URL ${OUTBOUND_URL_RULE}` };
  }
  const key = webhookKey(org.webhookSecret);
  if (!key) return { ok: false, deliveryId, status: null, error: "the webhook secret is not a whsec_ secret" };

  const timestampS = Math.floor(now / 1000);
  const body = JSON.stringify({
    id: message.id,
    type: message.type,
    createdAt: new Date(message.createdAt ?? now).toISOString(),
    org: { slug: org.slug },
    data: message.data,
  });
  try {
    const res = await fetch(url, {
      method: "POST",
      body,
      redirect: "manual",
      signal: AbortSignal.timeout(WEBHOOK_TIMEOUT_MS),
      headers: {
        "Content-Type": "application/json",
        "User-Agent": "Tessera-Webhook/1",
        [WEBHOOK_HEADERS.event]: message.type,
        [WEBHOOK_HEADERS.id]: message.id,
        [WEBHOOK_HEADERS.timestamp]: String(timestampS),
        [WEBHOOK_HEADERS.signature]: await signWebhook(key, message.id, timestampS, body),
      },
    });
    // The receiver's body is not needed; cancelling it frees the connection at once.
    await res.body?.cancel();
    if (res.status >= 200 && res.status < 300) return { ok: true, deliveryId, status: res.status };
    return { ok: false, deliveryId, status: res.status, error: `the receiver answered HTTP ${res.status}` };
  } catch (err) {
    const timedOut = err instanceof DOMException && (err.name === "TimeoutError" || err.name === "AbortError");
    return {
      ok: false,
      deliveryId,
      status: null,
      error: timedOut ? `no answer within ${WEBHOOK_TIMEOUT_MS} ms` : `delivery failed: ${(err as Error).message}`,
    };
  }
}

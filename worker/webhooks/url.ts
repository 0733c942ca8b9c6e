/** Loopback hosts, as `URL.hostname` spells them: a receiver on the developer's machine (docs/CRON.md "Webhooks"). */
const LOCAL_HOSTS = new Set(["localhost", "127.0.0.1", "[::1]"]);

/**
 * Webhooks carry notices about tokens, so they go over https; plain http only to a loopback address,
 * where there is no network to read them on. The organization settings and the delivery both apply it.
 */
export function isWebhookUrlAllowed(url: URL): boolean {
  return url.protocol === "https:" || (url.protocol === "http:" && LOCAL_HOSTS.has(url.hostname));
}

import { normalizeRange, rangeWithin } from "../verify/ip-allowlist";

// Where Tessera sends requests an organization admin chose: webhook receivers and gateway upstreams.

/** Loopback hosts, as `URL.hostname` spells them: a receiver on the developer's machine (docs/CRON.md "Webhooks"). */
const LOCAL_HOSTS = new Set(["localhost", "127.0.0.1", "[::1]"]);

/**
 * Addresses an admin-chosen URL may not name as an IP literal: this host, private networks, shared and
 * link-local space (cloud metadata at 169.254.169.254), multicast and reserved ranges, in IPv4, IPv6 and
 * v4-mapped IPv6. The URL parser has already turned hex, octal and decimal IPv4 spellings into dotted ones.
 */
const INTERNAL_RANGES = [
  "0.0.0.0/8",
  "10.0.0.0/8",
  "100.64.0.0/10",
  "127.0.0.0/8",
  "169.254.0.0/16",
  "172.16.0.0/12",
  "192.0.0.0/24",
  "192.168.0.0/16",
  "198.18.0.0/15",
  "224.0.0.0/3",
  // IPv4-compatible (deprecated, but parsed), NAT64 and 6to4 forms can each carry an internal IPv4 address.
  "::/96",
  "64:ff9b::/96",
  "64:ff9b:1::/48",
  "2002::/16",
  "fc00::/7",
  "fe80::/10",
  "ff00::/8",
];

/**
 * Whether Tessera may call `url`: https (plain http only to a loopback name, for development), no
 * credentials in it, and no IP literal inside an internal range. Names are not resolved here; the
 * Workers runtime does not reach private networks.
 */
export function isOutboundUrlAllowed(url: URL): boolean {
  if (url.username !== "" || url.password !== "") return false;
  if (url.protocol === "http:") return LOCAL_HOSTS.has(url.hostname);
  if (url.protocol !== "https:") return false;
  const literal = normalizeRange(url.hostname.replace(/^\[(.*)\]$/, "$1"));
  return literal === null || !rangeWithin(literal, INTERNAL_RANGES);
}

/** What a refused URL is told. */
export const OUTBOUND_URL_RULE =
  "must be an https:// URL to a public address, without credentials (http:// only to localhost)";

/** `isOutboundUrlAllowed` for text: false for anything that is not a URL. */
export function isOutboundUrlTextAllowed(value: string): boolean {
  return URL.canParse(value) && isOutboundUrlAllowed(new URL(value));
}

import { HEADER_CARRIERS } from "../verify/carriers";
import { stripCarrierParams } from "./query";

/** RFC 9110 7.6.1: meaningful for one connection only, never forwarded. */
const HOP_BY_HOP = [
  "connection",
  "keep-alive",
  "proxy-authenticate",
  "proxy-authorization",
  "proxy-connection",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
];

/** The identity the gateway vouches for; anything a client sends under these names is dropped first. */
export const IDENTITY_HEADER_PREFIX = "x-tessera-";

// Cookies of Tessera's own console (`__Host-tessera_session`) in any spelling a browser or a client
// could send: any case, the other prefixes, stray whitespace, and the nameless form `=tessera_session=x`
// that a browser sends as `tessera_session=x`. An upstream must never read them.
const TESSERA_COOKIE = /^[\s=]*(?:__(?:host|secure)-)?tessera_/i;

/**
 * On every answer under /gw/, Tessera's own included: whatever an upstream returns is an opaque
 * document on Tessera's host, never a page that runs script, is framed or is sniffed into one, nor
 * one that hands its address (with a `?session=` token in it) to the next request it makes.
 */
export const GATEWAY_ANSWER_HEADERS = {
  "Content-Security-Policy": "sandbox; default-src 'none'; frame-ancestors 'none'",
  "X-Content-Type-Options": "nosniff",
  "Referrer-Policy": "no-referrer",
} as const;

// Upstream answer headers that act beyond the answer itself, on Tessera's origin: cookies (an API
// behind a token gateway has no business setting them on Tessera's host), a service worker's scope,
// wiping the console's storage, a timed redirect; policies a browser keeps for the whole host (HSTS,
// NEL, alternative services, client hints); and reports, whose payload is the address a page was
// loaded from, `?session=` token and all. The upstream's own CSP, nosniff and referrer policy give
// way to ours.
const ORIGIN_WIDE = [
  "set-cookie",
  "service-worker-allowed",
  "clear-site-data",
  "refresh",
  "content-security-policy",
  "content-security-policy-report-only",
  "x-content-type-options",
  "referrer-policy",
  "nel",
  "report-to",
  "reporting-endpoints",
  "strict-transport-security",
  "alt-svc",
  "accept-ch",
  "critical-ch",
];

// A rule admits a request by its method; an upstream that honours these would run it as another.
const METHOD_OVERRIDES = ["x-http-method-override", "x-http-method", "x-method-override"];

// Set by Cloudflare for the request that reached Tessera, or claims a client could forge; the
// gateway states the forwarding facts itself.
const CLIENT_CLAIMS = /^(?:cf-|x-forwarded-|x-real-ip$|forwarded$|cdn-loop$)/;

function connectionTokens(headers: Headers): string[] {
  return (headers.get("connection") ?? "")
    .split(",")
    .map((t) => t.trim().toLowerCase())
    .filter(Boolean);
}

// Two Cookie headers reach the worker joined by ", ", so a pair may hold the start of another header.
function withoutTesseraCookies(cookie: string): string {
  return cookie
    .split(";")
    .flatMap((pair) => {
      const pieces = pair.split(",");
      if (!pieces.some((piece) => TESSERA_COOKIE.test(piece))) return [pair.trim()];
      return pieces.filter((piece) => !TESSERA_COOKIE.test(piece)).map((piece) => piece.trim());
    })
    .filter((pair) => pair !== "")
    .join("; ");
}

export interface ForwardIdentity {
  tokenId: string;
  orgSlug: string;
  kind: string;
  clientIp: string;
  /** Where the client reached Tessera: `X-Forwarded-Host` and `X-Forwarded-Proto`. */
  publicUrl: URL;
  /** `X-Tessera-Signature` (signature.ts), over this request as the upstream receives it. */
  signature: string;
  /** When the request used the token's replaced secret in its grace period: when that secret stops verifying. */
  oldSecretUntil?: string;
}

/** A browser's Referer is the page it came from, whose address may carry that page's `?session=` token. */
function refererWithoutCarriers(referer: string): string | null {
  if (!URL.canParse(referer)) return null;
  const url = new URL(referer);
  return `${url.origin}${url.pathname}${stripCarrierParams(url.search)}`;
}

/**
 * The headers sent upstream: no token carrier (nor one in the Referer), no hop-by-hop header, no
 * method override, no forged identity; Tessera's identity added.
 */
export function upstreamRequestHeaders(incoming: Headers, identity: ForwardIdentity): Headers {
  const drop = new Set<string>([
    ...HEADER_CARRIERS,
    ...HOP_BY_HOP,
    ...connectionTokens(incoming),
    ...METHOD_OVERRIDES,
    "host",
  ]);
  const out = new Headers();
  for (const [name, value] of incoming) {
    if (drop.has(name) || name.startsWith(IDENTITY_HEADER_PREFIX) || CLIENT_CLAIMS.test(name)) continue;
    if (name === "cookie") {
      const kept = withoutTesseraCookies(value);
      if (kept !== "") out.set("cookie", kept);
      continue;
    }
    if (name === "referer") {
      const kept = refererWithoutCarriers(value);
      if (kept !== null) out.set("referer", kept);
      continue;
    }
    out.append(name, value);
  }
  out.set("x-tessera-token-id", identity.tokenId);
  out.set("x-tessera-org", identity.orgSlug);
  out.set("x-tessera-kind", identity.kind);
  out.set("x-tessera-signature", identity.signature);
  if (identity.oldSecretUntil !== undefined) out.set("x-tessera-old-secret-until", identity.oldSecretUntil);
  if (identity.clientIp !== "local") out.set("x-forwarded-for", identity.clientIp);
  out.set("x-forwarded-host", identity.publicUrl.host);
  out.set("x-forwarded-proto", identity.publicUrl.protocol.replace(":", ""));
  return out;
}

/** The upstream's headers as the client gets them: no hop-by-hop header, none that acts on Tessera's origin. */
export function clientResponseHeaders(upstream: Headers): Headers {
  const drop = new Set<string>([...HOP_BY_HOP, ...connectionTokens(upstream), ...ORIGIN_WIDE]);
  const out = new Headers();
  for (const [name, value] of upstream) {
    if (!drop.has(name)) out.append(name, value);
  }
  for (const [name, value] of Object.entries(GATEWAY_ANSWER_HEADERS)) out.set(name, value);
  return out;
}

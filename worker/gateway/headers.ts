import { HEADER_CARRIERS } from "../verify/carriers";

/** RFC 9110 7.6.1: meaningful for one connection only, never forwarded. */
const HOP_BY_HOP = ["connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade"];

/** The identity the gateway vouches for; anything a client sends under these names is dropped first. */
export const IDENTITY_HEADER_PREFIX = "x-tessera-";

// Cookies of Tessera's own console (`tessera_session`): an upstream served under the same host must
// neither read them nor set them.
const TESSERA_COOKIE = /^\s*(?:__(?:host|secure)-)?tessera_/i;

// Set by Cloudflare for the request that reached Tessera, or claims a client could forge; the
// gateway states the forwarding facts itself.
const CLIENT_CLAIMS = /^(?:cf-|x-forwarded-|x-real-ip$|forwarded$|cdn-loop$)/;

function connectionTokens(headers: Headers): string[] {
  return (headers.get("connection") ?? "")
    .split(",")
    .map((t) => t.trim().toLowerCase())
    .filter(Boolean);
}

function withoutTesseraCookies(cookie: string): string {
  return cookie
    .split(";")
    .filter((pair) => pair.trim() !== "" && !TESSERA_COOKIE.test(pair))
    .map((pair) => pair.trim())
    .join("; ");
}

export interface ForwardIdentity {
  tokenId: string;
  orgSlug: string;
  kind: string;
  clientIp: string;
  /** Where the client reached Tessera: `X-Forwarded-Host` and `X-Forwarded-Proto`. */
  publicUrl: URL;
}

/** The headers sent upstream: no token carrier, no hop-by-hop header, no forged identity, Tessera's identity added. */
export function upstreamRequestHeaders(incoming: Headers, identity: ForwardIdentity): Headers {
  const drop = new Set<string>([...HEADER_CARRIERS, ...HOP_BY_HOP, ...connectionTokens(incoming), "host"]);
  const out = new Headers();
  for (const [name, value] of incoming) {
    if (drop.has(name) || name.startsWith(IDENTITY_HEADER_PREFIX) || CLIENT_CLAIMS.test(name)) continue;
    if (name === "cookie") {
      const kept = withoutTesseraCookies(value);
      if (kept !== "") out.set("cookie", kept);
      continue;
    }
    out.append(name, value);
  }
  out.set("x-tessera-token-id", identity.tokenId);
  out.set("x-tessera-org", identity.orgSlug);
  out.set("x-tessera-kind", identity.kind);
  if (identity.clientIp !== "local") out.set("x-forwarded-for", identity.clientIp);
  out.set("x-forwarded-host", identity.publicUrl.host);
  out.set("x-forwarded-proto", identity.publicUrl.protocol.replace(":", ""));
  return out;
}

/** The upstream's headers as the client gets them: hop-by-hop headers and Tessera-cookie writes removed. */
export function clientResponseHeaders(upstream: Headers): Headers {
  const drop = new Set<string>([...HOP_BY_HOP, ...connectionTokens(upstream)]);
  const out = new Headers();
  for (const [name, value] of upstream) {
    if (drop.has(name) || name === "set-cookie") continue;
    out.append(name, value);
  }
  for (const cookie of upstream.getSetCookie()) {
    if (!TESSERA_COOKIE.test(cookie)) out.append("set-cookie", cookie);
  }
  return out;
}

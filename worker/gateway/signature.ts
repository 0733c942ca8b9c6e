// Every request the gateway forwards is signed with the upstream's own secret, so an upstream can
// tell a request came through its own `/gw/<name>` entry, for a token Tessera verified, and not
// from a client calling it directly or through another organization's upstream with forged
// `X-Tessera-*` headers. The check is shown in examples/downstream/src/gateway-signature.ts.

import { hmacSha256Hex, toHex } from "../util/hex";

export const SIGNATURE_HEADER = "x-tessera-signature";

export const SIGNING_SECRET_PREFIX = "tus_";
const SIGNING_SECRET_BYTES = 32;
const SIGNING_SECRET_SHOWN = 4;

/** What the signature binds: everything an upstream acts on that a forger would want to change. */
export interface SignedFacts {
  /** Upper case, as sent upstream. */
  method: string;
  /** The path the upstream receives (base path included), without the query: `URL.pathname` of the forwarded URL. */
  path: string;
  tokenId: string;
  /** The organization's slug, as in `X-Tessera-Org`. */
  org: string;
}

/** `tus_` + 64 lowercase hex characters (32 random bytes), the same form migration 0002 backfilled. */
export function generateSigningSecret(): string {
  return SIGNING_SECRET_PREFIX + toHex(crypto.getRandomValues(new Uint8Array(SIGNING_SECRET_BYTES)));
}

/** What views show instead of the secret: its last characters, enough to tell two secrets apart. */
export function signingSecretHint(secret: string | null): string | null {
  return secret === null ? null : `${SIGNING_SECRET_PREFIX}…${secret.slice(-SIGNING_SECRET_SHOWN)}`;
}

export const signedPayload = (t: number, facts: SignedFacts) =>
  `${t}.${facts.method}.${facts.path}.${facts.tokenId}.${facts.org}`;

/**
 * `t=<unix seconds>,v1=<hex HMAC-SHA256>`, keyed with the UTF-8 bytes of the whole secret (prefix
 * included) over `t.METHOD.path.tokenId.org`. The timestamp lets the upstream refuse a replay once
 * it is old; the upstream compares in constant time.
 */
export async function signatureHeader(secret: string, facts: SignedFacts, nowMs: number): Promise<string> {
  const t = Math.floor(nowMs / 1000);
  return `t=${t},v1=${await hmacSha256Hex(secret, signedPayload(t, facts))}`;
}

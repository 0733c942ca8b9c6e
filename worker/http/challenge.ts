import { SECOND_MS, UNKNOWN_TOKEN_BLOCK_MS } from "../limits";

// The headers that tell a client what to do next: how to authenticate after a 401 (RFC 6750 3),
// when to come back after a 429 (RFC 9110 10.2.3). One wording for /v1/verify, /oauth/* and /api/*.

export const REALM = 'realm="tessera"';

/**
 * The `WWW-Authenticate` value of a 401: the realm alone when the request carried no credential
 * (RFC 6750 3.1: "SHOULD NOT include an error code" then), `error="invalid_token"` when it carried
 * one that was refused (expired, revoked, malformed, unknown...).
 */
export function bearerChallenge(presented: boolean): string {
  return presented ? `Bearer ${REALM}, error="invalid_token"` : `Bearer ${REALM}`;
}

/** Seconds a refused client waits: a tripped unknown-token limiter blocks it this long (worker/verify/throttle.ts). */
export const RETRY_AFTER_SECONDS = Math.ceil(UNKNOWN_TOKEN_BLOCK_MS / SECOND_MS);

import { bearerChallenge, REALM, RETRY_AFTER_SECONDS } from "../http/challenge";

/** Headers on every OAuth answer (RFC 6749 5.1): no cache may keep one. */
export const NO_STORE = { "Cache-Control": "no-store", Pragma: "no-cache" } as const;

/** How the client authenticated, for the challenge a 401 answers with (RFC 6749 5.2). */
export interface Attempt {
  scheme: "Basic" | "Bearer";
  /** Whether a credential was presented (and refused), or none was. */
  presented: boolean;
}

export const NO_ATTEMPT: Attempt = { scheme: "Bearer", presented: false };

/**
 * A client that authenticated with Basic gets a Basic challenge (RFC 6749 5.2: "matching the
 * authentication scheme used by the client"); Basic (RFC 7617) has no error attribute.
 */
const challengeFor = (attempt: Attempt) =>
  attempt.scheme === "Basic" ? `Basic ${REALM}` : bearerChallenge(attempt.presented);

/** RFC 6749 5.2 error answers, which OAuth clients know how to read. */
export function oauthError(
  status: 400 | 401 | 403 | 404 | 413 | 429 | 503,
  error: string,
  description: string,
  attempt: Attempt = NO_ATTEMPT,
): Response {
  const headers: Record<string, string> = { ...NO_STORE, "Content-Type": "application/json; charset=utf-8" };
  if (status === 401) headers["WWW-Authenticate"] = challengeFor(attempt);
  if (status === 429) headers["Retry-After"] = String(RETRY_AFTER_SECONDS);
  return new Response(JSON.stringify({ error, error_description: description }), { status, headers });
}

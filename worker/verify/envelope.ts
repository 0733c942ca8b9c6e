import { VERIFY_CODES, type VerifyCode } from "../errors";
import { bearerChallenge, RETRY_AFTER_SECONDS } from "../http/challenge";
import type { VerifiedToken } from "./core";

/** Headers on every verify-surface answer: no cache may keep it, no referrer may leak a `?session=` URL. */
export const VERIFY_HEADERS = {
  "Cache-Control": "no-store",
  "Referrer-Policy": "no-referrer",
  "Content-Type": "application/json; charset=utf-8",
} as const;

export type VerifyFailureBody = { result: number; valid: false; error: VerifyCode; message: string };
export type VerifySuccessBody = { result: 0; valid: true; token: VerifiedToken };

export function verifyFailureBody(code: VerifyCode, message: string): VerifyFailureBody {
  return { result: VERIFY_CODES[code].result, valid: false, error: code, message };
}

/**
 * What a client should do next: a 401 carries the RFC 6750 3 challenge (no error attribute when no
 * token came, code 1; `invalid_token` for one refused), a 429 how long the block lasts.
 */
function nextStepHeaders(code: VerifyCode): Record<string, string> {
  const { status } = VERIFY_CODES[code];
  if (status === 401) return { "WWW-Authenticate": bearerChallenge(code !== "token_missing") };
  if (status === 429) return { "Retry-After": String(RETRY_AFTER_SECONDS) };
  return {};
}

/** Each code's headers, built once: every refused verification (a malformed token among them) reuses them. */
const FAILURE_HEADERS = Object.fromEntries(
  (Object.keys(VERIFY_CODES) as VerifyCode[]).map((code): [VerifyCode, HeadersInit] => [
    code,
    { ...VERIFY_HEADERS, ...nextStepHeaders(code) },
  ]),
) as Record<VerifyCode, HeadersInit>;

export function verifyFailureResponse(code: VerifyCode, message: string): Response {
  return new Response(JSON.stringify(verifyFailureBody(code, message)), {
    status: VERIFY_CODES[code].status,
    headers: FAILURE_HEADERS[code],
  });
}

export function verifySuccessResponse(token: VerifiedToken): Response {
  const body: VerifySuccessBody = { result: 0, valid: true, token };
  return new Response(JSON.stringify(body), { status: 200, headers: VERIFY_HEADERS });
}

import { VERIFY_CODES, type VerifyCode } from "../errors";
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

export function verifyFailureResponse(code: VerifyCode, message: string): Response {
  return new Response(JSON.stringify(verifyFailureBody(code, message)), {
    status: VERIFY_CODES[code].status,
    headers: VERIFY_HEADERS,
  });
}

export function verifySuccessResponse(token: VerifiedToken): Response {
  const body: VerifySuccessBody = { result: 0, valid: true, token };
  return new Response(JSON.stringify(body), { status: 200, headers: VERIFY_HEADERS });
}

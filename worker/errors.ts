import type { ContentfulStatusCode } from "hono/utils/http-status";

/** Codes of the verify surface (docs/DESIGN.md §3): result number and HTTP status. */
export const VERIFY_CODES = {
  token_missing: { result: 1, status: 401 },
  token_malformed: { result: 2, status: 401 },
  token_unknown: { result: 3, status: 401 },
  token_expired: { result: 4, status: 401 },
  token_disabled: { result: 5, status: 401 },
  token_revoked: { result: 6, status: 401 },
  permission_denied: { result: 7, status: 403 },
  project_out_of_scope: { result: 8, status: 403 },
  rate_limited: { result: 9, status: 429 },
  unavailable: { result: 10, status: 503 },
  invalid_request: { result: 11, status: 400 },
  // The gateway's own failures, in the same envelope.
  upstream_error: { result: 12, status: 502 },
  upstream_timeout: { result: 13, status: 504 },
  // The token's IP allowlist does not admit the end client's address.
  ip_not_allowed: { result: 14, status: 403 },
} as const satisfies Record<string, { result: number; status: ContentfulStatusCode }>;
export type VerifyCode = keyof typeof VERIFY_CODES;

/** Codes of the management API (docs/DESIGN.md §5). */
export const MANAGEMENT_CODES = {
  unauthenticated: 401,
  forbidden: 403,
  sudo_required: 403,
  // The password was right; this account signs in with a second factor: send `code` too.
  two_factor_code_required: 401,
  // The organization requires two-factor sign-in of its admins, and this one has not turned it on.
  two_factor_required: 403,
  not_found: 404,
  conflict: 409,
  payload_too_large: 413,
  // A body route called without `Content-Type: application/json`.
  unsupported_media_type: 415,
  validation_failed: 422,
  rate_limited: 429,
  internal: 500,
  // A store the change depends on is down and nothing was changed: safe to retry.
  unavailable: 503,
} as const satisfies Record<string, ContentfulStatusCode>;
export type ManagementCode = keyof typeof MANAGEMENT_CODES;

export type ErrorCode = VerifyCode | ManagementCode;

/** The one error type: thrown anywhere, rendered by the surface's envelope in `onError`. */
export class AppError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = "AppError";
  }
}

export function isVerifyCode(code: string): code is VerifyCode {
  return Object.hasOwn(VERIFY_CODES, code);
}

export function isManagementCode(code: string): code is ManagementCode {
  return Object.hasOwn(MANAGEMENT_CODES, code);
}

/** How a management code reads on the verify surface, where only result codes exist. */
export function asVerifyCode(code: ErrorCode): VerifyCode {
  if (isVerifyCode(code)) return code;
  if (code === "unauthenticated") return "token_missing";
  if (code === "forbidden" || code === "sudo_required" || code === "two_factor_required") return "permission_denied";
  if (code === "two_factor_code_required") return "token_missing";
  if (code === "internal") return "unavailable";
  return "invalid_request";
}

/** How a verify code reads on the management surface (an admin token failing to authenticate). */
export function asManagementCode(code: ErrorCode): ManagementCode {
  if (isManagementCode(code)) return code;
  if (code === "permission_denied" || code === "project_out_of_scope" || code === "ip_not_allowed") return "forbidden";
  if (code === "invalid_request") return "validation_failed";
  if (code === "upstream_error" || code === "upstream_timeout") return "internal";
  return "unauthenticated";
}

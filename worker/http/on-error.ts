import type { Context, ErrorHandler, NotFoundHandler } from "hono";
import { HTTPException } from "hono/http-exception";
import type { AppEnv } from "../env";
import {
  AppError,
  asManagementCode,
  asVerifyCode,
  type ErrorCode,
  MANAGEMENT_CODES,
  type ManagementCode,
} from "../errors";
import { loggerFor } from "../observability/log";
import { errorKind } from "../util/error-kind";
import { verifyFailureResponse } from "../verify/envelope";
import { bearerChallenge, RETRY_AFTER_SECONDS } from "./challenge";
import { requestIdOf } from "./context";

const isManagementSurface = (c: Context) => c.req.path.startsWith("/api/") || c.req.path === "/api";

/**
 * A 401 carries the RFC 6750 3 challenge (`invalid_token` when a token came in a header and was refused;
 * a missing or dead session cookie is not a bearer token), a 429 a Retry-After: the throttle's own
 * wait when it named one (login, worker/accounts/login.ts), else the unknown-token block's.
 */
function nextStepHeaders(c: Context, code: ManagementCode, details: unknown): Record<string, string> {
  if (code === "unauthenticated") {
    const presented = Boolean(c.req.header("authorization")?.trim() || c.req.header("x-api-key")?.trim());
    return { "WWW-Authenticate": bearerChallenge(presented) };
  }
  if (code === "rate_limited") {
    const named = (details as { retryAfter?: unknown } | undefined)?.retryAfter;
    return { "Retry-After": String(typeof named === "number" ? named : RETRY_AFTER_SECONDS) };
  }
  return {};
}

function render(c: Context, code: ErrorCode, message: string, details?: unknown): Response {
  if (!isManagementSurface(c)) return verifyFailureResponse(asVerifyCode(code), message);
  const managementCode = asManagementCode(code);
  const error = details === undefined ? { code: managementCode, message } : { code: managementCode, message, details };
  return c.json({ error }, MANAGEMENT_CODES[managementCode], {
    "Cache-Control": "no-store",
    ...nextStepHeaders(c, managementCode, details),
  });
}

function fromHttpException(err: HTTPException): { code: ErrorCode; message: string } {
  if (err.status === 413) return { code: "payload_too_large", message: "The request body is too large." };
  if (err.status === 401) return { code: "unauthenticated", message: "Authentication is required." };
  if (err.status === 403) return { code: "forbidden", message: "This request is not allowed." };
  if (err.status === 404) return { code: "not_found", message: "Not found." };
  if (err.status === 429) return { code: "rate_limited", message: "Too many requests." };
  if (err.status >= 400 && err.status < 500)
    return { code: "validation_failed", message: "The request could not be read." };
  return { code: "internal", message: "Something went wrong on our side." };
}

/** The one error handler: known errors in the surface's envelope, anything else logged and answered generically. */
export const onError: ErrorHandler<AppEnv> = (err, c) => {
  if (err instanceof AppError) return render(c, err.code, err.message, err.details);
  if (err instanceof HTTPException) {
    const { code, message } = fromHttpException(err);
    return render(c, code, message);
  }
  // Never the message or stack, to the caller or the log: they may name internals, and a failed
  // query's message carries its bound values. The log gets the kind, the route and the request id.
  // Told the request: /v1/verify runs outside the context storage the plain `log` reads it from.
  loggerFor(() => requestIdOf(c)).error("request.unhandled", {
    method: c.req.method,
    route: c.req.routePath,
    error: errorKind(err),
  });
  return render(c, "internal", "Something went wrong on our side.");
};

export const notFound: NotFoundHandler<AppEnv> = (c) => render(c, "not_found", "There is nothing at this address.");

import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import type { AppEnv } from "../env";
import { AppError } from "../errors";
import { verifyDepsOf } from "../http/context";
import { introspect, mayIntrospect } from "../oauth/introspect";
import { extractToken } from "../verify/carriers";
import { verifyToken } from "../verify/core";

/** A form with one token and a hint is tiny; anything larger is not an introspection request. */
const INTROSPECT_BODY_MAX_BYTES = 4 * 1024;
const FORM = "application/x-www-form-urlencoded";
const NO_STORE = { "Cache-Control": "no-store", Pragma: "no-cache" };

/** RFC 6749 5.2 error answers, which OAuth clients know how to read. */
function oauthError(
  status: 400 | 401 | 403 | 413 | 429 | 503,
  error: string,
  description: string,
  scheme = "Bearer",
): Response {
  const headers: Record<string, string> = { ...NO_STORE, "Content-Type": "application/json; charset=utf-8" };
  if (status === 401) headers["WWW-Authenticate"] = `${scheme} realm="tessera", error="invalid_token"`;
  return new Response(JSON.stringify({ error, error_description: description }), { status, headers });
}

const schemeOf = (authorization: string | undefined) =>
  authorization?.trim().toLowerCase().startsWith("basic") ? "Basic" : "Bearer";

export const oauthRoutes = new Hono<AppEnv>().post(
  "/oauth/introspect",
  bodyLimit({
    maxSize: INTROSPECT_BODY_MAX_BYTES,
    onError: () => oauthError(413, "invalid_request", "The request body is too large."),
  }),
  async (c) => {
    const deps = verifyDepsOf(c);
    const url = new URL(c.req.url);
    const scheme = schemeOf(c.req.header("authorization"));

    // The caller first: an unauthenticated request learns nothing about the token it asks about.
    let callerToken: string | null;
    try {
      callerToken = extractToken(c.req.raw.headers, url);
    } catch (err) {
      if (err instanceof AppError) return oauthError(400, "invalid_request", err.message);
      throw err;
    }
    const caller = await verifyToken(deps, {
      token: callerToken,
      permissions: [],
      project: null,
      clientIp: c.get("clientIp"),
    });
    if (!caller.ok) {
      if (caller.code === "unavailable") return oauthError(503, "temporarily_unavailable", caller.message);
      if (caller.code === "rate_limited") return oauthError(429, "temporarily_unavailable", caller.message);
      if (caller.code === "invalid_request") return oauthError(400, "invalid_request", caller.message);
      return oauthError(
        401,
        "invalid_client",
        "Authenticate with an admin token or a token holding tokens:introspect.",
        scheme,
      );
    }
    if (!mayIntrospect(caller.token)) {
      return oauthError(
        403,
        "insufficient_scope",
        "This token is neither an admin token nor holds the tokens:introspect permission.",
      );
    }

    if (!(c.req.header("content-type") ?? "").toLowerCase().startsWith(FORM)) {
      return oauthError(400, "invalid_request", `The body must be ${FORM} with a token parameter.`);
    }
    const form = new URLSearchParams(await c.req.text());
    const subject = form.get("token");
    if (subject === null || subject === "")
      return oauthError(400, "invalid_request", "The token parameter is required.");
    // token_type_hint (RFC 7662 2.1) is accepted and ignored: every Tessera token is one kind of thing.

    const result = await introspect(deps, caller.token, subject, url.origin, c.get("clientIp"));
    if (!result.ok)
      return oauthError(result.code === "unavailable" ? 503 : 429, "temporarily_unavailable", result.message);
    return c.json(result.answer, 200, NO_STORE);
  },
);

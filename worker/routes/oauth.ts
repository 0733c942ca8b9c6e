import type { Context } from "hono";
import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import type { AppEnv } from "../env";
import { AppError } from "../errors";
import { nowOf, verifyDepsOf } from "../http/context";
import { NO_STORE, oauthError } from "../oauth/answers";
import { type ClientCredentials, readClientCredentials } from "../oauth/client-auth";
import { introspect, mayIntrospect } from "../oauth/introspect";
import { authorizationServerMetadata, issuerOf } from "../oauth/metadata";
import { revokeByOAuth } from "../oauth/revoke";
import { type VerifiedToken, verifyToken } from "../verify/core";

/** A form with one token, a hint and client credentials is tiny; anything larger is not an OAuth request. */
const OAUTH_BODY_MAX_BYTES = 4 * 1024;
const FORM = "application/x-www-form-urlencoded";

const oauthBodyLimit = bodyLimit({
  maxSize: OAUTH_BODY_MAX_BYTES,
  onError: () => oauthError(413, "invalid_request", "The request body is too large."),
});

type Read = { ok: true; subject: string | Response; credentials: ClientCredentials } | { ok: false; answer: Response };

/**
 * The client's credentials and the token asked about (RFC 7662 2.1, RFC 7009 2.1), read once. The
 * subject is an error answer when the form has none, which the routes give only after the client
 * authenticated: an unauthenticated request learns nothing, not even what it got wrong.
 */
async function readRequest(c: Context<AppEnv>): Promise<Read> {
  const isForm = (c.req.header("content-type") ?? "").toLowerCase().startsWith(FORM);
  const form = new URLSearchParams(isForm ? await c.req.text() : "");
  let credentials: ClientCredentials;
  try {
    credentials = readClientCredentials(c.req.raw.headers, new URL(c.req.url), form);
  } catch (err) {
    if (err instanceof AppError) return { ok: false, answer: oauthError(400, "invalid_request", err.message) };
    throw err;
  }
  const subject = form.get("token");
  // token_type_hint is accepted and ignored: every Tessera token is one kind of thing.
  if (!isForm)
    return {
      ok: true,
      credentials,
      subject: oauthError(400, "invalid_request", `The body must be ${FORM} with a token parameter.`),
    };
  if (subject === null || subject === "")
    return { ok: true, credentials, subject: oauthError(400, "invalid_request", "The token parameter is required.") };
  return { ok: true, credentials, subject };
}

/**
 * The authenticated client's token, or the error answer (RFC 6749 5.2: invalid_client is a 401 with
 * a challenge in the scheme the client used). With client_secret_basic or client_secret_post the
 * `client_id` must be the id of the token given as the secret.
 */
async function authenticateClient(
  c: Context<AppEnv>,
  { token, clientId, attempt }: ClientCredentials,
): Promise<{ ok: true; caller: VerifiedToken } | { ok: false; answer: Response }> {
  const caller = await verifyToken(verifyDepsOf(c), {
    token,
    permissions: [],
    project: null,
    clientIp: c.get("clientIp"),
  });
  if (!caller.ok) {
    if (caller.code === "unavailable")
      return { ok: false, answer: oauthError(503, "temporarily_unavailable", caller.message) };
    if (caller.code === "rate_limited")
      return { ok: false, answer: oauthError(429, "temporarily_unavailable", caller.message) };
    if (caller.code === "invalid_request")
      return { ok: false, answer: oauthError(400, "invalid_request", caller.message) };
  }
  if (!caller.ok || (clientId !== null && clientId !== caller.token.id)) {
    const description =
      "Authenticate with an admin token or a token holding tokens:introspect: client_id its id, client_secret the token.";
    return { ok: false, answer: oauthError(401, "invalid_client", description, attempt) };
  }
  return { ok: true, caller: caller.token };
}

const insufficient = (what: string) =>
  oauthError(
    403,
    "insufficient_scope",
    `This token is neither an admin token nor holds the tokens:introspect permission, which ${what} needs.`,
  );

export const oauthRoutes = new Hono<AppEnv>()
  // RFC 8414 3: the issuer has no path, so its metadata sits at the root's well-known address.
  .get("/.well-known/oauth-authorization-server", (c) =>
    c.json(authorizationServerMetadata(issuerOf(c.env)), 200, { "Cache-Control": "public, max-age=3600" }),
  )
  // Clients probe other well-known documents (openid-configuration, oauth-protected-resource...):
  // a JSON 404 tells them there is none, where the console's HTML would fail to parse.
  .all("/.well-known/*", () =>
    oauthError(404, "not_found", "There is no such document here; see /.well-known/oauth-authorization-server."),
  )
  .post("/oauth/introspect", oauthBodyLimit, async (c) => {
    const request = await readRequest(c);
    if (!request.ok) return request.answer;
    const client = await authenticateClient(c, request.credentials);
    if (!client.ok) return client.answer;
    if (!mayIntrospect(client.caller)) return insufficient("introspection");
    if (request.subject instanceof Response) return request.subject;

    const result = await introspect(
      verifyDepsOf(c),
      client.caller,
      request.subject,
      issuerOf(c.env),
      c.get("clientIp"),
    );
    if (!result.ok)
      return oauthError(result.code === "unavailable" ? 503 : 429, "temporarily_unavailable", result.message);
    return c.json(result.answer, 200, NO_STORE);
  })
  .post("/oauth/revoke", oauthBodyLimit, async (c) => {
    const request = await readRequest(c);
    if (!request.ok) return request.answer;
    const { subject, credentials } = request;
    // No client credentials: the token in the form is its own holder's proof (RFC 7009 2.1 allows
    // revocation by the party the token was issued to); a holder can kill a leaked token this way.
    let caller: VerifiedToken | null = null;
    if (credentials.attempt.presented) {
      const client = await authenticateClient(c, credentials);
      if (!client.ok) return client.answer;
      if (!(subject instanceof Response) && credentials.token !== subject && !mayIntrospect(client.caller))
        return insufficient("revoking another token");
      caller = client.caller;
    }
    if (subject instanceof Response) return subject;
    const result = await revokeByOAuth(verifyDepsOf(c), c.env, caller, subject, c.get("clientIp"), nowOf(c));
    if (!result.ok)
      return oauthError(result.code === "unavailable" ? 503 : 429, "temporarily_unavailable", result.message);
    // RFC 7009 2.2: 200 whether or not there was anything to revoke; the body is ignored.
    return c.body(null, 200, NO_STORE);
  });

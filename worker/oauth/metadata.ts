/** Client authentication methods the introspection and revocation endpoints take (RFC 8414 2). */
export const CLIENT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"] as const;

/**
 * The issuer identifier from the ISSUER variable, never the request's Host: a client compares it
 * with the issuer it was configured with (RFC 8414 3.3), and a Host header is whatever a client sent.
 */
export function issuerOf(env: Pick<Env, "ISSUER">): string {
  const configured: string = env.ISSUER;
  return configured.trim().replace(/\/+$/, "");
}

/**
 * RFC 8414 authorization server metadata. Tessera issues its tokens in its console, not through OAuth
 * grants, so it has no authorization or token endpoint and supports no response type: it is an
 * authorization server for resource servers that introspect and revoke.
 */
export function authorizationServerMetadata(issuer: string) {
  return {
    issuer,
    introspection_endpoint: `${issuer}/oauth/introspect`,
    introspection_endpoint_auth_methods_supported: CLIENT_AUTH_METHODS,
    revocation_endpoint: `${issuer}/oauth/revoke`,
    revocation_endpoint_auth_methods_supported: CLIENT_AUTH_METHODS,
    response_types_supported: [],
    grant_types_supported: [],
  };
}

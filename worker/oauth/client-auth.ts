import { AppError } from "../errors";
import { extractToken, queryParams } from "../verify/carriers";
import type { Attempt } from "./answers";

/**
 * A client of /oauth/introspect or /oauth/revoke: a resource server's token, and the token id it
 * claims as `client_id` when it used a standard method (RFC 6749 2.3.1).
 */
export interface ClientCredentials {
  token: string | null;
  /** The `client_id` of client_secret_basic or client_secret_post, which must be the token's id. */
  clientId: string | null;
  attempt: Attempt;
}

/** RFC 6749 2.3.1: Basic's id and secret are form-encoded before base64 (`+` a space, `%XX` escapes). */
function formDecode(value: string): string {
  try {
    return decodeURIComponent(value.replaceAll("+", " "));
  } catch {
    throw new AppError("invalid_request", "The Basic credentials are not form-encoded.");
  }
}

function basicPair(header: string | null): [string, string] | null {
  const encoded = header === null ? undefined : /^basic\s+(\S+)\s*$/i.exec(header.trim())?.[1];
  if (encoded === undefined) return null;
  let decoded: string;
  try {
    decoded = atob(encoded);
  } catch {
    throw new AppError("invalid_request", "The Basic credentials are not valid base64.");
  }
  const colon = decoded.indexOf(":");
  if (colon <= 0 || colon === decoded.length - 1) return null;
  return [formDecode(decoded.slice(0, colon)), formDecode(decoded.slice(colon + 1))];
}

/**
 * The client's credentials, by one method only (RFC 6749 2.3: "MUST NOT use more than one"):
 * - client_secret_basic: `Authorization: Basic base64(client_id:client_secret)`, id = the token's id;
 * - client_secret_post: `client_id` and `client_secret` in the form;
 * - Tessera's own forms, from any carrier: `Authorization: Bearer T`, Basic with the token as user
 *   name and an empty password, `X-Api-Key`.
 * A `client_id` alone (a public client, RFC 7009 2.1) authenticates nothing and is ignored.
 */
export function readClientCredentials(headers: Headers, url: URL, form: URLSearchParams): ClientCredentials {
  const authorization = headers.get("authorization");
  const scheme = authorization?.trim().toLowerCase().startsWith("basic") ? "Basic" : "Bearer";
  const basic = basicPair(authorization);
  const postedSecret = form.get("client_secret");
  if (basic && postedSecret !== null)
    throw new AppError("invalid_request", "Authenticate the client by one method only, not Basic and the form.");
  if (basic) return { token: basic[1], clientId: basic[0], attempt: { scheme: "Basic", presented: true } };
  if (postedSecret !== null) {
    if (authorization?.trim())
      throw new AppError("invalid_request", "Authenticate the client by one method only, not a header and the form.");
    return {
      token: postedSecret === "" ? null : postedSecret,
      clientId: form.get("client_id"),
      attempt: { scheme: "Bearer", presented: true },
    };
  }
  const token = extractToken(headers, queryParams(url.href));
  return { token, clientId: null, attempt: { scheme, presented: token !== null } };
}

import { getQueryParams } from "hono/utils/url";
import { AppError } from "../errors";
import { MAX_CARRIER_LENGTH } from "../limits";

/** Query parameters that carry a token (docs/DESIGN.md §3); the gateway strips exactly these and the headers below. */
export const QUERY_CARRIERS = ["session", "access_token"] as const;
export const HEADER_CARRIERS = ["authorization", "x-api-key"] as const;

function decodeBasic(encoded: string): string {
  let decoded: string;
  try {
    decoded = atob(encoded.trim());
  } catch {
    throw new AppError("invalid_request", "The Basic credentials are not valid base64.");
  }
  const colon = decoded.indexOf(":");
  const user = colon === -1 ? decoded : decoded.slice(0, colon);
  const password = colon === -1 ? "" : decoded.slice(colon + 1);
  // Scanners send the token as the user name with an empty password; some clients do the reverse.
  if (user && password)
    throw new AppError("invalid_request", "Send the token as the Basic user name with an empty password.");
  return user || password;
}

function fromAuthorization(value: string): string {
  const space = value.indexOf(" ");
  const scheme = (space === -1 ? value : value.slice(0, space)).toLowerCase();
  const credentials = space === -1 ? "" : value.slice(space + 1).trim();
  if (scheme === "bearer") return credentials;
  if (scheme === "basic") return decodeBasic(credentials);
  throw new AppError("invalid_request", "The Authorization header must use the Bearer or Basic scheme.");
}

/** A request's query parameters, every value of each name, decoded as `c.req.queries()` gives them. */
export type QueryParams = Record<string, string[] | undefined>;

/**
 * A URL's query parameters by Hono's parser, for callers without a Hono context. It reads the string
 * once, where `new URL()` with `searchParams` cost every verification about 10 µs of its CPU (README,
 * "Performance"); values decode the same way (`+` is a space, then percent-decoding).
 */
export function queryParams(url: string): QueryParams {
  return getQueryParams(url) as Record<string, string[]>;
}

/**
 * The one token a request carries, or null. Every carrier is read; two that disagree are refused.
 * Oversized values are cut short here so that nothing past this point handles them whole.
 */
export function extractToken(headers: Headers, query: QueryParams): string | null {
  const found: string[] = [];
  // An empty header is a client with no token configured, the same as no header: code 1, not 11.
  const authorization = headers.get("authorization")?.trim();
  if (authorization) found.push(fromAuthorization(authorization));
  const apiKey = headers.get("x-api-key");
  if (apiKey !== null) found.push(apiKey.trim());
  // Trimmed as header values are: a token pasted into a URL often brings its line's newline or spaces along.
  for (const name of QUERY_CARRIERS) for (const value of query[name] ?? []) found.push(value.trim());

  const distinct = new Set(found.map((t) => t.slice(0, MAX_CARRIER_LENGTH)));
  if (distinct.size > 1) throw new AppError("invalid_request", "The request carries more than one different token.");
  const [token] = distinct;
  return token === undefined || token === "" ? null : token;
}

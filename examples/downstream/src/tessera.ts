// Tessera middleware for Hono Workers bound to Tessera with `entrypoint = "TesseraRpc"`. It needs that
// service binding (same Cloudflare account); anywhere else use examples/node-http, which calls /v1/verify.
// Self-contained: copy this file into your Worker. It reads the token the way Tessera's own
// /v1/verify does, asks Tessera over the binding, and answers Tessera's verify JSON on refusal.
import type { Context, MiddlewareHandler } from "hono";
import { createMiddleware } from "hono/factory";

/** The `token` of a successful answer (Tessera's docs/DESIGN.md §3). */
export interface TesseraToken {
  id: string;
  kind: "org" | "group" | "personal";
  name: string;
  org: { id: string; slug: string };
  group: { id: string; slug: string } | null;
  user: { id: string } | null;
  projects: "*" | string[];
  permissions: string[];
  admin: boolean;
  expiresAt: string | null;
  status: "active" | "expiring";
}

export type TesseraAnswer =
  | { result: 0; valid: true; token: TesseraToken }
  | { result: number; valid: false; error: string; message: string };

/** What `verify` returns over the binding: the verify JSON plus the HTTP status /v1/verify would use. */
export type TesseraResult = TesseraAnswer & { status: number };

export interface TesseraVerifyOptions {
  /** Every one of these must be held. */
  permission?: string | string[];
  /** A project key the token must cover. */
  project?: string;
  /** The end client's address, so that floods of unknown tokens are throttled per client, not per Worker. */
  clientIp?: string;
}

/** The service binding: `[[services]] binding = "TESSERA" ... entrypoint = "TesseraRpc"`. */
export interface TesseraBinding {
  verify(token: string | null, options?: TesseraVerifyOptions): Promise<TesseraResult>;
}

export type TesseraEnv = { Bindings: { TESSERA: TesseraBinding }; Variables: { tessera: TesseraToken } };

export interface TesseraMiddlewareOptions<E extends TesseraEnv = TesseraEnv> {
  permission?: string | string[];
  /** The project the request touches, e.g. `(c) => c.req.param("project")`. */
  project?: (c: Context<E>) => string | undefined;
}

const ANSWER_HEADERS = { "Cache-Control": "no-store", "Referrer-Policy": "no-referrer" };

class CarrierConflict extends Error {}

function fromAuthorization(value: string): string {
  const space = value.indexOf(" ");
  const scheme = (space === -1 ? value : value.slice(0, space)).toLowerCase();
  const credentials = space === -1 ? "" : value.slice(space + 1).trim();
  if (scheme === "bearer") return credentials;
  if (scheme !== "basic") throw new CarrierConflict("The Authorization header must use the Bearer or Basic scheme.");
  let decoded: string;
  try {
    decoded = atob(credentials);
  } catch {
    throw new CarrierConflict("The Basic credentials are not valid base64.");
  }
  const colon = decoded.indexOf(":");
  const user = colon === -1 ? decoded : decoded.slice(0, colon);
  const password = colon === -1 ? "" : decoded.slice(colon + 1);
  if (user && password) throw new CarrierConflict("Send the token as the Basic user name with an empty password.");
  return user || password;
}

/** Tessera's carriers: Bearer, Basic (token as user name), X-Api-Key, ?session=, ?access_token=. */
export function tokenFromRequest(request: Request): string | null {
  const url = new URL(request.url);
  const found: string[] = [];
  const authorization = request.headers.get("authorization")?.trim();
  if (authorization) found.push(fromAuthorization(authorization));
  const apiKey = request.headers.get("x-api-key");
  if (apiKey !== null) found.push(apiKey.trim());
  for (const name of ["session", "access_token"]) found.push(...url.searchParams.getAll(name));
  const distinct = new Set(found);
  if (distinct.size > 1) throw new CarrierConflict("The request carries more than one different token.");
  const [token] = distinct;
  return token === undefined || token === "" ? null : token;
}

function refuse(c: Context, answer: TesseraAnswer, status: number): Response {
  const headers: Record<string, string> = { ...ANSWER_HEADERS };
  if (status === 401) headers["WWW-Authenticate"] = 'Bearer realm="tessera"';
  return c.json(answer, status as 400, headers);
}

/**
 * `app.get("/projects/:project/x", tessera({ permission: "analysis:read", project: (c) => c.req.param("project") }), handler)`:
 * the handler runs only for a token Tessera accepts, and finds it in `c.var.tessera`.
 */
export function tessera<E extends TesseraEnv = TesseraEnv>(
  options: TesseraMiddlewareOptions<E> = {},
): MiddlewareHandler<E> {
  return createMiddleware<E>(async (c, next) => {
    let token: string | null;
    try {
      token = tokenFromRequest(c.req.raw);
    } catch (err) {
      if (!(err instanceof CarrierConflict)) throw err;
      return refuse(c, { result: 11, valid: false, error: "invalid_request", message: err.message }, 400);
    }
    const project = options.project?.(c);
    const { status, ...answer } = await c.env.TESSERA.verify(token, {
      ...(options.permission !== undefined && { permission: options.permission }),
      ...(project !== undefined && { project }),
      ...(c.req.header("cf-connecting-ip") !== undefined && { clientIp: c.req.header("cf-connecting-ip") }),
    });
    if (!answer.valid) return refuse(c, answer, status);
    c.set("tessera", answer.token);
    await next();
  });
}

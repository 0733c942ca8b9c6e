// Tessera middleware for Hono on any runtime that has `fetch` (Node with @hono/node-server, Bun,
// Deno): it asks Tessera's public `/v1/verify` over HTTP. Self-contained: copy this file.
//
// The token is not parsed here: every carrier Tessera reads (Authorization Bearer or Basic with the
// token as user name, X-Api-Key, ?session=, ?access_token=) is forwarded as the client sent it, so
// Tessera applies its own rules (two different tokens are refused, pasted whitespace is trimmed).
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

export type TesseraHttpEnv = { Variables: { tessera: TesseraToken } };

export interface TesseraHttpOptions<E extends TesseraHttpEnv = TesseraHttpEnv> {
  /** Tessera's origin, e.g. `https://tessera.example.com`. */
  baseUrl: string;
  /** Every one of these must be held. */
  permission?: string | string[];
  /** The project the request touches, e.g. `(c) => c.req.param("project")`. */
  project?: (c: Context<E>) => string | undefined;
  /**
   * The end client's address, sent as `clientIp`; on Node, `(c) => getConnInfo(c).remote.address`
   * from `@hono/node-server/conninfo` (or the left of X-Forwarded-For behind your own proxy).
   */
  clientIp?: (c: Context<E>) => string | undefined;
  /**
   * This server's own Tessera token (an admin token or one holding `tokens:introspect`), sent as
   * `X-Tessera-Caller: Bearer …`. Tessera counts `clientIp` only from a caller that authenticates
   * itself this way; an anonymous caller is counted by its own address, shared by all its clients.
   */
  callerToken?: string;
  /** Defaults to the global fetch; tests hand in Tessera's own. */
  fetch?: (request: Request) => Promise<Response>;
  /** No answer from Tessera within this many ms is a 503. */
  timeoutMs?: number;
}

const ANSWER_HEADERS = { "Cache-Control": "no-store", "Referrer-Policy": "no-referrer" };
const FORWARDED_HEADERS = ["authorization", "x-api-key"];
const FORWARDED_QUERY = ["session", "access_token"];
/** Tessera's answers the middleware passes on as they are: 400, 401, 403, 429 and 503 stay distinct. */
const REFUSALS = new Set([400, 401, 403, 429, 503]);

const unavailable = (message: string): TesseraAnswer => ({ result: 10, valid: false, error: "unavailable", message });

function refuse(c: Context, answer: TesseraAnswer, status: number, retryAfter: string | null): Response {
  const headers: Record<string, string> = { ...ANSWER_HEADERS };
  // RFC 6750 §3: a 401 names the scheme; a request with a bad token also says why.
  if (status === 401) {
    headers["WWW-Authenticate"] =
      answer.result === 1 ? 'Bearer realm="tessera"' : 'Bearer realm="tessera", error="invalid_token"';
  }
  if (retryAfter !== null) headers["Retry-After"] = retryAfter;
  return c.json(answer, status as 400, headers);
}

/** The /v1/verify request for this client request: its carriers, the question, and the client's address. */
function verifyRequest<E extends TesseraHttpEnv>(c: Context<E>, options: TesseraHttpOptions<E>): Request {
  const url = new URL("/v1/verify", options.baseUrl);
  const from = new URL(c.req.url);
  for (const name of FORWARDED_QUERY)
    for (const value of from.searchParams.getAll(name)) url.searchParams.append(name, value);
  for (const permission of [options.permission ?? []].flat()) url.searchParams.append("permission", permission);
  const project = options.project?.(c);
  if (project !== undefined) url.searchParams.set("project", project);
  const clientIp = options.clientIp?.(c);
  if (clientIp) url.searchParams.set("clientIp", clientIp);
  const headers = new Headers();
  for (const name of FORWARDED_HEADERS) {
    const value = c.req.header(name);
    if (value !== undefined) headers.set(name, value);
  }
  if (options.callerToken) headers.set("X-Tessera-Caller", `Bearer ${options.callerToken}`);
  return new Request(url, { headers, signal: AbortSignal.timeout(options.timeoutMs ?? 5_000) });
}

/**
 * `app.get("/projects/:project/x", tesseraHttp({ baseUrl, permission: "analysis:read", project: (c) => c.req.param("project") }), handler)`:
 * the handler runs only for a token Tessera accepts, and finds it in `c.var.tessera`. Refusals answer
 * Tessera's verify JSON with its status; Tessera unreachable is 503 (code 10), never a pass.
 */
export function tesseraHttp<E extends TesseraHttpEnv = TesseraHttpEnv>(
  options: TesseraHttpOptions<E>,
): MiddlewareHandler<E> {
  const send = options.fetch ?? ((request: Request) => fetch(request));
  return createMiddleware<E>(async (c, next) => {
    let res: Response;
    let answer: TesseraAnswer;
    try {
      res = await send(verifyRequest(c, options));
      answer = (await res.json()) as TesseraAnswer;
    } catch {
      return refuse(c, unavailable("Tessera could not be reached."), 503, null);
    }
    if (res.status === 200 && answer.valid) {
      c.set("tessera", answer.token);
      return next();
    }
    if (!REFUSALS.has(res.status) || answer.valid) {
      return refuse(c, unavailable(`Tessera answered HTTP ${res.status}.`), 503, null);
    }
    return refuse(c, answer, res.status, res.headers.get("Retry-After"));
  });
}

import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { SESSION_COOKIE } from "../../worker/accounts/limits";
import worker from "../../worker/index";

// Talks to the worker the way a console or a script does: over fetch, with a cookie or a token.

export const ORIGIN = "https://tessera.test";
export const OWNER = { email: "owner@example.com", password: "correct horse battery staple" };

export interface CallOptions {
  body?: unknown;
  /** Sent as is, with the JSON content type unless `headers` says otherwise. */
  rawBody?: string;
  cookie?: string;
  token?: string;
  /** The Origin header; defaults to the worker's own origin for cookie callers. null sends none. */
  origin?: string | null;
  headers?: Record<string, string>;
  ip?: string;
  /** Other bindings (watched or failing ones): the request goes to the fetch handler, which waits for its `waitUntil` work. */
  bindings?: Env;
}

export interface Answer<T = any> {
  status: number;
  body: T;
  headers: Headers;
  /** The session cookie value the answer set, if any ("" when it cleared it). */
  setCookie: string | null;
}

export function sessionCookieOf(res: Response): string | null {
  for (const line of res.headers.getSetCookie()) {
    if (line.startsWith(`${SESSION_COOKIE}=`)) return line.slice(SESSION_COOKIE.length + 1).split(";")[0]!;
  }
  return null;
}

export async function api<T = any>(method: string, path: string, opts: CallOptions = {}): Promise<Answer<T>> {
  const headers = new Headers(opts.headers);
  if (opts.body !== undefined || opts.rawBody !== undefined) {
    if (!headers.has("content-type")) headers.set("content-type", "application/json");
  }
  if (opts.cookie !== undefined) headers.set("cookie", `${SESSION_COOKIE}=${opts.cookie}`);
  if (opts.token !== undefined) headers.set("authorization", `Bearer ${opts.token}`);
  const origin = opts.origin === undefined ? (opts.cookie !== undefined ? ORIGIN : null) : opts.origin;
  if (origin !== null) headers.set("origin", origin);
  if (opts.ip) headers.set("cf-connecting-ip", opts.ip);
  const init = {
    method,
    headers,
    body: opts.rawBody ?? (opts.body === undefined ? undefined : JSON.stringify(opts.body)),
  };
  const res = opts.bindings
    ? await viaBindings(new Request(`${ORIGIN}${path}`, init), opts.bindings)
    : await exports.default.fetch(`${ORIGIN}${path}`, init);
  const text = await res.text();
  let body: unknown = null;
  if (text !== "") {
    try {
      body = JSON.parse(text);
    } catch {
      body = text;
    }
  }
  return { status: res.status, body: body as T, headers: res.headers, setCookie: sessionCookieOf(res) };
}

async function viaBindings(request: Request, bindings: Env): Promise<Response> {
  const ctx = createExecutionContext();
  const res = await worker.fetch(request as Request<unknown, IncomingRequestCfProperties>, bindings, ctx);
  await waitOnExecutionContext(ctx);
  return res;
}

/** The deployment's SETUP_TOKEN in the tests (vitest.config.ts): what the operator types at first run. */
export const SETUP_TOKEN = env.SETUP_TOKEN;

/** First run: the owner and the first organization; returns the owner's session cookie. */
export async function setupOwner(org = { slug: "acme", name: "Acme" }) {
  const res = await api("POST", "/api/setup", {
    body: { email: OWNER.email, password: OWNER.password, org, setupToken: SETUP_TOKEN },
  });
  if (res.status !== 201) throw new Error(`setup failed: ${res.status} ${JSON.stringify(res.body)}`);
  return {
    cookie: res.setCookie!,
    userId: res.body.user.id as string,
    orgId: res.body.org.id as string,
    orgSlug: org.slug,
  };
}

export async function login(email: string, password: string, ip?: string): Promise<string> {
  const res = await api("POST", "/api/session", { body: { email, password }, ip });
  if (res.status !== 200 || !res.setCookie) throw new Error(`login failed: ${res.status} ${JSON.stringify(res.body)}`);
  return res.setCookie;
}

/** Sudo for five minutes. */
export async function confirm(cookie: string, password: string): Promise<void> {
  const res = await api("POST", "/api/session/confirm", { cookie, body: { password } });
  if (res.status !== 200) throw new Error(`confirm failed: ${res.status} ${JSON.stringify(res.body)}`);
}

/** An owner (or admin) session with sudo: logs in fresh and confirms. */
export async function sudoSession(email: string, password: string, ip?: string): Promise<string> {
  const cookie = await login(email, password, ip);
  await confirm(cookie, password);
  return cookie;
}

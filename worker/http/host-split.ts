import { createMiddleware } from "hono/factory";
import type { AppEnv } from "../env";
import { GATEWAY_ANSWER_HEADERS } from "../gateway/headers";
import { VERIFY_HEADERS, verifyFailureBody } from "../verify/envelope";

const GATEWAY_PATH = /^\/gw(?:\/|$)/;
const MANAGEMENT_PATH = /^\/api(?:\/|$)/;
const NOT_ON_THIS_HOST = "Nothing is served at this address on this host.";

function notOnThisHost(path: string): Response {
  const headers = { ...VERIFY_HEADERS, ...GATEWAY_ANSWER_HEADERS };
  const body = MANAGEMENT_PATH.test(path)
    ? { error: { code: "not_found", message: NOT_ON_THIS_HOST } }
    : verifyFailureBody("invalid_request", NOT_ON_THIS_HOST);
  return new Response(JSON.stringify(body), { status: 404, headers });
}

/**
 * With GATEWAY_HOSTNAME set, the gateway and the console are different origins: `/gw/*` is answered
 * on that host only, and nothing else (the console, `/api/*`, `/oauth/*`, `/v1/*`) is answered there.
 * Whatever an upstream returns then runs, at worst, on an origin that holds no console cookie and
 * passes no console `Origin` check. Empty: one host serves everything, as before.
 */
export const hostSplit = createMiddleware<AppEnv>(async (c, next) => {
  // Typed from wrangler.toml's default (""); a deployment may set it, or an older configuration omit it.
  const configured: string | undefined = c.env.GATEWAY_HOSTNAME;
  const gatewayHost = (configured ?? "").trim().toLowerCase();
  if (gatewayHost === "") return next();
  const onGatewayHost = new URL(c.req.url).hostname === gatewayHost;
  if (onGatewayHost === GATEWAY_PATH.test(c.req.path)) return next();
  return notOnThisHost(c.req.path);
});

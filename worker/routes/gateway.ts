import { Hono } from "hono";
import { systemClock } from "../clock";
import type { AppEnv } from "../env";
import { handleGateway } from "../gateway/gateway";

const GATEWAY_PREFIX = "/gw/";

/** The upstream name and the raw rest of the path, as the client wrote them (Hono's params are decoded). */
function splitGatewayPath(pathname: string): { name: string; rawPath: string } {
  const rest = pathname.slice(GATEWAY_PREFIX.length);
  const slash = rest.indexOf("/");
  return slash === -1 ? { name: rest, rawPath: "" } : { name: rest.slice(0, slash), rawPath: rest.slice(slash) };
}

// No body limit and no body parsing here: the body streams to the upstream untouched.
export const gatewayRoutes = new Hono<AppEnv>().all("/gw/:name{[^/]+}/*", async (c) => {
  const { name, rawPath } = splitGatewayPath(new URL(c.req.url).pathname);
  return handleGateway(
    { env: c.env, waitUntil: (p) => c.executionCtx.waitUntil(p), now: systemClock },
    { request: c.req.raw, name, rawPath, clientIp: c.get("clientIp") },
  );
});

import { Hono } from "hono";
import { createMiddleware } from "hono/factory";
import type { AppEnv } from "../env";
import { handleGateway } from "../gateway/gateway";
import { GATEWAY_ANSWER_HEADERS } from "../gateway/headers";
import { verifyDepsOf } from "../http/context";

const GATEWAY_PREFIX = "/gw/";

/** The upstream name and the raw rest of the path, as the client wrote them (Hono's params are decoded). */
function splitGatewayPath(pathname: string): { name: string; rawPath: string } {
  const rest = pathname.slice(GATEWAY_PREFIX.length);
  const slash = rest.indexOf("/");
  return slash === -1 ? { name: rest, rawPath: "" } : { name: rest.slice(0, slash), rawPath: rest.slice(slash) };
}

/** Every answer under /gw/ (refusals, errors and "not found" included) is sandboxed like a passed-through one. */
const sandboxed = createMiddleware<AppEnv>(async (c, next) => {
  await next();
  for (const [name, value] of Object.entries(GATEWAY_ANSWER_HEADERS)) c.res.headers.set(name, value);
});

// No body limit and no body parsing here: the body streams to the upstream untouched.
export const gatewayRoutes = new Hono<AppEnv>().use("/gw/*", sandboxed).all("/gw/:name{[^/]+}/*", async (c) => {
  const { name, rawPath } = splitGatewayPath(new URL(c.req.url).pathname);
  return handleGateway(verifyDepsOf(c), { request: c.req.raw, name, rawPath, clientIp: c.get("clientIp") });
});

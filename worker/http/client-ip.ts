import { createMiddleware } from "hono/factory";
import type { AppEnv } from "../env";

/** Cloudflare sets CF-Connecting-IP and overwrites any a client sends; local dev has none. */
export const clientIp = createMiddleware<AppEnv>(async (c, next) => {
  c.set("clientIp", c.req.header("cf-connecting-ip") ?? "local");
  await next();
});

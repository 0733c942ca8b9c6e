import type { NotFoundHandler } from "hono";
import type { AppEnv } from "../env";
import { notFound } from "./on-error";

// Addresses the worker itself answers: what no route there matches is a 404 of that surface, never the console.
const WORKER_SURFACE = /^\/(?:api|v1|gw|oauth|leaks|healthz)(?:\/|$)/;

/**
 * The console's files, with the single-page fallback (`not_found_handling`), for any GET or HEAD no
 * route answered outside the worker's own surfaces. wrangler.toml runs the worker first for every
 * request (`run_worker_first = true`) so that the host split (host-split.ts) decides before any
 * console file is served.
 */
export const consoleOrNotFound: NotFoundHandler<AppEnv> = (c) => {
  const readOnly = c.req.method === "GET" || c.req.method === "HEAD";
  if (readOnly && !WORKER_SURFACE.test(c.req.path)) return c.env.ASSETS.fetch(c.req.raw);
  return notFound(c);
};

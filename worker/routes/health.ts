import { Hono } from "hono";
import type { AppEnv } from "../env";
import { storesAnswer } from "../observability/health";

const NO_STORE = { "Cache-Control": "no-store" };

// The only two answers, so the OpenAPI document (worker/openapi/responses.ts) is held to them.
export const HEALTH_OK = { status: "ok" } as const;
export const HEALTH_UNAVAILABLE = { status: "unavailable" } as const;

/**
 * `GET /healthz` for load balancers and uptime monitors: public, and saying nothing an outsider could
 * use (which store failed, and why, goes to the log). Answered on the main host only: with
 * GATEWAY_HOSTNAME set, the gateway's host serves nothing but `/gw/*` (worker/http/host-split.ts).
 */
export const healthRoutes = new Hono<AppEnv>().get("/healthz", async (c) =>
  (await storesAnswer(c.env)) ? c.json(HEALTH_OK, 200, NO_STORE) : c.json(HEALTH_UNAVAILABLE, 503, NO_STORE),
);

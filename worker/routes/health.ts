import { Hono } from "hono";
import type { AppEnv } from "../env";
import { storesAnswer } from "../observability/health";

const NO_STORE = { "Cache-Control": "no-store" };

/**
 * `GET /healthz` for load balancers and uptime monitors: public, and saying nothing an outsider could
 * use (which store failed, and why, goes to the log). Answered on the main host only: with
 * GATEWAY_HOSTNAME set, the gateway's host serves nothing but `/gw/*` (worker/http/host-split.ts).
 */
export const healthRoutes = new Hono<AppEnv>().get("/healthz", async (c) =>
  (await storesAnswer(c.env))
    ? c.json({ status: "ok" }, 200, NO_STORE)
    : c.json({ status: "unavailable" }, 503, NO_STORE),
);

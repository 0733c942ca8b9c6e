import { Hono } from "hono";
import type { AppEnv } from "../../env";
import { routeTable } from "../../index";
import { buildOpenApi } from "../../openapi/document";

// Built from the app's own routes on first request, then kept for the isolate's life: the routes
// cannot change while it runs. docs/openapi.json is this answer, written by `npm run build`.
let document: string | undefined;

export const openApiRoutes = new Hono<AppEnv>().get("/", (c) => {
  document ??= JSON.stringify(buildOpenApi(routeTable));
  return c.body(document, 200, { "Content-Type": "application/json; charset=utf-8" });
});

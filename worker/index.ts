import { Hono } from "hono";
import { runScheduled } from "./cron/scheduled";
import type { AppEnv } from "./env";
import { clientIp } from "./http/client-ip";
import { notFound, onError } from "./http/on-error";
import { verifyRoutes } from "./routes/verify";

export { TesseraRpc } from "./rpc";

// Chained so `hc<AppType>` types the console's client.
const app = new Hono<AppEnv>()
  .use(clientIp)
  .route("/", verifyRoutes);

app.onError(onError);
app.notFound(notFound);

export type AppType = typeof app;

export default {
  fetch: app.fetch,
  scheduled: runScheduled,
} satisfies ExportedHandler<Env>;

import { Hono } from "hono";
import { except } from "hono/combine";
import { contextStorage } from "hono/context-storage";
import { authenticate } from "./auth/guards";
import { isPublicApiRoute } from "./auth/public-routes";
import { runScheduled } from "./cron/scheduled";
import type { AppEnv } from "./env";
import { clientIp } from "./http/client-ip";
import { consoleOrNotFound } from "./http/console";
import { d1Bookmark } from "./http/d1-bookmark";
import { hostSplit } from "./http/host-split";
import { onError } from "./http/on-error";
import { handleQueue } from "./queue/consume";
import { instanceAuditRoutes, meTokenHistoryRoutes, orgAuditRoutes } from "./routes/api/audit";
import { groupRoutes } from "./routes/api/groups";
import { invitationRoutes, orgInvitationRoutes } from "./routes/api/invitations";
import { jobRoutes } from "./routes/api/jobs";
import { meRoutes } from "./routes/api/me";
import { meSessionRoutes } from "./routes/api/me-sessions";
import { meTokenRoutes } from "./routes/api/me-tokens";
import { meTwoFactorRoutes } from "./routes/api/me-two-factor";
import { memberRoutes } from "./routes/api/members";
import { openApiRoutes } from "./routes/api/openapi";
import { orgRoutes } from "./routes/api/orgs";
import { overviewRoutes } from "./routes/api/overview";
import { passwordResetRoutes } from "./routes/api/password-resets";
import { permissionSetRoutes } from "./routes/api/permission-sets";
import { permissionRoutes } from "./routes/api/permissions";
import { policyRoutes } from "./routes/api/policies";
import { projectRoutes } from "./routes/api/projects";
import { sessionRoutes } from "./routes/api/session";
import { setupRoutes } from "./routes/api/setup";
import { apiBodyLimit, apiHeaders } from "./routes/api/surface";
import { orgTokenRoutes } from "./routes/api/tokens";
import { twoFactorPolicyRoutes } from "./routes/api/two-factor-policy";
import { upstreamRoutes } from "./routes/api/upstreams";
import { userRoutes } from "./routes/api/users";
import { webhookRoutes } from "./routes/api/webhook";
import { gatewayRoutes } from "./routes/gateway";
import { healthRoutes } from "./routes/health";
import { leakRoutes, orgLeakRoutes } from "./routes/leaks";
import { oauthRoutes } from "./routes/oauth";
import { verifyRoutes } from "./routes/verify";

export { TesseraRpc } from "./rpc";

// Chained so `hc<AppType>` types the console's client.
const app = new Hono<AppEnv>()
  .use(clientIp)
  .use(hostSplit)
  .route("/", verifyRoutes)
  // The request's context, reachable from the logger (worker/observability/log.ts) for its request id.
  // Mounted after /v1/verify, which tells its logger the id instead (VerifyDeps.log): the context's
  // AsyncLocalStorage cost a memory hit about 13% of its CPU (README, "Benchmarks").
  .use(contextStorage())
  .route("/", healthRoutes)
  .use("/api/*", apiHeaders, d1Bookmark, apiBodyLimit, except(isPublicApiRoute, authenticate))
  .route("/api/openapi.json", openApiRoutes)
  .route("/api/setup", setupRoutes)
  .route("/api/session", sessionRoutes)
  .route("/api/me", meRoutes)
  .route("/api/me/tokens", meTokenRoutes)
  .route("/api/me/tokens", meTokenHistoryRoutes)
  .route("/api/me/sessions", meSessionRoutes)
  .route("/api/me/two-factor", meTwoFactorRoutes)
  .route("/api/orgs", orgRoutes)
  .route("/api/orgs", groupRoutes)
  .route("/api/orgs", projectRoutes)
  .route("/api/orgs", memberRoutes)
  .route("/api/orgs", orgInvitationRoutes)
  .route("/api/orgs", policyRoutes)
  .route("/api/invitations", invitationRoutes)
  .route("/api/users", userRoutes)
  .route("/api/password-resets", passwordResetRoutes)
  .route("/api/orgs", orgTokenRoutes)
  .route("/api/orgs", overviewRoutes)
  .route("/api/orgs", orgAuditRoutes)
  .route("/api/orgs", twoFactorPolicyRoutes)
  .route("/api/audit", instanceAuditRoutes)
  .route("/api/jobs", jobRoutes)
  .route("/api/permissions", permissionRoutes)
  .route("/api/permission-sets", permissionSetRoutes)
  .route("/", gatewayRoutes)
  .route("/", oauthRoutes)
  .route("/", leakRoutes)
  .route("/api/orgs", orgLeakRoutes)
  .route("/api/orgs", upstreamRoutes)
  .route("/api/orgs", webhookRoutes);

app.onError(onError);
app.notFound(consoleOrNotFound);

export type AppType = typeof app;

/**
 * Every method, path and handler the app routes: test/api-authz-matrix.test.ts requires each to be
 * classified, and /api/openapi.json documents them with their validators' schemas.
 */
export const routeTable: readonly { method: string; path: string; handler: unknown }[] = app.routes.map(
  ({ method, path, handler }) => ({ method, path, handler }),
);

export default {
  fetch: app.fetch,
  scheduled: runScheduled,
  queue: handleQueue,
} satisfies ExportedHandler<Env>;

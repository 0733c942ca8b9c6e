import { Hono } from "hono";
import { z } from "zod";
import { orgAccess, ownerOnly } from "../../auth/guards";
import type { AppEnv } from "../../env";
import { dbOf } from "../../http/context";
import { listAudit } from "../../orgs/audit";
import { pageQuery } from "./schemas";
import { validate } from "./validate";

const auditQuery = z.object({
  ...pageQuery,
  target: z.string().max(100).optional(),
  action: z
    .string()
    .max(100)
    .regex(/^[a-z_.]+$/, "must be an action name such as token.revoked, or a family such as token.")
    .optional(),
});

/** `GET /api/orgs/:org/audit`: the organization's events, newest first, for its admins. */
export const orgAuditRoutes = new Hono<AppEnv>().get(
  "/:org/audit",
  orgAccess("admin", "audit:read"),
  validate("query", auditQuery),
  async (c) => {
    const { cursor, limit, target, action } = c.req.valid("query");
    return c.json(await listAudit(dbOf(c), { orgId: c.get("org").id, target, action }, { cursor, limit }));
  },
);

/** `GET /api/audit`: every event of the instance (logins, the catalog, all organizations), for the owner. */
export const instanceAuditRoutes = new Hono<AppEnv>().get("/", ownerOnly, validate("query", auditQuery), async (c) => {
  const { cursor, limit, target, action } = c.req.valid("query");
  return c.json(await listAudit(dbOf(c), { orgId: null, target, action }, { cursor, limit }));
});

import type { Context } from "hono";
import { Hono } from "hono";
import { z } from "zod";
import { findPersonalToken } from "../../accounts/personal-tokens";
import { findUserByEmail } from "../../accounts/users";
import { exportAudit } from "../../audit/export";
import { orgAccess, ownerOnly, requireUser, userOf } from "../../auth/guards";
import { canManageToken } from "../../auth/token-rights";
import type { Db } from "../../db/client";
import type { AppEnv } from "../../env";
import { currentDbOf, dbOf } from "../../http/context";
import { type AuditFilter, listAudit } from "../../orgs/audit";
import { findTokenRow } from "../../tokens/views";
import { isoDate, pageQuery } from "./schemas";
import { noSuchToken } from "./token-actions";
import { validate } from "./validate";

const filterFields = {
  target: z.string().max(100).optional(),
  actor: z.string().max(254).optional(),
  action: z
    .string()
    .max(100)
    .regex(/^[a-z_.]+$/, "must be an action name such as token.revoked, or a family such as token.")
    .optional(),
  from: isoDate.optional(),
  to: isoDate.optional(),
};
const auditQuery = z.object({ ...pageQuery, ...filterFields });
const exportQuery = z.object({
  ...filterFields,
  cursor: pageQuery.cursor,
  format: z.enum(["csv", "json"]).default("csv"),
});
const historyQuery = z.object(pageQuery);

type Filters = Omit<z.infer<typeof auditQuery>, "cursor" | "limit">;

/** A person's email stands for their id; an email nobody has matches nothing (and says nothing more). */
async function actorId(db: Db, actor: string | undefined): Promise<string | undefined> {
  if (!actor?.includes("@")) return actor;
  return (await findUserByEmail(db, actor))?.id ?? "(no such person)";
}

async function filterOf(db: Db, orgId: string | null, q: Filters): Promise<AuditFilter> {
  return {
    orgId,
    target: q.target,
    actor: await actorId(db, q.actor),
    action: q.action,
    from: q.from === undefined ? undefined : Date.parse(q.from),
    to: q.to === undefined ? undefined : Date.parse(q.to),
  };
}

/**
 * The filtered log as a download: CSV or JSON, `next` (header and JSON) where a capped export stops. Read
 * at the primary: a download sends no bookmark, and must not miss the change made just before it.
 */
async function exported(c: Context<AppEnv>, orgId: string | null, q: z.infer<typeof exportQuery>) {
  const { cursor, format, ...filters } = q;
  const db = currentDbOf(c);
  const { next, body } = await exportAudit(db, await filterOf(db, orgId, filters), format, cursor);
  const headers: Record<string, string> = {
    "content-type": format === "csv" ? "text/csv; charset=utf-8" : "application/json; charset=utf-8",
    "content-disposition": `attachment; filename="tessera-audit.${format}"`,
  };
  if (next) headers["x-tessera-next-cursor"] = next;
  return c.body(body, 200, headers);
}

/** `GET /api/orgs/:org/audit` and its export: the organization's events, newest first, for its admins. */
export const orgAuditRoutes = new Hono<AppEnv>()
  .get("/:org/audit", orgAccess("admin", "audit:read"), validate("query", auditQuery), async (c) => {
    const { cursor, limit, ...q } = c.req.valid("query");
    const db = dbOf(c);
    return c.json(await listAudit(db, await filterOf(db, c.get("org").id, q), { cursor, limit }));
  })
  .get("/:org/audit/export", orgAccess("admin", "audit:read"), validate("query", exportQuery), async (c) => {
    return exported(c, c.get("org").id, c.req.valid("query"));
  })
  // A token's history: the events about it, for whoever manages the token (a group admin, their group's).
  .get(
    "/:org/tokens/:id/history",
    orgAccess("group_admin", "audit:read"),
    validate("query", historyQuery),
    async (c) => {
      const db = dbOf(c);
      const row = await findTokenRow(db, c.get("org").id, c.req.param("id"));
      if (!row || !canManageToken(c.get("access"), row)) throw noSuchToken();
      const { cursor, limit } = c.req.valid("query");
      return c.json(await listAudit(db, { orgId: row.orgId, about: row.id }, { cursor, limit }));
    },
  );

/** `GET /api/me/tokens/:id/history`: the events about one of the caller's own personal tokens. */
export const meTokenHistoryRoutes = new Hono<AppEnv>().get(
  "/:id/history",
  requireUser,
  validate("query", historyQuery),
  async (c) => {
    const db = dbOf(c);
    const row = await findPersonalToken(db, userOf(c).userId, c.req.param("id"));
    if (!row) throw noSuchToken();
    const { cursor, limit } = c.req.valid("query");
    return c.json(await listAudit(db, { orgId: row.orgId, about: row.id }, { cursor, limit }));
  },
);

/** `GET /api/audit` and its export: every event of the instance (logins, the catalog, all organizations), for the owner. */
export const instanceAuditRoutes = new Hono<AppEnv>()
  .get("/", ownerOnly, validate("query", auditQuery), async (c) => {
    const { cursor, limit, ...q } = c.req.valid("query");
    const db = dbOf(c);
    return c.json(await listAudit(db, await filterOf(db, null, q), { cursor, limit }));
  })
  .get("/export", ownerOnly, validate("query", exportQuery), async (c) => {
    return exported(c, null, c.req.valid("query"));
  });

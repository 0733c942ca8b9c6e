import type { Context } from "hono";
import { Hono } from "hono";
import { z } from "zod";
import { actorOf, orgAccess, requireSudo } from "../../auth/guards";
import { assertManagementFits } from "../../auth/management-permissions";
import { assertMayCreate, assertWithinAdminToken, canManageToken, type Grant } from "../../auth/token-rights";
import { systemClock } from "../../clock";
import { database } from "../../db/client";
import { PAGE_SIZE_DEFAULT } from "../../db/paging";
import type { TokenKind } from "../../db/schema";
import type { AppEnv } from "../../env";
import { AppError } from "../../errors";
import { findGroup } from "../../orgs/groups";
import { listTokens } from "../../tokens/list";
import {
  copyToken,
  createToken,
  deleteToken,
  disableToken,
  editToken,
  enableToken,
  regenerateToken,
  revokeToken,
  revokeTokens,
} from "../../tokens/store";
import { findTokenRow, type TokenRow, tokenView } from "../../tokens/views";
import { slugField } from "./schemas";
import { bulkBody, copyBody, editBody, grantFields, listFields, resolvePermissions, toEpoch } from "./token-fields";
import { validate } from "./validate";

const listQuery = z.object({ ...listFields, kind: z.enum(["org", "group"]).optional(), group: slugField.optional() });
const createBody = z.object({
  ...grantFields,
  kind: z.enum(["org", "group"]),
  group: slugField.optional(),
  admin: z.boolean().optional(),
});

const noSuchToken = () => new AppError("not_found", "No such token.");

async function groupIdOf(c: Context<AppEnv>, slug: string): Promise<string> {
  const group = await findGroup(database(c.env.DB), c.get("org").id, slug);
  if (!group)
    throw new AppError("validation_failed", "No such group in this organization.", {
      fields: { group: "unknown group" },
    });
  return group.id;
}

/** The organization or group token `:id`, when the caller manages it; otherwise it does not exist for them. */
async function managedToken(c: Context<AppEnv>): Promise<TokenRow> {
  const row = await findTokenRow(database(c.env.DB), c.get("org").id, c.req.param("id") ?? "");
  if (!row || !canManageToken(c.get("access"), row)) throw noSuchToken();
  return row;
}

/** What the token holds today, with the changes an action would make to it. */
async function grantOf(
  c: Context<AppEnv>,
  row: TokenRow,
  changes: Partial<Pick<Grant, "projects" | "expiresAt">> = {},
): Promise<Grant> {
  const view = await tokenView(database(c.env.DB), row, systemClock());
  return {
    kind: row.kind,
    groupId: row.groupId,
    projects: view.projects,
    permissions: view.permissions,
    admin: row.admin,
    expiresAt: row.expiresAt,
    ...changes,
  };
}

/**
 * For admin-token callers: the token's whole grant (not only what the request changes) must be
 * within theirs before they get a secret for it, widen it or bring it back to life; otherwise a
 * leaked token could revive or re-aim a stronger one. Taking rights away (disable, revoke) needs no cover.
 */
async function assertCallerCovers(
  c: Context<AppEnv>,
  row: TokenRow,
  changes: Partial<Pick<Grant, "projects" | "expiresAt">> = {},
): Promise<void> {
  const caller = c.get("caller");
  if (caller.type !== "token") return;
  assertWithinAdminToken(caller, await grantOf(c, row, changes));
}

/** `/api/orgs/:org/tokens`: organization and group tokens. Members see none; group admins see their groups'. */
export const orgTokenRoutes = new Hono<AppEnv>()
  .get("/:org/tokens", orgAccess("group_admin", "manage:tokens"), validate("query", listQuery), async (c) => {
    const q = c.req.valid("query");
    const access = c.get("access");
    const groupId = q.group === undefined ? undefined : await groupIdOf(c, q.group);
    // A group admin sees only the group tokens of the groups they administer.
    const kinds: TokenKind[] = access.orgAdmin
      ? q.kind
        ? [q.kind]
        : ["org", "group"]
      : q.kind === "org"
        ? []
        : ["group"];
    const page = await listTokens(
      database(c.env.DB),
      {
        orgId: c.get("org").id,
        kinds,
        withinGroups: access.orgAdmin ? undefined : access.adminGroupIds,
        groupId,
        statuses: q.status,
        q: q.q,
      },
      { cursor: q.cursor, limit: q.limit ?? PAGE_SIZE_DEFAULT },
      systemClock(),
    );
    return c.json(page);
  })
  .post(
    "/:org/tokens",
    orgAccess("group_admin", "manage:tokens"),
    requireSudo,
    validate("json", createBody),
    async (c) => {
      const body = c.req.valid("json");
      const db = database(c.env.DB);
      if (body.kind === "org" && body.group !== undefined) {
        throw new AppError("validation_failed", "An organization token has no group.", {
          fields: { group: "only for group tokens" },
        });
      }
      if (body.kind === "group" && body.group === undefined)
        throw new AppError("validation_failed", "A group token needs its group.", { fields: { group: "required" } });
      const groupId = body.kind === "group" ? await groupIdOf(c, body.group!) : null;
      assertMayCreate(c.get("access"), body.kind, groupId);
      const { permissions, permissionSetId } = await resolvePermissions(db, body);
      const grant = {
        kind: body.kind,
        groupId,
        projects: body.projects,
        permissions,
        admin: body.admin ?? false,
        expiresAt: toEpoch(body.expiresAt),
      };
      assertManagementFits(grant);
      const caller = c.get("caller");
      if (caller.type === "token") assertWithinAdminToken(caller, grant);
      const made = await createToken(
        c.env,
        {
          ...grant,
          orgId: c.get("org").id,
          userId: null,
          name: body.name,
          description: body.description ?? "",
          permissionSetId,
        },
        actorOf(c),
        systemClock(),
      );
      return c.json(made, 201);
    },
  )
  // Bulk revoke: ids the caller does not manage are reported as not found, and nothing happens to them.
  .post(
    "/:org/tokens/revoke",
    orgAccess("group_admin", "manage:tokens"),
    requireSudo,
    validate("json", bulkBody),
    async (c) => {
      const access = c.get("access");
      const result = await revokeTokens(
        c.env,
        c.get("org").id,
        c.req.valid("json").ids,
        actorOf(c),
        systemClock(),
        (row) => canManageToken(access, row),
      );
      return c.json(result);
    },
  )
  .get("/:org/tokens/:id", orgAccess("group_admin", "manage:tokens"), async (c) => {
    return c.json(await tokenView(database(c.env.DB), await managedToken(c), systemClock()));
  })
  .patch(
    "/:org/tokens/:id",
    orgAccess("group_admin", "manage:tokens"),
    requireSudo,
    validate("json", editBody),
    async (c) => {
      const row = await managedToken(c);
      const edit = c.req.valid("json");
      if (edit.projects !== undefined) await assertCallerCovers(c, row, { projects: edit.projects });
      return c.json(await editToken(c.env, c.get("org").id, row.id, edit, actorOf(c), systemClock()));
    },
  )
  .delete("/:org/tokens/:id", orgAccess("group_admin", "manage:tokens"), requireSudo, async (c) => {
    const row = await managedToken(c);
    await deleteToken(c.env, c.get("org").id, row.id, actorOf(c), systemClock());
    return c.body(null, 204);
  })
  .post("/:org/tokens/:id/regenerate", orgAccess("group_admin", "manage:tokens"), requireSudo, async (c) => {
    const row = await managedToken(c);
    await assertCallerCovers(c, row);
    return c.json(await regenerateToken(c.env, c.get("org").id, row.id, actorOf(c), systemClock()), 200);
  })
  .post(
    "/:org/tokens/:id/copy",
    orgAccess("group_admin", "manage:tokens"),
    requireSudo,
    validate("json", copyBody),
    async (c) => {
      const row = await managedToken(c);
      const body = c.req.valid("json");
      const now = systemClock();
      const expiresAt =
        body.expiresAt !== undefined
          ? toEpoch(body.expiresAt)
          : row.expiresAt === null
            ? null
            : now + (row.expiresAt - row.createdAt);
      const grant = await grantOf(c, row, { expiresAt });
      assertManagementFits(grant);
      const caller = c.get("caller");
      if (caller.type === "token") assertWithinAdminToken(caller, grant);
      const overrides = {
        name: body.name,
        expiresAt: body.expiresAt === undefined ? undefined : toEpoch(body.expiresAt),
      };
      return c.json(await copyToken(c.env, c.get("org").id, row.id, overrides, actorOf(c), now), 201);
    },
  )
  .post("/:org/tokens/:id/disable", orgAccess("group_admin", "manage:tokens"), requireSudo, async (c) => {
    const row = await managedToken(c);
    return c.json(await disableToken(c.env, c.get("org").id, row.id, actorOf(c), systemClock()));
  })
  .post("/:org/tokens/:id/enable", orgAccess("group_admin", "manage:tokens"), requireSudo, async (c) => {
    const row = await managedToken(c);
    await assertCallerCovers(c, row);
    return c.json(await enableToken(c.env, c.get("org").id, row.id, actorOf(c), systemClock()));
  })
  .post("/:org/tokens/:id/revoke", orgAccess("group_admin", "manage:tokens"), requireSudo, async (c) => {
    const row = await managedToken(c);
    return c.json(await revokeToken(c.env, c.get("org").id, row.id, actorOf(c), systemClock()));
  });

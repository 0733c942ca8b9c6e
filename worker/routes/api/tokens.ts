import type { Context } from "hono";
import { Hono } from "hono";
import { z } from "zod";
import { actorOf, orgAccess, requireSudo } from "../../auth/guards";
import { assertManagementFits } from "../../auth/management-permissions";
import { assertMayCreate, assertWithinAdminToken, canManageToken, type Grant } from "../../auth/token-rights";
import type { TokenKind } from "../../db/schema";
import type { AppEnv } from "../../env";
import { AppError } from "../../errors";
import { dbOf, nowOf, storeEnvOf } from "../../http/context";
import { findGroup } from "../../orgs/groups";
import { countTokensByStatus, listTokens } from "../../tokens/list";
import { createToken, revokeTokens } from "../../tokens/store";
import { findTokenRow, type TokenRow, tokenView } from "../../tokens/views";
import { slugField } from "./schemas";
import { noSuchToken, tokenActions } from "./token-actions";
import {
  bulkBody,
  copyBody,
  countFields,
  editBody,
  grantFields,
  listFields,
  regenerateBody,
  resolvePermissions,
  toEpoch,
} from "./token-fields";
import { validate } from "./validate";

const ownerFields = { kind: z.enum(["org", "group"]).optional(), group: slugField.optional() };
const listQuery = z.object({ ...listFields, ...ownerFields });
const countQuery = z.object({ ...countFields, ...ownerFields });
const createBody = z.object({
  ...grantFields,
  kind: z.enum(["org", "group"]),
  group: slugField.optional(),
  admin: z.boolean().optional(),
});

async function groupIdOf(c: Context<AppEnv>, slug: string): Promise<string> {
  const group = await findGroup(dbOf(c), c.get("org").id, slug);
  if (!group)
    throw new AppError("validation_failed", "No such group in this organization.", {
      fields: { group: "unknown group" },
    });
  return group.id;
}

/** The organization or group token `:id`, when the caller manages it; otherwise it does not exist for them. */
async function managedToken(c: Context<AppEnv>, id: string): Promise<TokenRow> {
  const row = await findTokenRow(dbOf(c), c.get("org").id, id);
  if (!row || !canManageToken(c.get("access"), row)) throw noSuchToken();
  return row;
}

/** What an action would change of a token's grant; absent fields stay as they are. */
type GrantChanges = Partial<Pick<Grant, "projects" | "expiresAt" | "allowedIps">>;

/** What the token holds today, with the changes an action would make to it. */
async function grantOf(c: Context<AppEnv>, row: TokenRow, changes: GrantChanges = {}): Promise<Grant> {
  const view = await tokenView(dbOf(c), row, nowOf(c));
  return {
    kind: row.kind,
    groupId: row.groupId,
    projects: view.projects,
    permissions: view.permissions,
    admin: row.admin,
    expiresAt: row.expiresAt,
    allowedIps: row.allowedIps ?? null,
    ...changes,
  };
}

/**
 * For admin-token callers: the token's whole grant (not only what the request changes) must be
 * within theirs before they get a secret for it, widen it or bring it back to life; otherwise a
 * leaked token could revive or re-aim a stronger one. Taking rights away (disable, revoke) needs no cover.
 */
async function assertCallerCovers(c: Context<AppEnv>, row: TokenRow, changes: GrantChanges = {}): Promise<void> {
  const caller = c.get("caller");
  if (caller.type !== "token") return;
  assertWithinAdminToken(caller, await grantOf(c, row, changes));
}

/** Organization and group tokens, managed by role; an admin token must cover what it edits, revives or copies. */
const orgTokens = tokenActions({
  find: managedToken,
  assertMayEdit: (c, row, changes) => assertCallerCovers(c, row, changes),
  assertMayRevive: (c, row, expiresAt) => assertCallerCovers(c, row, expiresAt === undefined ? {} : { expiresAt }),
  async assertMayCopy(c, row, expiresAt) {
    const grant = await grantOf(c, row, { expiresAt });
    assertManagementFits(grant);
    const caller = c.get("caller");
    if (caller.type === "token") assertWithinAdminToken(caller, grant);
  },
});

/** The tokens a list or count of `/api/orgs/:org/tokens` covers: a group admin's, only their groups' tokens. */
export async function visibleTokens(c: Context<AppEnv>, q: { kind?: "org" | "group"; group?: string; q?: string }) {
  const access = c.get("access");
  const groupId = q.group === undefined ? undefined : await groupIdOf(c, q.group);
  const kinds: TokenKind[] = access.orgAdmin
    ? q.kind
      ? [q.kind]
      : ["org", "group"]
    : q.kind === "org"
      ? []
      : ["group"];
  return {
    orgId: c.get("org").id,
    kinds,
    withinGroups: access.orgAdmin ? undefined : access.adminGroupIds,
    groupId,
    q: q.q,
  };
}

/** `/api/orgs/:org/tokens`: organization and group tokens. Members see none; group admins see their groups'. */
export const orgTokenRoutes = new Hono<AppEnv>()
  .get("/:org/tokens", orgAccess("group_admin", "manage:tokens"), validate("query", listQuery), async (c) => {
    const q = c.req.valid("query");
    const filter = { ...(await visibleTokens(c, q)), statuses: q.status };
    const page = await listTokens(
      dbOf(c),
      filter,
      { cursor: q.cursor, limit: q.limit, sort: q.sort, order: q.order },
      nowOf(c),
    );
    return c.json(page);
  })
  // Per-status counts for the same search (the console's status filter shows them).
  .get("/:org/tokens/counts", orgAccess("group_admin", "manage:tokens"), validate("query", countQuery), async (c) =>
    c.json(await countTokensByStatus(dbOf(c), await visibleTokens(c, c.req.valid("query")), nowOf(c))),
  )
  .post(
    "/:org/tokens",
    orgAccess("group_admin", "manage:tokens"),
    requireSudo,
    validate("json", createBody),
    async (c) => {
      const body = c.req.valid("json");
      const db = dbOf(c);
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
        allowedIps: body.allowedIps?.length ? body.allowedIps : null,
      };
      assertManagementFits(grant);
      const caller = c.get("caller");
      if (caller.type === "token") assertWithinAdminToken(caller, grant);
      const made = await createToken(
        storeEnvOf(c),
        {
          ...grant,
          orgId: c.get("org").id,
          userId: null,
          name: body.name,
          description: body.description ?? "",
          permissionSetId,
        },
        actorOf(c),
        nowOf(c),
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
        storeEnvOf(c),
        c.get("org").id,
        c.req.valid("json").ids,
        actorOf(c),
        nowOf(c),
        (row) => canManageToken(access, row),
      );
      return c.json(result);
    },
  )
  // Bulk disable and enable: the same rights and checks as one token at a time; see tokenActions().bulk.
  .post(
    "/:org/tokens/disable",
    orgAccess("group_admin", "manage:tokens"),
    requireSudo,
    validate("json", bulkBody),
    async (c) => c.json(await orgTokens.bulk(c, c.req.valid("json").ids, "disable")),
  )
  .post(
    "/:org/tokens/enable",
    orgAccess("group_admin", "manage:tokens"),
    requireSudo,
    validate("json", bulkBody),
    async (c) => c.json(await orgTokens.bulk(c, c.req.valid("json").ids, "enable")),
  )
  .get("/:org/tokens/:id", orgAccess("group_admin", "manage:tokens"), async (c) => c.json(await orgTokens.view(c)))
  .get("/:org/tokens/:id/usage", orgAccess("group_admin", "manage:tokens"), async (c) =>
    c.json(await orgTokens.usage(c)),
  )
  .patch(
    "/:org/tokens/:id",
    orgAccess("group_admin", "manage:tokens"),
    requireSudo,
    validate("json", editBody),
    async (c) => c.json(await orgTokens.edit(c, c.req.valid("json"))),
  )
  .delete("/:org/tokens/:id", orgAccess("group_admin", "manage:tokens"), requireSudo, async (c) => {
    await orgTokens.remove(c);
    return c.body(null, 204);
  })
  .post(
    "/:org/tokens/:id/regenerate",
    orgAccess("group_admin", "manage:tokens"),
    requireSudo,
    validate("json", regenerateBody),
    async (c) => c.json(await orgTokens.regenerate(c, c.req.valid("json")), 200),
  )
  // The replaced secret of a regenerate with a grace period stops verifying now.
  .post("/:org/tokens/:id/end-grace", orgAccess("group_admin", "manage:tokens"), requireSudo, async (c) =>
    c.json(await orgTokens.endGrace(c)),
  )
  .post(
    "/:org/tokens/:id/copy",
    orgAccess("group_admin", "manage:tokens"),
    requireSudo,
    validate("json", copyBody),
    async (c) => c.json(await orgTokens.copy(c, c.req.valid("json")), 201),
  )
  .post("/:org/tokens/:id/disable", orgAccess("group_admin", "manage:tokens"), requireSudo, async (c) =>
    c.json(await orgTokens.disable(c)),
  )
  .post("/:org/tokens/:id/enable", orgAccess("group_admin", "manage:tokens"), requireSudo, async (c) =>
    c.json(await orgTokens.enable(c)),
  )
  .post("/:org/tokens/:id/revoke", orgAccess("group_admin", "manage:tokens"), requireSudo, async (c) =>
    c.json(await orgTokens.revoke(c)),
  )
  .post("/:org/tokens/:id/keep", orgAccess("group_admin", "manage:tokens"), requireSudo, async (c) =>
    c.json(await orgTokens.keep(c)),
  );

import type { Context } from "hono";
import { Hono } from "hono";
import { z } from "zod";
import { findPersonalToken, ownPersonalTokenIds } from "../../accounts/personal-tokens";
import { accessIn, findOrgBySlug } from "../../auth/access";
import { actorOf, requireSudo, requireUser, userOf } from "../../auth/guards";
import { assertManagementFits } from "../../auth/management-permissions";
import { assertWithinMemberRights } from "../../auth/token-rights";
import { systemClock } from "../../clock";
import { database } from "../../db/client";
import { PAGE_SIZE_DEFAULT } from "../../db/paging";
import type { AppEnv } from "../../env";
import { AppError } from "../../errors";
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
import { type TokenRow, tokenView } from "../../tokens/views";
import { slugField } from "./schemas";
import { bulkBody, copyBody, editBody, grantFields, listFields, resolvePermissions, toEpoch } from "./token-fields";
import { validate } from "./validate";

const listQuery = z.object({ ...listFields, org: slugField.optional() });
const createBody = z.object({
  ...grantFields,
  org: slugField,
  admin: z.literal(false, { message: "personal tokens cannot have the admin role" }).optional(),
});

const noSuchToken = () => new AppError("not_found", "No such token.");

async function ownToken(c: Context<AppEnv>): Promise<TokenRow> {
  const row = await findPersonalToken(database(c.env.DB), userOf(c).userId, c.req.param("id") ?? "");
  if (!row) throw noSuchToken();
  return row;
}

/** The person's rights in the token's organization, for checks that widen or copy a token. */
async function rightsFor(c: Context<AppEnv>, orgId: string) {
  const db = database(c.env.DB);
  const access = await accessIn(db, c.get("caller"), { id: orgId, slug: "", name: "" });
  if (!access) throw new AppError("forbidden", "You no longer belong to this token's organization.");
  return access;
}

/** `/api/me/tokens`: the caller's personal tokens, in every organization they belong to. Users only. */
export const meTokenRoutes = new Hono<AppEnv>()
  .get("/", requireUser, validate("query", listQuery), async (c) => {
    const q = c.req.valid("query");
    const db = database(c.env.DB);
    let orgId: string | undefined;
    if (q.org !== undefined) {
      const org = await findOrgBySlug(db, q.org);
      if (!org)
        throw new AppError("validation_failed", "No such organization.", { fields: { org: "unknown organization" } });
      orgId = org.id;
    }
    const filter = { userId: userOf(c).userId, orgId, kinds: ["personal" as const], statuses: q.status, q: q.q };
    return c.json(
      await listTokens(db, filter, { cursor: q.cursor, limit: q.limit ?? PAGE_SIZE_DEFAULT }, systemClock()),
    );
  })
  .post("/", requireUser, requireSudo, validate("json", createBody), async (c) => {
    const body = c.req.valid("json");
    const db = database(c.env.DB);
    const user = userOf(c);
    const org = await findOrgBySlug(db, body.org);
    const access = org ? await accessIn(db, user, org) : null;
    if (!org || !access) throw new AppError("not_found", "No such organization.");
    const { permissions, permissionSetId } = await resolvePermissions(db, body);
    assertManagementFits({ kind: "personal", admin: false, permissions });
    await assertWithinMemberRights(db, access, org.id, { projects: body.projects, permissions });
    const made = await createToken(
      c.env,
      {
        kind: "personal",
        orgId: org.id,
        groupId: null,
        userId: user.userId,
        name: body.name,
        description: body.description ?? "",
        projects: body.projects,
        permissions,
        admin: false,
        expiresAt: toEpoch(body.expiresAt),
        permissionSetId,
      },
      actorOf(c),
      systemClock(),
    );
    return c.json(made, 201);
  })
  .post("/revoke", requireUser, requireSudo, validate("json", bulkBody), async (c) => {
    const ids = c.req.valid("json").ids;
    const own = await ownPersonalTokenIds(database(c.env.DB), userOf(c).userId, ids);
    const revoked: string[] = [];
    const now = systemClock();
    for (const orgId of new Set(own.map((t) => t.orgId))) {
      const result = await revokeTokens(
        c.env,
        orgId,
        own.filter((t) => t.orgId === orgId).map((t) => t.id),
        actorOf(c),
        now,
      );
      revoked.push(...result.revoked);
    }
    return c.json({ revoked, notFound: [...new Set(ids)].filter((id) => !revoked.includes(id)) });
  })
  .get("/:id", requireUser, async (c) => c.json(await tokenView(database(c.env.DB), await ownToken(c), systemClock())))
  .patch("/:id", requireUser, requireSudo, validate("json", editBody), async (c) => {
    const row = await ownToken(c);
    const edit = c.req.valid("json");
    if (edit.projects !== undefined) {
      await assertWithinMemberRights(database(c.env.DB), await rightsFor(c, row.orgId), row.orgId, {
        projects: edit.projects,
        permissions: [],
      });
    }
    return c.json(await editToken(c.env, row.orgId, row.id, edit, actorOf(c), systemClock()));
  })
  .delete("/:id", requireUser, requireSudo, async (c) => {
    const row = await ownToken(c);
    await deleteToken(c.env, row.orgId, row.id, actorOf(c), systemClock());
    return c.body(null, 204);
  })
  .post("/:id/regenerate", requireUser, requireSudo, async (c) => {
    const row = await ownToken(c);
    return c.json(await regenerateToken(c.env, row.orgId, row.id, actorOf(c), systemClock()), 200);
  })
  // A copy is a new token: it must fit what the person may do today, not what they could when the original was made.
  .post("/:id/copy", requireUser, requireSudo, validate("json", copyBody), async (c) => {
    const row = await ownToken(c);
    const body = c.req.valid("json");
    const db = database(c.env.DB);
    const now = systemClock();
    const view = await tokenView(db, row, now);
    assertManagementFits({ kind: "personal", admin: false, permissions: view.permissions });
    await assertWithinMemberRights(db, await rightsFor(c, row.orgId), row.orgId, {
      projects: view.projects,
      permissions: view.permissions,
    });
    const overrides = {
      name: body.name,
      expiresAt: body.expiresAt === undefined ? undefined : toEpoch(body.expiresAt),
    };
    return c.json(await copyToken(c.env, row.orgId, row.id, overrides, actorOf(c), now), 201);
  })
  .post("/:id/disable", requireUser, requireSudo, async (c) => {
    const row = await ownToken(c);
    return c.json(await disableToken(c.env, row.orgId, row.id, actorOf(c), systemClock()));
  })
  .post("/:id/enable", requireUser, requireSudo, async (c) => {
    const row = await ownToken(c);
    return c.json(await enableToken(c.env, row.orgId, row.id, actorOf(c), systemClock()));
  })
  .post("/:id/revoke", requireUser, requireSudo, async (c) => {
    const row = await ownToken(c);
    return c.json(await revokeToken(c.env, row.orgId, row.id, actorOf(c), systemClock()));
  });

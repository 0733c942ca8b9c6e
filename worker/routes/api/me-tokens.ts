import type { Context } from "hono";
import { Hono } from "hono";
import { z } from "zod";
import { findPersonalToken, ownPersonalTokenIds } from "../../accounts/personal-tokens";
import { accessIn, findOrgBySlug } from "../../auth/access";
import { actorOf, assertTwoFactorPolicy, requireSudo, requireUser, userOf } from "../../auth/guards";
import { assertManagementFits } from "../../auth/management-permissions";
import { assertWithinMemberRights } from "../../auth/token-rights";
import type { AppEnv } from "../../env";
import { AppError } from "../../errors";
import { dbOf, nowOf, storeEnvOf } from "../../http/context";
import { countTokensByStatus, listTokens } from "../../tokens/list";
import { createToken, revokeTokens } from "../../tokens/store";
import { type TokenRow, tokenView } from "../../tokens/views";
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

const listQuery = z.object({ ...listFields, org: slugField.optional() });
const countQuery = z.object({ ...countFields, org: slugField.optional() });
const createBody = z.object({
  ...grantFields,
  org: slugField,
  admin: z.literal(false, { message: "personal tokens cannot have the admin role" }).optional(),
});

async function ownToken(c: Context<AppEnv>, id: string): Promise<TokenRow> {
  const row = await findPersonalToken(dbOf(c), userOf(c).userId, id);
  if (!row) throw noSuchToken();
  return row;
}

/**
 * The person's rights in the token's organization, for checks that widen, revive or copy a token; an
 * admin there without a second factor, where the organization requires one, gets nothing new.
 */
async function rightsFor(c: Context<AppEnv>, orgId: string) {
  const db = dbOf(c);
  const access = await accessIn(db, c.get("caller"), { id: orgId, slug: "", name: "" });
  if (!access) throw new AppError("forbidden", "You no longer belong to this token's organization.");
  await assertTwoFactorPolicy(c, orgId, access);
  return access;
}

/**
 * The caller's own personal tokens, held to what the person may do in the token's organization.
 * Reviving one needs no rights check: verification caps a personal token by its owner's rights on
 * every cache fill (docs/DESIGN.md §2); only the organization's two-factor policy applies.
 */
const personalTokens = tokenActions({
  find: ownToken,
  async assertMayEdit(c, row, { projects }) {
    const access = await rightsFor(c, row.orgId);
    if (projects === undefined) return;
    await assertWithinMemberRights(dbOf(c), access, row.orgId, { projects, permissions: [] });
  },
  assertMayRevive: async (c, row) => {
    await rightsFor(c, row.orgId);
  },
  // A copy is a new token: it must fit what the person may do today, not what they could when the original was made.
  async assertMayCopy(c, row) {
    const view = await tokenView(dbOf(c), row, nowOf(c));
    assertManagementFits({ kind: "personal", admin: false, permissions: view.permissions });
    await assertWithinMemberRights(dbOf(c), await rightsFor(c, row.orgId), row.orgId, {
      projects: view.projects,
      permissions: view.permissions,
    });
  },
});

/** The caller's personal tokens, in one organization when `org` names one. */
async function ownTokens(c: Context<AppEnv>, q: { org?: string; q?: string }) {
  let orgId: string | undefined;
  if (q.org !== undefined) {
    const org = await findOrgBySlug(dbOf(c), q.org);
    if (!org)
      throw new AppError("validation_failed", "No such organization.", { fields: { org: "unknown organization" } });
    orgId = org.id;
  }
  return { userId: userOf(c).userId, orgId, kinds: ["personal" as const], q: q.q };
}

/** `/api/me/tokens`: the caller's personal tokens, in every organization they belong to. Users only. */
export const meTokenRoutes = new Hono<AppEnv>()
  .get("/", requireUser, validate("query", listQuery), async (c) => {
    const q = c.req.valid("query");
    const filter = { ...(await ownTokens(c, q)), statuses: q.status };
    const page = { cursor: q.cursor, limit: q.limit, sort: q.sort, order: q.order };
    return c.json(await listTokens(dbOf(c), filter, page, nowOf(c)));
  })
  .get("/counts", requireUser, validate("query", countQuery), async (c) =>
    c.json(await countTokensByStatus(dbOf(c), await ownTokens(c, c.req.valid("query")), nowOf(c))),
  )
  .post("/", requireUser, requireSudo, validate("json", createBody), async (c) => {
    const body = c.req.valid("json");
    const db = dbOf(c);
    const user = userOf(c);
    const org = await findOrgBySlug(db, body.org);
    const access = org ? await accessIn(db, user, org) : null;
    if (!org || !access) throw new AppError("not_found", "No such organization.");
    await assertTwoFactorPolicy(c, org.id, access);
    const { permissions, permissionSetId } = await resolvePermissions(db, body);
    assertManagementFits({ kind: "personal", admin: false, permissions });
    await assertWithinMemberRights(db, access, org.id, { projects: body.projects, permissions });
    const made = await createToken(
      storeEnvOf(c),
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
        allowedIps: body.allowedIps,
      },
      actorOf(c),
      nowOf(c),
    );
    return c.json(made, 201);
  })
  .post("/revoke", requireUser, requireSudo, validate("json", bulkBody), async (c) => {
    const ids = c.req.valid("json").ids;
    const own = await ownPersonalTokenIds(dbOf(c), userOf(c).userId, ids);
    const revoked: string[] = [];
    const now = nowOf(c);
    for (const orgId of new Set(own.map((t) => t.orgId))) {
      const result = await revokeTokens(
        storeEnvOf(c),
        orgId,
        own.filter((t) => t.orgId === orgId).map((t) => t.id),
        actorOf(c),
        now,
      );
      revoked.push(...result.revoked);
    }
    return c.json({ revoked, notFound: [...new Set(ids)].filter((id) => !revoked.includes(id)) });
  })
  .post("/disable", requireUser, requireSudo, validate("json", bulkBody), async (c) =>
    c.json(await personalTokens.bulk(c, c.req.valid("json").ids, "disable")),
  )
  .post("/enable", requireUser, requireSudo, validate("json", bulkBody), async (c) =>
    c.json(await personalTokens.bulk(c, c.req.valid("json").ids, "enable")),
  )
  .get("/:id", requireUser, async (c) => c.json(await personalTokens.view(c)))
  .get("/:id/usage", requireUser, async (c) => c.json(await personalTokens.usage(c)))
  .patch("/:id", requireUser, requireSudo, validate("json", editBody), async (c) =>
    c.json(await personalTokens.edit(c, c.req.valid("json"))),
  )
  .delete("/:id", requireUser, requireSudo, async (c) => {
    await personalTokens.remove(c);
    return c.body(null, 204);
  })
  .post("/:id/regenerate", requireUser, requireSudo, validate("json", regenerateBody), async (c) =>
    c.json(await personalTokens.regenerate(c, c.req.valid("json")), 200),
  )
  .post("/:id/end-grace", requireUser, requireSudo, async (c) => c.json(await personalTokens.endGrace(c)))
  .post("/:id/copy", requireUser, requireSudo, validate("json", copyBody), async (c) =>
    c.json(await personalTokens.copy(c, c.req.valid("json")), 201),
  )
  .post("/:id/disable", requireUser, requireSudo, async (c) => c.json(await personalTokens.disable(c)))
  .post("/:id/enable", requireUser, requireSudo, async (c) => c.json(await personalTokens.enable(c)))
  .post("/:id/revoke", requireUser, requireSudo, async (c) => c.json(await personalTokens.revoke(c)))
  .post("/:id/keep", requireUser, requireSudo, async (c) => c.json(await personalTokens.keep(c)));

import { Hono } from "hono";
import { z } from "zod";
import { findUserByEmail } from "../../accounts/users";
import { actorOf, orgAccess, requireSudo } from "../../auth/guards";
import { MEMBERSHIP_ROLES } from "../../db/schema";
import type { AppEnv } from "../../env";
import { AppError } from "../../errors";
import { dbOf, nowOf, storeEnvOf } from "../../http/context";
import { findGroup } from "../../orgs/groups";
import { createInvitation } from "../../orgs/invitations";
import { addMember, findMember, listMembers, memberViewOf, removeMember, updateMember } from "../../orgs/members";
import { visibleGroupIds } from "../../orgs/visibility";
import { emailField, pageQuery, permissionNameField, slugField } from "./schemas";
import { validate } from "./validate";

const MAX_MEMBER_PERMISSIONS = 200;
const permissionList = z.array(permissionNameField).max(MAX_MEMBER_PERMISSIONS).nullable();

const listQuery = z.object({ ...pageQuery, group: slugField.optional() });
// Nobody chooses another person's password or name: refused outright rather than ignored.
const notForOthers = (what: string) =>
  z
    .never({
      error: `Tessera does not set another person's ${what}: a person without an account is invited and chooses their own.`,
    })
    .optional();
const createBody = z.object({
  email: emailField,
  role: z.enum(MEMBERSHIP_ROLES),
  group: slugField.optional(),
  permissions: permissionList.optional(),
  password: notForOthers("password"),
  name: notForOthers("name"),
});
const patchBody = z
  .object({ role: z.enum(MEMBERSHIP_ROLES).optional(), permissions: permissionList.optional() })
  .refine((b) => b.role !== undefined || b.permissions !== undefined, "send at least one of role, permissions");

const noSuchMember = () => new AppError("not_found", "No such member.");

/** Memberships of `/api/orgs/:org`; `:id` is the membership id. Organization admins manage them. */
export const memberRoutes = new Hono<AppEnv>()
  .get("/:org/members", orgAccess("member", "manage:members"), validate("query", listQuery), async (c) => {
    const { cursor, limit, group } = c.req.valid("query");
    const db = dbOf(c);
    const orgId = c.get("org").id;
    let groupId: string | undefined;
    if (group !== undefined) {
      const found = await findGroup(db, orgId, group);
      if (!found)
        throw new AppError("validation_failed", "No such group in this organization.", {
          fields: { group: "unknown group" },
        });
      groupId = found.id;
    }
    return c.json(await listMembers(db, orgId, visibleGroupIds(c.get("access")), { groupId }, { cursor, limit }));
  })
  // An email with an account is linked (201, the member); any other gets an invitation (202, its
  // one-time link, shown once). Either way the person chooses their own password.
  .post("/:org/members", orgAccess("admin", "manage:members"), requireSudo, validate("json", createBody), async (c) => {
    const body = c.req.valid("json");
    const db = dbOf(c);
    const orgId = c.get("org").id;
    let groupId: string | null = null;
    if (body.group !== undefined) {
      const found = await findGroup(db, orgId, body.group);
      if (!found)
        throw new AppError("validation_failed", "No such group in this organization.", {
          fields: { group: "unknown group" },
        });
      groupId = found.id;
    }
    const grant = { role: body.role, groupId, permissions: body.permissions ?? null };
    const account = await findUserByEmail(db, body.email);
    if (account) return c.json(await addMember(storeEnvOf(c), orgId, account, grant, actorOf(c), nowOf(c)), 201);
    const { invitation, secret } = await createInvitation(db, orgId, body.email, grant, actorOf(c), nowOf(c));
    return c.json({ invitation, secret, url: `${new URL(c.req.url).origin}/invite#${secret}` }, 202);
  })
  .get("/:org/members/:id", orgAccess("member", "manage:members"), async (c) => {
    const db = dbOf(c);
    const member = await findMember(db, c.get("org").id, c.req.param("id"));
    const visible = visibleGroupIds(c.get("access"));
    if (!member || (visible !== null && (member.groupId === null || !visible.includes(member.groupId))))
      throw noSuchMember();
    return c.json(await memberViewOf(db, member.id));
  })
  // Role and permission ceiling; narrowing it narrows the member's personal tokens at once (sudo).
  .patch(
    "/:org/members/:id",
    orgAccess("admin", "manage:members"),
    requireSudo,
    validate("json", patchBody),
    async (c) => {
      const member = await findMember(dbOf(c), c.get("org").id, c.req.param("id"));
      if (!member) throw noSuchMember();
      return c.json(await updateMember(storeEnvOf(c), member, c.req.valid("json"), actorOf(c), nowOf(c)));
    },
  )
  // Removing a member revokes their personal tokens here when no other membership remains (sudo).
  .delete("/:org/members/:id", orgAccess("admin", "manage:members"), requireSudo, async (c) => {
    const member = await findMember(dbOf(c), c.get("org").id, c.req.param("id"));
    if (!member) throw noSuchMember();
    await removeMember(storeEnvOf(c), member, actorOf(c), nowOf(c));
    return c.body(null, 204);
  });

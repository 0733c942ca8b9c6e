import { Hono } from "hono";
import { z } from "zod";
import { actorOf, orgAccess, requireSudo } from "../../auth/guards";
import { systemClock } from "../../clock";
import { database } from "../../db/client";
import { MEMBERSHIP_ROLES } from "../../db/schema";
import type { AppEnv } from "../../env";
import { AppError } from "../../errors";
import { findGroup } from "../../orgs/groups";
import { addMember, findMember, listMembers, memberViewOf, removeMember, updateMember } from "../../orgs/members";
import { PAGE_SIZE_DEFAULT } from "../../orgs/paging";
import { visibleGroupIds } from "../../orgs/visibility";
import { emailField, nameField, pageQuery, passwordField, permissionNameField, slugField } from "./schemas";
import { validate } from "./validate";

const MAX_MEMBER_PERMISSIONS = 200;
const permissionList = z.array(permissionNameField).max(MAX_MEMBER_PERMISSIONS).nullable();

const listQuery = z.object({ ...pageQuery, group: slugField.optional() });
const createBody = z.object({
  email: emailField,
  role: z.enum(MEMBERSHIP_ROLES),
  group: slugField.optional(),
  permissions: permissionList.optional(),
  password: passwordField.optional(),
  name: nameField.optional(),
});
const patchBody = z
  .object({ role: z.enum(MEMBERSHIP_ROLES).optional(), permissions: permissionList.optional() })
  .refine((b) => b.role !== undefined || b.permissions !== undefined, "send at least one of role, permissions");

const noSuchMember = () => new AppError("not_found", "No such member.");

/** Memberships of `/api/orgs/:org`; `:id` is the membership id. Organization admins manage them. */
export const memberRoutes = new Hono<AppEnv>()
  .get("/:org/members", orgAccess("member", "manage:members"), validate("query", listQuery), async (c) => {
    const { cursor, limit, group } = c.req.valid("query");
    const db = database(c.env.DB);
    const orgId = c.get("org").id;
    let groupId: string | undefined;
    if (group !== undefined) {
      const found = await findGroup(db, orgId, group);
      if (!found) throw new AppError("validation_failed", "No such group in this organization.", { fields: { group: "unknown group" } });
      groupId = found.id;
    }
    return c.json(await listMembers(db, orgId, visibleGroupIds(c.get("access")), { groupId }, { cursor, limit: limit ?? PAGE_SIZE_DEFAULT }));
  })
  .post("/:org/members", orgAccess("admin", "manage:members"), requireSudo, validate("json", createBody), async (c) => {
    const body = c.req.valid("json");
    const orgId = c.get("org").id;
    let groupId: string | null = null;
    if (body.group !== undefined) {
      const found = await findGroup(database(c.env.DB), orgId, body.group);
      if (!found) throw new AppError("validation_failed", "No such group in this organization.", { fields: { group: "unknown group" } });
      groupId = found.id;
    }
    const member = await addMember(
      c.env,
      orgId,
      { email: body.email, role: body.role, groupId, permissions: body.permissions ?? null, password: body.password, name: body.name },
      actorOf(c),
      systemClock(),
    );
    return c.json(member, 201);
  })
  .get("/:org/members/:id", orgAccess("member", "manage:members"), async (c) => {
    const db = database(c.env.DB);
    const member = await findMember(db, c.get("org").id, c.req.param("id"));
    const visible = visibleGroupIds(c.get("access"));
    if (!member || (visible !== null && (member.groupId === null || !visible.includes(member.groupId)))) throw noSuchMember();
    return c.json(await memberViewOf(db, member.id));
  })
  // Role and permission ceiling; narrowing it narrows the member's personal tokens at once (sudo).
  .patch("/:org/members/:id", orgAccess("admin", "manage:members"), requireSudo, validate("json", patchBody), async (c) => {
    const member = await findMember(database(c.env.DB), c.get("org").id, c.req.param("id"));
    if (!member) throw noSuchMember();
    return c.json(await updateMember(c.env, member, c.req.valid("json"), actorOf(c), systemClock()));
  })
  // Removing a member revokes their personal tokens here when no other membership remains (sudo).
  .delete("/:org/members/:id", orgAccess("admin", "manage:members"), requireSudo, async (c) => {
    const member = await findMember(database(c.env.DB), c.get("org").id, c.req.param("id"));
    if (!member) throw noSuchMember();
    await removeMember(c.env, member, actorOf(c), systemClock());
    return c.body(null, 204);
  });

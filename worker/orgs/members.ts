import { and, asc, eq, inArray } from "drizzle-orm";
import { changesOf } from "../audit/changes";
import { type Actor, auditInsert } from "../audit/events";
import type { Statement } from "../db/batch";
import { type Db, database } from "../db/client";
import { isUniqueViolation } from "../db/errors";
import { type Page, pastCursor, splitPage } from "../db/paging";
import { groups, type MembershipRole, memberships, users } from "../db/schema";
import { AppError } from "../errors";
import type { TokenStoreEnv } from "../tokens/store";
import { commitWithCacheRefresh } from "../tokens/structure-refresh";
import { assertKnownPermissions } from "./catalog";
import { revokeTokensOfLeavers } from "./leavers";

export type MemberRow = typeof memberships.$inferSelect;

/**
 * A membership as this organization's admins see it: the account's email and id, nothing that
 * account chose elsewhere (its name) and nothing of its other memberships.
 */
export interface MemberView {
  id: string;
  user: { id: string; email: string };
  role: MembershipRole;
  group: { id: string; slug: string; name: string } | null;
  /** What the member's personal tokens may hold here; null = every permission. */
  permissions: string[] | null;
  createdAt: string;
  updatedAt: string;
}

export const GROUP_ROLES: MembershipRole[] = ["group_admin", "group_member"];
const isGroupRole = (role: MembershipRole) => GROUP_ROLES.includes(role);

function memberQuery(db: Db) {
  return db
    .select({
      m: memberships,
      userEmail: users.email,
      groupSlug: groups.slug,
      groupName: groups.name,
    })
    .from(memberships)
    .innerJoin(users, eq(users.id, memberships.userId))
    .leftJoin(groups, eq(groups.id, memberships.groupId));
}

type Joined = Awaited<ReturnType<ReturnType<typeof memberQuery>["all"]>>[number];

const memberView = (r: Joined): MemberView => ({
  id: r.m.id,
  user: { id: r.m.userId, email: r.userEmail },
  role: r.m.role,
  group: r.m.groupId ? { id: r.m.groupId, slug: r.groupSlug!, name: r.groupName! } : null,
  permissions: r.m.permissions ?? null,
  createdAt: new Date(r.m.createdAt).toISOString(),
  updatedAt: new Date(r.m.updatedAt).toISOString(),
});

export async function findMember(db: Db, orgId: string, id: string): Promise<MemberRow | null> {
  return (
    (await db
      .select()
      .from(memberships)
      .where(and(eq(memberships.orgId, orgId), eq(memberships.id, id)))
      .get()) ?? null
  );
}

export async function memberViewOf(db: Db, id: string): Promise<MemberView> {
  const row = await memberQuery(db).where(eq(memberships.id, id)).get();
  if (!row) throw new AppError("not_found", "No such member.");
  return memberView(row);
}

/** Oldest first. `visible` null: every membership; otherwise only those of these groups. */
export async function listMembers(
  db: Db,
  orgId: string,
  visible: string[] | null,
  filter: { groupId?: string },
  page: { cursor?: string; limit: number },
): Promise<Page<MemberView>> {
  if (visible !== null && visible.length === 0) return { items: [], next: null };
  const conditions = [eq(memberships.orgId, orgId)];
  if (visible !== null) conditions.push(inArray(memberships.groupId, visible));
  if (filter.groupId) conditions.push(eq(memberships.groupId, filter.groupId));
  const rows = await memberQuery(db)
    .where(
      and(...conditions, pastCursor(page.cursor, "asc", [memberships.createdAt, "number"], [memberships.id, "string"])),
    )
    .orderBy(asc(memberships.createdAt), asc(memberships.id))
    .limit(page.limit + 1);
  const kept = splitPage(rows, page.limit, (last) => [last.m.createdAt, last.m.id]);
  return { items: kept.rows.map(memberView), next: kept.next };
}

export interface NewMember {
  role: MembershipRole;
  groupId: string | null;
  permissions: string[] | null;
}

export function assertRoleFits(role: MembershipRole, groupId: string | null): void {
  if (isGroupRole(role) && groupId === null)
    throw new AppError("validation_failed", "A group role needs a group.", {
      fields: { group: "required for group roles" },
    });
  if (!isGroupRole(role) && groupId !== null) {
    throw new AppError("validation_failed", "Organization roles do not take a group.", {
      fields: { group: "only for group_admin and group_member" },
    });
  }
}

/**
 * Links an existing account to the organization (or one of its groups). Nobody gets an account
 * here: a person without one is invited instead (invitations.ts) and chooses their own password.
 */
export async function addMember(
  env: TokenStoreEnv,
  orgId: string,
  user: { id: string; email: string },
  input: NewMember,
  actor: Actor,
  now: number,
): Promise<MemberView> {
  const db = database(env.d1);
  assertRoleFits(input.role, input.groupId);
  if (input.permissions) await assertKnownPermissions(db, input.permissions, "permissions");
  const id = crypto.randomUUID();
  const statements: Statement[] = [
    db.insert(memberships).values({
      id,
      userId: user.id,
      orgId,
      groupId: input.groupId,
      role: input.role,
      permissions: input.permissions,
      createdAt: now,
      updatedAt: now,
    }),
    auditInsert(
      db,
      actor,
      {
        orgId,
        action: "member.added",
        targetType: "member",
        targetId: id,
        detail: {
          userId: user.id,
          email: user.email,
          role: input.role,
          groupId: input.groupId,
          permissions: input.permissions,
        },
      },
      now,
    ),
  ];
  try {
    // More rights may widen what their personal tokens reach: the cached ceilings are refilled.
    await commitWithCacheRefresh(env, orgId, { personalOf: [user.id] }, statements, now);
  } catch (err) {
    if (isUniqueViolation(err))
      throw new AppError("conflict", "This person already has a membership here; change it instead.");
    throw err;
  }
  return memberViewOf(db, id);
}

/** Changes a role within its kind (organization or group) and the permission ceiling; caches follow at once. */
export async function updateMember(
  env: TokenStoreEnv,
  member: MemberRow,
  patch: { role?: MembershipRole; permissions?: string[] | null },
  actor: Actor,
  now: number,
): Promise<MemberView> {
  const db = database(env.d1);
  if (patch.role !== undefined) assertRoleFits(patch.role, member.groupId);
  if (patch.permissions) await assertKnownPermissions(db, patch.permissions, "permissions");
  const changes = {
    role: patch.role ?? member.role,
    permissions: patch.permissions === undefined ? member.permissions : patch.permissions,
    updatedAt: now,
  };
  const change = [
    db.update(memberships).set(changes).where(eq(memberships.id, member.id)),
    auditInsert(
      db,
      actor,
      {
        orgId: member.orgId,
        action: "member.updated",
        targetType: "member",
        targetId: member.id,
        detail: {
          userId: member.userId,
          ...patch,
          changes: changesOf({ role: member.role, permissions: member.permissions }, patch),
        },
      },
      now,
    ),
  ];
  await commitWithCacheRefresh(env, member.orgId, { personalOf: [member.userId] }, change, now);
  return memberViewOf(db, member.id);
}

/** Removes a membership; a person left with none here loses their personal tokens in this organization. */
export async function removeMember(
  env: TokenStoreEnv,
  member: MemberRow,
  actor: Actor,
  now: number,
): Promise<{ tokensRevoked: number }> {
  const db = database(env.d1);
  const change = [
    db.delete(memberships).where(eq(memberships.id, member.id)),
    auditInsert(
      db,
      actor,
      {
        orgId: member.orgId,
        action: "member.removed",
        targetType: "member",
        targetId: member.id,
        detail: { userId: member.userId, role: member.role, groupId: member.groupId },
      },
      now,
    ),
  ];
  // One transaction removes the membership and, if it was the person's last here, revokes their tokens:
  // each entry is rewritten (or queued) once, as revoked. Someone who still belongs keeps live tokens whose
  // ceiling just changed; only those are refreshed after (revoked tokens are not picked).
  const tokensRevoked = await revokeTokensOfLeavers(env, member.orgId, [member.userId], actor, now, change);
  await commitWithCacheRefresh(env, member.orgId, { personalOf: [member.userId] }, [], now);
  return { tokensRevoked };
}

import { asc, eq } from "drizzle-orm";
import type { Db } from "../db/client";
import { groups, type MembershipRole, memberships, organizations } from "../db/schema";

export interface MyMembership {
  id: string;
  role: MembershipRole;
  org: { id: string; slug: string; name: string };
  group: { id: string; slug: string; name: string } | null;
  permissions: string[] | null;
}

/** Everything the console needs to draw a user's organizations and groups, in one query. */
export async function membershipsOf(db: Db, userId: string): Promise<MyMembership[]> {
  const rows = await db
    .select({
      id: memberships.id,
      role: memberships.role,
      permissions: memberships.permissions,
      orgId: organizations.id,
      orgSlug: organizations.slug,
      orgName: organizations.name,
      groupId: groups.id,
      groupSlug: groups.slug,
      groupName: groups.name,
    })
    .from(memberships)
    .innerJoin(organizations, eq(organizations.id, memberships.orgId))
    .leftJoin(groups, eq(groups.id, memberships.groupId))
    .where(eq(memberships.userId, userId))
    .orderBy(asc(organizations.slug), asc(groups.slug));
  return rows.map((r) => ({
    id: r.id,
    role: r.role,
    org: { id: r.orgId, slug: r.orgSlug, name: r.orgName },
    group: r.groupId ? { id: r.groupId, slug: r.groupSlug!, name: r.groupName! } : null,
    permissions: r.permissions ?? null,
  }));
}

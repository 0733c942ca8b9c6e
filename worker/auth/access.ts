import { and, eq } from "drizzle-orm";
import type { Db } from "../db/client";
import { memberships, organizations } from "../db/schema";
import type { Caller, Membership } from "./caller";

/** The organization a route works on, as `orgAccess` loaded it. */
export interface OrgRef {
  id: string;
  slug: string;
  name: string;
}

export const ORG_ROLES = ["owner", "org_admin", "group_admin", "org_member", "group_member"] as const;
export type OrgRole = (typeof ORG_ROLES)[number];

/** What the caller may do in one organization. */
export interface Access {
  /** The highest role held, for display: owner > org_admin > group_admin > org_member > group_member. */
  role: OrgRole;
  /** Manages everything in the organization (owner, org admin, org admin token). */
  orgAdmin: boolean;
  /** Reaches every project of the organization (an organization-wide membership, owner, org token). */
  orgWide: boolean;
  /** Groups the caller administers; with `orgAdmin` every group is managed whatever this says. */
  adminGroupIds: string[];
  /** Groups the caller belongs to in any role. */
  memberGroupIds: string[];
  /** The user's memberships here (empty for the owner without one and for tokens). */
  memberships: Membership[];
}

export async function findOrgBySlug(db: Db, slug: string): Promise<OrgRef | null> {
  const row = await db
    .select({ id: organizations.id, slug: organizations.slug, name: organizations.name })
    .from(organizations)
    .where(eq(organizations.slug, slug))
    .get();
  return row ?? null;
}

export async function membershipsIn(db: Db, userId: string, orgId: string): Promise<Membership[]> {
  return db
    .select({
      orgId: memberships.orgId,
      groupId: memberships.groupId,
      role: memberships.role,
      permissions: memberships.permissions,
    })
    .from(memberships)
    .where(and(eq(memberships.userId, userId), eq(memberships.orgId, orgId)));
}

const highest = (roles: OrgRole[]): OrgRole => ORG_ROLES.find((r) => roles.includes(r)) ?? "group_member";

/** The caller's rights in the organization, or null when it has none there (answered as 404 by the guards). */
export async function accessIn(db: Db, caller: Caller, org: OrgRef): Promise<Access | null> {
  if (caller.type === "token") {
    // An admin token acts only inside its own organization, with its owner's admin rights.
    if (caller.orgId !== org.id || caller.kind === "personal") return null;
    if (caller.kind === "org") {
      return {
        role: "org_admin",
        orgAdmin: true,
        orgWide: true,
        adminGroupIds: [],
        memberGroupIds: [],
        memberships: [],
      };
    }
    const group = caller.groupId!;
    return {
      role: "group_admin",
      orgAdmin: false,
      orgWide: false,
      adminGroupIds: [group],
      memberGroupIds: [group],
      memberships: [],
    };
  }
  const held = await membershipsIn(db, caller.userId, org.id);
  if (caller.isOwner) {
    return {
      role: "owner",
      orgAdmin: true,
      orgWide: true,
      adminGroupIds: [],
      memberGroupIds: held.flatMap((m) => (m.groupId ? [m.groupId] : [])),
      memberships: held,
    };
  }
  if (held.length === 0) return null;
  return {
    role: highest(held.map((m) => m.role)),
    orgAdmin: held.some((m) => m.role === "org_admin"),
    orgWide: held.some((m) => m.groupId === null),
    adminGroupIds: held.flatMap((m) => (m.role === "group_admin" && m.groupId ? [m.groupId] : [])),
    memberGroupIds: held.flatMap((m) => (m.groupId ? [m.groupId] : [])),
    memberships: held,
  };
}

/** True when the caller manages this group (as its admin or as an org admin). */
export const managesGroup = (access: Access, groupId: string) =>
  access.orgAdmin || access.adminGroupIds.includes(groupId);

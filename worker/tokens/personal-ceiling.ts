/*
 * What a personal token may hold is judged per project, never as the union of a person's memberships:
 * a permission counts on a project only where a membership covering that project grants it. An
 * organization-wide membership covers every project; a group membership, that group's projects. A
 * question asked without a project is an organization-level question, so it is answered like an
 * organization-level project: only organization-wide memberships count (a group's list never leaks
 * to the organization). The instance owner may do everything. Creating a token, and every cache
 * fill that verifications answer from, apply this one rule.
 */

/** One membership as far as the ceiling cares: where it reaches (null: the whole organization) and what it grants (null: everything). */
export interface MemberReach {
  groupId: string | null;
  permissions: string[] | null;
}

/** Whether the membership covers a project of this group (null: an organization-level project, or no project at all). */
const covers = (m: MemberReach, projectGroupId: string | null) => m.groupId === null || m.groupId === projectGroupId;

/** Those of `wanted` that a membership covering a project of `projectGroupId` grants. */
export function grantedOn(memberships: MemberReach[], projectGroupId: string | null, wanted: string[]): string[] {
  const covering = memberships.filter((m) => covers(m, projectGroupId));
  if (covering.some((m) => m.permissions === null)) return wanted;
  const granted = new Set(covering.flatMap((m) => m.permissions ?? []));
  return wanted.filter((p) => granted.has(p));
}

/** Permissions a personal token holds on some projects only, beyond those it holds everywhere (see `CachedToken.projectGrants`). */
export interface ProjectGrant {
  projects: string[];
  permissions: string[];
}

/**
 * The token's permissions split the way the cache entry stores them: `everywhere`, granted by
 * organization-wide memberships (they hold on every project and without one), and one grant per
 * group whose memberships add more on that group's projects among `reached`. One entry per group, not
 * per project: a project belongs to one group, so the lists stay as long as the token's reach.
 */
export function splitByReach(
  memberships: MemberReach[],
  permissions: string[],
  reached: [key: string, groupId: string | null][],
): { everywhere: string[]; projectGrants: ProjectGrant[] } {
  const everywhere = grantedOn(memberships, null, permissions);
  const projectGrants: ProjectGrant[] = [];
  for (const groupId of new Set(memberships.flatMap((m) => (m.groupId === null ? [] : [m.groupId])))) {
    const more = grantedOn(memberships, groupId, permissions).filter((p) => !everywhere.includes(p));
    const projects = reached.filter((p) => p[1] === groupId).map((p) => p[0]);
    if (more.length > 0 && projects.length > 0)
      projectGrants.push({ projects: projects.sort(), permissions: more.sort() });
  }
  return { everywhere, projectGrants };
}

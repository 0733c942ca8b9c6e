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

/**
 * A personal token's ceiling as its cache entry stores it: whether an organization-wide membership (or
 * the instance owner) covers every project, and each group whose membership covers that group's
 * projects, with the permissions it adds there beyond the token's organization-wide ones. One item per
 * membership, never per project, so it stays as small as the person's memberships.
 */
export interface Ceiling {
  orgWide: boolean;
  groups: { id: string; more: string[] }[];
}

/** The token's permissions split the way the cache entry stores them (see `Ceiling`). */
export function ceilingOf(
  memberships: MemberReach[],
  permissions: string[],
): { everywhere: string[]; ceiling: Ceiling } {
  const everywhere = grantedOn(memberships, null, permissions);
  const groups = [...new Set(memberships.flatMap((m) => (m.groupId === null ? [] : [m.groupId])))].map((id) => ({
    id,
    more: grantedOn(memberships, id, permissions)
      .filter((p) => !everywhere.includes(p))
      .sort(),
  }));
  return { everywhere, ceiling: { orgWide: memberships.some((m) => m.groupId === null), groups } };
}

/** Whether the ceiling covers a project of this group (null: an organization-level project). */
export const ceilingCovers = (ceiling: Ceiling, projectGroupId: string | null) =>
  ceiling.orgWide || (projectGroupId !== null && ceiling.groups.some((g) => g.id === projectGroupId));

/** What the ceiling adds on a project of this group to the permissions held everywhere. */
export const ceilingAddsOn = (ceiling: Ceiling, projectGroupId: string | null): string[] =>
  ceiling.groups.find((g) => g.id === projectGroupId)?.more ?? [];

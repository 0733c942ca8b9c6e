import type { Access } from "../auth/access";

/**
 * Least privilege for reading the organization's structure: an organization-wide caller sees every
 * group, project and membership; a caller who belongs only to some groups sees only those groups'.
 * Returns null for "everything", or the group ids the caller may see.
 */
export const visibleGroupIds = (access: Access): string[] | null =>
  access.orgWide || access.orgAdmin ? null : access.memberGroupIds;

/**
 * What a token may do through the management API, each a catalog permission (migration 0003).
 * Only a token with `admin: true` may hold them; people are judged by their role instead.
 */
export const MANAGEMENT_PERMISSIONS = [
  "manage:tokens",
  "manage:members",
  "manage:projects",
  "manage:upstreams",
  "manage:settings",
  "audit:read",
  "tokens:introspect",
] as const;
export type ManagementPermission = (typeof MANAGEMENT_PERMISSIONS)[number];

/** Rights that let a leaked token outlive itself or redirect traffic: the console warns before granting them. */
export const DANGEROUS_PERMISSIONS: readonly ManagementPermission[] = ["manage:members", "manage:upstreams", "manage:settings"];

export const isManagementPermission = (name: string): name is ManagementPermission =>
  (MANAGEMENT_PERMISSIONS as readonly string[]).includes(name);

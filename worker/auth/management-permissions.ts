import { AppError } from "../errors";

/**
 * What a token may do through the management API, each a catalog permission (migration 0003).
 * Only a token with `admin: true` may hold them (tokens:introspect aside); people are judged by
 * their role instead.
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
export const DANGEROUS_PERMISSIONS: readonly ManagementPermission[] = [
  "manage:members",
  "manage:upstreams",
  "manage:settings",
];

export const isManagementPermission = (name: string): name is ManagementPermission =>
  (MANAGEMENT_PERMISSIONS as readonly string[]).includes(name);

export const isDangerousPermission = (name: string): boolean =>
  (DANGEROUS_PERMISSIONS as readonly string[]).includes(name);

/**
 * Held without the admin role: resource servers introspect other tokens with it (/oauth/introspect),
 * which reveals scopes but changes nothing.
 */
const OPEN_TO_EVERY_TOKEN: readonly ManagementPermission[] = ["tokens:introspect"];

/** The management permissions in `permissions` that only an admin token may hold. */
export const adminOnlyIn = (permissions: readonly string[]): string[] =>
  permissions.filter((p) => isManagementPermission(p) && !OPEN_TO_EVERY_TOKEN.includes(p));

/**
 * A token without the admin role cannot use the management API, so a management permission on it
 * would be a dormant right that turns on the day someone sets the flag: refused up front. Personal
 * tokens never have the admin role, so this refuses them every such permission.
 */
export function assertManagementFits(grant: { kind: string; admin: boolean; permissions: readonly string[] }): void {
  if (grant.admin) return;
  const held = adminOnlyIn(grant.permissions);
  if (held.length === 0) return;
  const why =
    grant.kind === "personal"
      ? "personal tokens cannot use the management API"
      : "only a token with the admin role may hold";
  throw new AppError("validation_failed", `Management permissions need admin: true (${held.join(", ")}).`, {
    fields: { permissions: `${why}: ${held.join(", ")}` },
  });
}

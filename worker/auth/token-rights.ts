import type { Db } from "../db/client";
import type { TokenKind } from "../db/schema";
import { AppError } from "../errors";
import { projectsByKeys } from "../orgs/projects";
import { grantedOn } from "../tokens/personal-ceiling";
import type { TokenRow } from "../tokens/views";
import { rangeWithin } from "../verify/ip-allowlist";
import { type Access, managesGroup } from "./access";
import type { TokenCaller } from "./caller";

// Who manages which token (docs/DESIGN.md §1) and how much a token may be given.

/** What a token would hold: checked against the ceiling of whoever asks for it. */
export interface Grant {
  kind: TokenKind;
  groupId: string | null;
  projects: "*" | string[];
  permissions: string[];
  admin: boolean;
  expiresAt: number | null;
  /** Normalized ranges, or null for any address. */
  allowedIps: string[] | null;
}

/** Org tokens: organization admins. Group tokens: that group's admins and organization admins. Personal: never here. */
export function canManageToken(access: Access, row: Pick<TokenRow, "kind" | "groupId">): boolean {
  if (row.kind === "org") return access.orgAdmin;
  if (row.kind === "group") return row.groupId !== null && managesGroup(access, row.groupId);
  return false;
}

export function assertMayCreate(access: Access, kind: TokenKind, groupId: string | null): void {
  if (kind === "org" && !access.orgAdmin)
    throw new AppError("forbidden", "Only organization admins manage organization tokens.");
  if (kind === "group" && (groupId === null || !managesGroup(access, groupId)))
    throw new AppError("forbidden", "Only this group's admins and organization admins manage its tokens.");
}

/**
 * An admin token hands out at most what it holds: its permissions, its projects, its group, its
 * lifetime, its addresses, and the admin role only with manage:tokens. Applies to the whole grant of
 * any token it creates, copies, regenerates (it would receive the secret), re-enables or edits the
 * projects or addresses of.
 */
export function assertWithinAdminToken(caller: TokenCaller, grant: Grant): void {
  const fields: Record<string, string> = {};
  const extra = grant.permissions.filter((p) => !caller.permissions.includes(p));
  if (extra.length > 0) fields.permissions = `beyond this admin token's own: ${extra.join(", ")}`;
  // The admin role is what lets a token manage at all: only a token that manages tokens hands it on.
  if (grant.admin && !caller.permissions.includes("manage:tokens"))
    fields.admin = "only an admin token holding manage:tokens may grant the admin role";
  if (caller.projects !== "*") {
    if (grant.projects === "*")
      fields.projects = "this admin token covers named projects only, so it cannot grant all projects";
    else {
      const outside = grant.projects.filter((k) => !caller.projects.includes(k));
      if (outside.length > 0) fields.projects = `outside this admin token's projects: ${outside.join(", ")}`;
    }
  }
  if (caller.kind === "group" && (grant.kind !== "group" || grant.groupId !== caller.groupId))
    fields.kind = "a group admin token manages only its own group's tokens";
  if (caller.expiresAt !== null && (grant.expiresAt === null || grant.expiresAt > caller.expiresAt)) {
    fields.expiresAt = `must not be later than this admin token's own expiry (${new Date(caller.expiresAt).toISOString()})`;
  }
  // An allowlist binds what the token does, so it binds what the token hands out: a secret usable from
  // anywhere would take its holder out of the list.
  if (caller.allowedIps !== null) {
    const outside = grant.allowedIps?.filter((r) => !rangeWithin(r, caller.allowedIps!)) ?? [];
    if (grant.allowedIps === null)
      fields.allowedIps = `this admin token is limited to ${caller.allowedIps.join(", ")}: name addresses within them`;
    else if (outside.length > 0) fields.allowedIps = `outside this admin token's addresses: ${outside.join(", ")}`;
  }
  if (Object.keys(fields).length > 0)
    throw new AppError("forbidden", "An admin token cannot grant more than it holds.", { fields });
}

/**
 * A personal token never holds more than its person may do in the organization (`personal-ceiling.ts`):
 * only projects of their memberships (all of them for an organization-wide one), and only permissions
 * that count somewhere the token reaches: on one of its projects, by a membership covering that project,
 * or without a project, by an organization-wide one. A permission that counts on some of its projects
 * only is allowed, since verification judges it project by project. The owner may do everything. The
 * verify core applies the same rule on every cache fill; this refuses up front, with the reasons per field.
 */
export async function assertWithinMemberRights(
  db: Db,
  access: Access,
  orgId: string,
  grant: Pick<Grant, "projects" | "permissions">,
): Promise<void> {
  if (access.role === "owner") return;
  const fields: Record<string, string> = {};
  const groups = new Set(access.memberGroupIds);
  // The groups whose projects the token reaches; null stands for organization-level projects and for no project.
  let reachedGroups: (string | null)[] = [null];
  if (grant.projects === "*") {
    if (!access.orgWide) fields.projects = "you belong to some groups only: name their projects instead of all";
    reachedGroups.push(...groups);
  } else {
    const found = await projectsByKeys(db, orgId, grant.projects);
    const unknown = grant.projects.filter((k) => !found.some((p) => p.key === k));
    const outside = found
      .filter((p) => !access.orgWide && (p.groupId === null || !groups.has(p.groupId)))
      .map((p) => p.key);
    if (unknown.length > 0) fields.projects = `not in this organization: ${unknown.join(", ")}`;
    else if (outside.length > 0) fields.projects = `outside your groups: ${outside.join(", ")}`;
    reachedGroups = [null, ...found.map((p) => p.groupId)];
  }
  const counted = new Set(reachedGroups.flatMap((g) => grantedOn(access.memberships, g, grant.permissions)));
  const extra = grant.permissions.filter((p) => !counted.has(p));
  if (extra.length > 0)
    fields.permissions = `not granted to you ${grant.projects === "*" ? "here" : "on these projects"}: ${extra.join(", ")}`;
  if (Object.keys(fields).length > 0)
    throw new AppError("validation_failed", "A personal token cannot hold more than you may do.", { fields });
}

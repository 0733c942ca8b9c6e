import type { TokenKind } from "../db/schema";
import { type D1, primarySession } from "../db/session";
import { inSlices, placeholders } from "../db/slices";
import type { CachedToken, CacheEntry } from "./cached";
import { type MemberReach, type ProjectGrant, splitByReach } from "./personal-ceiling";

// One statement, one round trip: the token, its organization and group, its project keys and
// permissions, the projects a "*" token reaches, and (for personal tokens) what its user may still do, membership by membership.
// The hot path and the bulk refresh after structure changes share it, so both fill the same entry.
const LOOKUP_SELECT = `
SELECT t.hash, t.id, t.kind, t.name, t.org_id, o.slug AS org_slug, t.group_id, g.slug AS group_slug, t.user_id,
  t.all_projects, t.admin, t.expires_at, t.disabled_at, t.revoked_at, t.version,
  (SELECT json_group_array(json_array(p.key, p.group_id)) FROM token_projects tp
     JOIN projects p ON p.id = tp.project_id WHERE tp.token_id = t.id) AS named_projects,
  (SELECT json_group_array(tp.permission) FROM token_permissions tp WHERE tp.token_id = t.id) AS permissions,
  CASE WHEN t.all_projects THEN
    (SELECT json_group_array(json_array(p.key, p.group_id)) FROM projects p
       WHERE p.org_id = t.org_id AND (t.kind != 'group' OR p.group_id = t.group_id))
  END AS org_projects,
  CASE WHEN t.kind = 'personal' THEN
    (SELECT json_group_array(json_object('role', m.role, 'groupId', m.group_id, 'permissions', json(m.permissions)))
       FROM memberships m WHERE m.user_id = t.user_id AND m.org_id = t.org_id)
  END AS memberships,
  CASE WHEN t.kind = 'personal' THEN (SELECT u.is_owner FROM users u WHERE u.id = t.user_id) END AS user_is_owner
FROM tokens t
JOIN organizations o ON o.id = t.org_id
LEFT JOIN groups g ON g.id = t.group_id`;
const LOOKUP_SQL = `${LOOKUP_SELECT}
WHERE t.hash = ?1`;

interface LookupRow {
  hash: string;
  id: string;
  kind: TokenKind;
  name: string;
  org_id: string;
  org_slug: string;
  group_id: string | null;
  group_slug: string | null;
  user_id: string | null;
  all_projects: number;
  admin: number;
  expires_at: number | null;
  disabled_at: number | null;
  revoked_at: number | null;
  version: number;
  named_projects: string;
  permissions: string;
  org_projects: string | null;
  memberships: string | null;
  user_is_owner: number | null;
}

type ProjectRef = [key: string, groupId: string | null];

/** Where a person reaches in an organization, and whether they still belong to it: the projects of their personal tokens. */
function userReach(row: LookupRow): {
  member: boolean;
  allProjects: boolean;
  groups: Set<string>;
  memberships: MemberReach[];
} {
  const memberships = JSON.parse(row.memberships ?? "[]") as MemberReach[];
  // The owner may do everything: as if organization-wide with every permission, member or not.
  if (row.user_is_owner)
    return {
      member: true,
      allProjects: true,
      groups: new Set<string>(),
      memberships: [{ groupId: null, permissions: null }],
    };
  const orgWide = memberships.some((m) => m.groupId === null);
  const groups = new Set(memberships.flatMap((m) => (m.groupId ? [m.groupId] : [])));
  return { member: memberships.length > 0, allProjects: orgWide, groups, memberships };
}

export function toCacheEntry(row: LookupRow): CacheEntry {
  let named = (JSON.parse(row.named_projects) as ProjectRef[]).filter((p) => p[0] !== null);
  let scope = JSON.parse(row.org_projects ?? "[]") as ProjectRef[];
  let permissions = JSON.parse(row.permissions) as string[];
  let ownerLeft = false;
  let projectGrants: ProjectGrant[] = [];
  if (row.kind === "personal") {
    const reach = userReach(row);
    ownerLeft = !reach.member;
    const reachable = (p: ProjectRef) => reach.allProjects || (p[1] !== null && reach.groups.has(p[1]));
    named = named.filter(reachable);
    scope = scope.filter(reachable);
    const split = splitByReach(reach.memberships, permissions, row.all_projects ? scope : named);
    permissions = split.everywhere;
    projectGrants = split.projectGrants;
  }
  const token: CachedToken = {
    id: row.id,
    kind: row.kind,
    name: row.name,
    orgId: row.org_id,
    orgSlug: row.org_slug,
    groupId: row.group_id,
    groupSlug: row.group_slug,
    userId: row.user_id,
    projects: row.all_projects ? "*" : named.map((p) => p[0]).sort(),
    scopeKeys: row.all_projects ? scope.map((p) => p[0]).sort() : [],
    permissions: permissions.sort(),
    admin: Boolean(row.admin),
    expiresAt: row.expires_at,
    disabledAt: row.disabled_at,
    revokedAt: row.revoked_at,
    ...(ownerLeft ? { ownerLeft } : {}),
    ...(projectGrants.length > 0 ? { projectGrants } : {}),
  };
  return { v: row.version, token };
}

/** The cache entry for a token hash straight from D1; `{v: 0, token: null}` when no token has it. */
export async function lookupTokenByHash(db: D1, hash: string): Promise<CacheEntry> {
  const row = await db.prepare(LOOKUP_SQL).bind(hash).first<LookupRow>();
  return row ? toCacheEntry(row) : { v: 0, token: null };
}

/**
 * Cache entries for many hashes, one statement per 100: the hot path's lookup with `IN (…)`. A hash that
 * names no token is absent from the answer.
 */
export async function lookupTokensByHashes(db: D1, hashes: string[]): Promise<Map<string, CacheEntry>> {
  const rows = await inSlices(
    hashes,
    0,
    async (slice) =>
      (
        await db
          .prepare(`${LOOKUP_SELECT}\nWHERE t.hash IN (${placeholders(slice.length)})`)
          .bind(...slice)
          .all<LookupRow>()
      ).results,
  );
  return new Map(rows.map((row) => [row.hash, toCacheEntry(row)]));
}

// The version reads below guard cache writes (worker/tokens/cache.ts, `fillKvEntry`): they must see every
// change committed before them, which only the primary promises, so each opens its own session there
// (docs/DESIGN.md §3.3). A replica behind a revoke would let a revoked token's entry stay cached as valid.

/** The current version of each token by hash, one statement per 100; hashes naming no token are absent. */
export async function tokenVersionsByHashes(binding: D1Database, hashes: string[]): Promise<Map<string, number>> {
  const db = primarySession(binding);
  const rows = await inSlices(
    hashes,
    0,
    async (slice) =>
      (
        await db
          .prepare(`SELECT hash, version FROM tokens WHERE hash IN (${placeholders(slice.length)})`)
          .bind(...slice)
          .all<{ hash: string; version: number }>()
      ).results,
  );
  return new Map(rows.map((row) => [row.hash, row.version]));
}

/** The token's current version by hash, or null when no token has this hash any more (regenerated, deleted). */
export async function tokenVersionByHash(binding: D1Database, hash: string): Promise<number | null> {
  const row = await primarySession(binding)
    .prepare("SELECT version FROM tokens WHERE hash = ?1")
    .bind(hash)
    .first<{ version: number }>();
  return row ? row.version : null;
}

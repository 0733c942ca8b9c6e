import type { TokenKind } from "../db/schema";
import { type D1, primarySession } from "../db/session";
import { inSlices, placeholders } from "../db/slices";
import type { CachedToken, CacheEntry } from "./cached";
import { type Ceiling, ceilingCovers, ceilingOf, type MemberReach } from "./personal-ceiling";

// One statement, one round trip: the token, its organization and group, the projects it names and its
// permissions, and (for personal tokens) what its user may still do, membership by membership. Nothing
// of the organization's other projects: whether a project exists, and in which group, is its own cached
// fact (worker/orgs/project-facts.ts). The hot path and the bulk refresh share it, so both fill the same entry.
const LOOKUP_SELECT = `
SELECT t.hash, t.id, t.kind, t.name, t.org_id, o.slug AS org_slug, t.group_id, g.slug AS group_slug, t.user_id,
  t.all_projects, t.admin, t.expires_at, t.disabled_at, t.revoked_at, t.version,
  t.allowed_ips, t.old_hash, t.old_hash_until,
  (SELECT json_group_array(json_array(p.id, p.key, p.group_id)) FROM token_projects tp
     JOIN projects p ON p.id = tp.project_id WHERE tp.token_id = t.id) AS named_projects,
  (SELECT json_group_array(tp.permission) FROM token_permissions tp WHERE tp.token_id = t.id) AS permissions,
  CASE WHEN t.kind = 'personal' THEN
    (SELECT json_group_array(json_object('role', m.role, 'groupId', m.group_id, 'permissions', json(m.permissions)))
       FROM memberships m WHERE m.user_id = t.user_id AND m.org_id = t.org_id)
  END AS memberships,
  CASE WHEN t.kind = 'personal' THEN (SELECT u.is_owner FROM users u WHERE u.id = t.user_id) END AS user_is_owner
FROM tokens t
JOIN organizations o ON o.id = t.org_id
LEFT JOIN groups g ON g.id = t.group_id`;
// A hash is a token's secret or, during a rotation's grace, its replaced one (worker/tokens/rotation.ts).
const LOOKUP_SQL = `${LOOKUP_SELECT}
WHERE t.hash = ?1 OR t.old_hash = ?1`;

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
  allowed_ips: string | null;
  old_hash: string | null;
  old_hash_until: number | null;
  named_projects: string;
  permissions: string;
  memberships: string | null;
  user_is_owner: number | null;
}

type ProjectRef = [id: string, key: string, groupId: string | null];

/** A person's memberships in the token's organization; the instance owner may do everything, member or not. */
function membershipsOf(row: LookupRow): MemberReach[] {
  if (row.user_is_owner) return [{ groupId: null, permissions: null }];
  return JSON.parse(row.memberships ?? "[]") as MemberReach[];
}

/** `asOldSecret`: the entry under the row's replaced secret, which says when it stops verifying. */
export function toCacheEntry(row: LookupRow, asOldSecret = false): CacheEntry {
  let named = (JSON.parse(row.named_projects) as ProjectRef[]).filter((p) => p[0] !== null);
  let permissions = JSON.parse(row.permissions) as string[];
  let personal: { ceiling: Ceiling; ownerLeft: boolean } | null = null;
  if (row.kind === "personal") {
    const memberships = membershipsOf(row);
    const split = ceilingOf(memberships, permissions);
    permissions = split.everywhere;
    personal = { ceiling: split.ceiling, ownerLeft: memberships.length === 0 };
    // The list the answer shows; verify checks the project's group again against its fact.
    named = named.filter((p) => ceilingCovers(split.ceiling, p[2]));
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
    projects: row.all_projects
      ? "*"
      : named.map((p) => ({ id: p[0], key: p[1] })).sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0)),
    permissions: permissions.sort(),
    admin: Boolean(row.admin),
    expiresAt: row.expires_at,
    disabledAt: row.disabled_at,
    revokedAt: row.revoked_at,
    ...(personal ? { ceiling: personal.ceiling } : {}),
    ...(personal?.ownerLeft ? { ownerLeft: true } : {}),
    // Absent rather than null for tokens without them, so their entries do not grow.
    ...(row.allowed_ips !== null ? { allowedIps: JSON.parse(row.allowed_ips) as string[] } : {}),
    ...(asOldSecret ? { oldSecretUntil: row.old_hash_until ?? 0 } : {}),
  };
  return { v: row.version, token };
}

/** The cache entry for a token hash straight from D1; `{v: 0, token: null}` when no token has it. */
export async function lookupTokenByHash(db: D1, hash: string): Promise<CacheEntry> {
  const row = await db.prepare(LOOKUP_SQL).bind(hash).first<LookupRow>();
  return row ? toCacheEntry(row, row.hash !== hash) : { v: 0, token: null };
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
          .prepare(
            `${LOOKUP_SELECT}\nWHERE t.hash IN (${placeholders(slice.length)}) OR t.old_hash IN (${placeholders(slice.length)})`,
          )
          .bind(...slice)
          .all<LookupRow>()
      ).results,
  );
  const asked = new Set(hashes);
  const entries = new Map<string, CacheEntry>();
  for (const row of rows) {
    if (asked.has(row.hash)) entries.set(row.hash, toCacheEntry(row));
    if (row.old_hash !== null && asked.has(row.old_hash)) entries.set(row.old_hash, toCacheEntry(row, true));
  }
  return entries;
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
          .prepare(
            `SELECT hash, old_hash, version FROM tokens WHERE hash IN (${placeholders(slice.length)}) OR old_hash IN (${placeholders(slice.length)})`,
          )
          .bind(...slice)
          .all<{ hash: string; old_hash: string | null; version: number }>()
      ).results,
  );
  const versions = new Map<string, number>();
  for (const row of rows) {
    versions.set(row.hash, row.version);
    if (row.old_hash !== null) versions.set(row.old_hash, row.version);
  }
  return versions;
}

/** The token's current version by hash (its secret or its replaced one), or null when no token has this hash any more (regenerated, deleted). */
export async function tokenVersionByHash(binding: D1Database, hash: string): Promise<number | null> {
  const row = await primarySession(binding)
    .prepare("SELECT version FROM tokens WHERE hash = ?1 OR old_hash = ?1")
    .bind(hash)
    .first<{ version: number }>();
  return row ? row.version : null;
}

import { and, desc, eq, inArray } from "drizzle-orm";
import type { Db } from "../db/client";
import { groups, organizations, permissionSets, projects, tokenPermissions, tokenProjects, tokens, tokenUsage } from "../db/schema";
import { type TokenStatus, tokenStatus } from "./status";

export type TokenRow = typeof tokens.$inferSelect;

/** A token as the management API shows it: never its secret or hash. */
export interface TokenView {
  id: string;
  kind: TokenRow["kind"];
  org: { id: string; slug: string };
  group: { id: string; slug: string; name: string } | null;
  user: { id: string } | null;
  name: string;
  description: string;
  projects: "*" | string[];
  permissions: string[];
  permissionSet: { id: string; name: string } | null;
  admin: boolean;
  hint: string;
  status: TokenStatus;
  expiresAt: string | null;
  createdAt: string;
  createdBy: string;
  updatedAt: string;
  lastUsedAt: string | null;
  lastUsedIps: string[];
  disabledAt: string | null;
  revokedAt: string | null;
}

// D1 caps bound parameters per statement at 100; lookups by id go in slices below that.
export const D1_MAX_BOUND_PARAMETERS = 100;
const ID_SLICE = D1_MAX_BOUND_PARAMETERS - 2;

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

function slices<T>(items: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

function groupBy<T>(rows: T[], key: (row: T) => string): Map<string, T[]> {
  const map = new Map<string, T[]>();
  for (const row of rows) {
    const k = key(row);
    const list = map.get(k);
    if (list) list.push(row);
    else map.set(k, [row]);
  }
  return map;
}

/** Views for token rows, with their links loaded in a few batched queries rather than one per token. */
export async function tokenViews(db: Db, rows: TokenRow[], now: number): Promise<TokenView[]> {
  if (rows.length === 0) return [];
  const ids = rows.map((r) => r.id);
  const orgIds = [...new Set(rows.map((r) => r.orgId))];
  const groupIds = [...new Set(rows.flatMap((r) => (r.groupId ? [r.groupId] : [])))];
  const setIds = [...new Set(rows.flatMap((r) => (r.permissionSetId ? [r.permissionSetId] : [])))];

  const projectLinks: { tokenId: string; key: string }[] = [];
  const permissionLinks: { tokenId: string; permission: string }[] = [];
  const usage: { tokenId: string; ip: string; lastSeenAt: number }[] = [];
  for (const slice of slices(ids, ID_SLICE)) {
    const [p, q, u] = await db.batch([
      db
        .select({ tokenId: tokenProjects.tokenId, key: projects.key })
        .from(tokenProjects)
        .innerJoin(projects, eq(projects.id, tokenProjects.projectId))
        .where(inArray(tokenProjects.tokenId, slice)),
      db.select().from(tokenPermissions).where(inArray(tokenPermissions.tokenId, slice)),
      db.select().from(tokenUsage).where(inArray(tokenUsage.tokenId, slice)).orderBy(desc(tokenUsage.lastSeenAt)),
    ]);
    projectLinks.push(...p);
    permissionLinks.push(...q);
    usage.push(...u);
  }
  const orgRows = await db.select({ id: organizations.id, slug: organizations.slug }).from(organizations).where(inArray(organizations.id, orgIds));
  const groupRows = groupIds.length
    ? await db.select({ id: groups.id, slug: groups.slug, name: groups.name }).from(groups).where(inArray(groups.id, groupIds))
    : [];
  const setRows = setIds.length
    ? await db.select({ id: permissionSets.id, name: permissionSets.name }).from(permissionSets).where(inArray(permissionSets.id, setIds))
    : [];

  const orgById = new Map(orgRows.map((o) => [o.id, o]));
  const groupById = new Map(groupRows.map((g) => [g.id, g]));
  const setById = new Map(setRows.map((s) => [s.id, s]));
  const projectsByToken = groupBy(projectLinks, (l) => l.tokenId);
  const permissionsByToken = groupBy(permissionLinks, (l) => l.tokenId);
  const usageByToken = groupBy(usage, (u) => u.tokenId);

  return rows.map((r) => ({
    id: r.id,
    kind: r.kind,
    org: orgById.get(r.orgId) ?? { id: r.orgId, slug: "" },
    group: r.groupId ? (groupById.get(r.groupId) ?? null) : null,
    user: r.userId ? { id: r.userId } : null,
    name: r.name,
    description: r.description,
    projects: r.allProjects ? "*" : (projectsByToken.get(r.id) ?? []).map((l) => l.key).sort(),
    permissions: (permissionsByToken.get(r.id) ?? []).map((l) => l.permission).sort(),
    permissionSet: r.permissionSetId ? (setById.get(r.permissionSetId) ?? null) : null,
    admin: r.admin,
    hint: r.hint,
    status: tokenStatus(r, now),
    expiresAt: iso(r.expiresAt),
    createdAt: iso(r.createdAt)!,
    createdBy: r.createdBy,
    updatedAt: iso(r.updatedAt)!,
    lastUsedAt: iso(r.lastUsedAt),
    lastUsedIps: (usageByToken.get(r.id) ?? []).map((u) => u.ip),
    disabledAt: iso(r.disabledAt),
    revokedAt: iso(r.revokedAt),
  }));
}

/** The token row when it belongs to the organization; null otherwise, so a stranger learns nothing. */
export async function findTokenRow(db: Db, orgId: string, tokenId: string): Promise<TokenRow | null> {
  const row = await db.select().from(tokens).where(and(eq(tokens.id, tokenId), eq(tokens.orgId, orgId))).get();
  return row ?? null;
}

export async function tokenView(db: Db, row: TokenRow, now: number): Promise<TokenView> {
  const [view] = await tokenViews(db, [row], now);
  return view!;
}

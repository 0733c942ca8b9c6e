import { and, desc, eq, inArray } from "drizzle-orm";
import type { Db } from "../db/client";
import {
  groups,
  organizations,
  permissionSets,
  projects,
  tokenPermissions,
  tokenProjects,
  tokens,
  tokenUsage,
} from "../db/schema";
import { chunk, sliceSize } from "../db/slices";
import { type LabelBook, LabelRequest, SYSTEM_LABEL } from "../orgs/labels";
import { type DeadAttempts, deadAttemptsOf } from "./dead-attempts";
import { inGrace } from "./rotation-fields";
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
  /** `expiresAt` is the organization's lifetime policy's cut ("Cut by policy on <date>"); `ownExpiresAt` is the token's own (null: never). */
  expiryCut: boolean;
  ownExpiresAt: string | null;
  createdAt: string;
  /** `user:<id>`, `token:<id>` or `system`; kept for existing scripts, `creator` says the same with a label. */
  createdBy: string;
  creator: TokenCreator;
  updatedAt: string;
  lastUsedAt: string | null;
  lastUsedIps: string[];
  disabledAt: string | null;
  revokedAt: string | null;
  /** The IP allowlist as normalized CIDR ranges; null: any address. */
  allowedIps: string[] | null;
  /** While the replaced secret of a regenerate still verifies (worker/tokens/rotation.ts); else null. */
  rotation: TokenRotation | null;
  /** Verifications refused since the token stopped verifying; null while it verifies or when none came. */
  deadAttempts: DeadAttempts | null;
}

/** The replaced secret during its grace period: until when, and whether it is still used, when last and from where. */
export interface TokenRotation {
  oldSecretUntil: string;
  oldSecretLastUsedAt: string | null;
  oldSecretLastUsedIps: string[];
}

/**
 * Who made the token: a person (labelled with their email), an admin token of the same organization
 * (its name), or Tessera itself. The label is null once the creator no longer exists.
 */
export interface TokenCreator {
  type: "user" | "token" | "system";
  id: string | null;
  label: string | null;
}

function parseCreatedBy(createdBy: string): { type: TokenCreator["type"]; id: string | null } {
  const [type, id] = createdBy.split(":", 2);
  if ((type === "user" || type === "token") && id) return { type, id };
  return { type: "system", id: null };
}

function creatorOf(row: TokenRow, labels: LabelBook): TokenCreator {
  const by = parseCreatedBy(row.createdBy);
  if (by.type === "system") return { ...by, label: SYSTEM_LABEL };
  // An admin token only ever makes tokens of its own organization: anything else is not labelled.
  return { ...by, label: labels(by.type, by.id, by.type === "token" ? row.orgId : null)?.label ?? null };
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

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
  for (const slice of chunk(ids, sliceSize(0))) {
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
  const creators = new LabelRequest();
  for (const r of rows) {
    const by = parseCreatedBy(r.createdBy);
    if (by.type !== "system") creators.add(by.type, by.id);
  }
  const [orgRows, groupRows, setRows, labels] = await Promise.all([
    db
      .select({ id: organizations.id, slug: organizations.slug })
      .from(organizations)
      .where(inArray(organizations.id, orgIds)),
    groupIds.length
      ? db
          .select({ id: groups.id, slug: groups.slug, name: groups.name })
          .from(groups)
          .where(inArray(groups.id, groupIds))
      : [],
    setIds.length
      ? db
          .select({ id: permissionSets.id, name: permissionSets.name })
          .from(permissionSets)
          .where(inArray(permissionSets.id, setIds))
      : [],
    creators.load(db),
  ]);

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
    expiryCut: r.expiryCut,
    ownExpiresAt: r.expiryCut ? iso(r.ownExpiresAt) : iso(r.expiresAt),
    createdAt: iso(r.createdAt)!,
    createdBy: r.createdBy,
    creator: creatorOf(r, labels),
    updatedAt: iso(r.updatedAt)!,
    lastUsedAt: iso(r.lastUsedAt),
    lastUsedIps: (usageByToken.get(r.id) ?? []).map((u) => u.ip),
    disabledAt: iso(r.disabledAt),
    revokedAt: iso(r.revokedAt),
    allowedIps: r.allowedIps ?? null,
    rotation: inGrace(r, now)
      ? {
          oldSecretUntil: iso(r.oldHashUntil)!,
          oldSecretLastUsedAt: iso(r.oldSecretUsedAt),
          oldSecretLastUsedIps: r.oldSecretIps ?? [],
        }
      : null,
    deadAttempts: deadAttemptsOf(r, now),
  }));
}

/** The token row when it belongs to the organization; null otherwise, so a stranger learns nothing. */
/** The keys of the projects a token names (none for an all-projects token). */
export async function projectKeysOf(db: Db, tokenId: string): Promise<string[]> {
  const rows = await db
    .select({ key: projects.key })
    .from(tokenProjects)
    .innerJoin(projects, eq(projects.id, tokenProjects.projectId))
    .where(eq(tokenProjects.tokenId, tokenId));
  return rows.map((r) => r.key);
}

export async function findTokenRow(db: Db, orgId: string, tokenId: string): Promise<TokenRow | null> {
  const row = await db
    .select()
    .from(tokens)
    .where(and(eq(tokens.id, tokenId), eq(tokens.orgId, orgId)))
    .get();
  return row ?? null;
}

export async function tokenView(db: Db, row: TokenRow, now: number): Promise<TokenView> {
  const [view] = await tokenViews(db, [row], now);
  return view!;
}

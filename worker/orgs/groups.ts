import { and, asc, eq, inArray, or } from "drizzle-orm";
import { changesOf } from "../audit/changes";
import { type Actor, auditInsert } from "../audit/events";
import { type Db, database } from "../db/client";
import { isUniqueViolation } from "../db/errors";
import { type Page, pastCursor, splitPage } from "../db/paging";
import { groups, memberships } from "../db/schema";
import { AppError } from "../errors";
import { deleteTokensOfGroup } from "../tokens/bulk-delete";
import type { TokenStoreEnv } from "../tokens/store";
import { commitWithCacheRefresh } from "../tokens/structure-refresh";
import { revokeTokensOfLeavers } from "./leavers";

export type GroupRow = typeof groups.$inferSelect;

export interface GroupView {
  id: string;
  slug: string;
  name: string;
  createdAt: string;
  updatedAt: string;
}

export const groupView = (g: GroupRow): GroupView => ({
  id: g.id,
  slug: g.slug,
  name: g.name,
  createdAt: new Date(g.createdAt).toISOString(),
  updatedAt: new Date(g.updatedAt).toISOString(),
});

export async function findGroupById(db: Db, orgId: string, id: string): Promise<GroupRow | null> {
  return (
    (await db
      .select()
      .from(groups)
      .where(and(eq(groups.orgId, orgId), eq(groups.id, id)))
      .get()) ?? null
  );
}

/** A group of the organization by id or slug (an id wins if both could match). */
export async function findGroup(db: Db, orgId: string, idOrSlug: string): Promise<GroupRow | null> {
  const rows = await db
    .select()
    .from(groups)
    .where(and(eq(groups.orgId, orgId), or(eq(groups.id, idOrSlug), eq(groups.slug, idOrSlug))));
  return rows.find((g) => g.id === idOrSlug) ?? rows[0] ?? null;
}

export async function listGroups(
  db: Db,
  orgId: string,
  visible: string[] | null,
  page: { cursor?: string; limit: number },
): Promise<Page<GroupView>> {
  if (visible !== null && visible.length === 0) return { items: [], next: null };
  const conditions = [eq(groups.orgId, orgId)];
  if (visible !== null) conditions.push(inArray(groups.id, visible));
  const rows = await db
    .select()
    .from(groups)
    .where(and(...conditions, pastCursor(page.cursor, "asc", [groups.slug, "string"])))
    .orderBy(asc(groups.slug))
    .limit(page.limit + 1);
  const kept = splitPage(rows, page.limit, (last) => [last.slug]);
  return { items: kept.rows.map(groupView), next: kept.next };
}

export async function createGroup(
  db: Db,
  orgId: string,
  input: { slug: string; name: string },
  actor: Actor,
  now: number,
): Promise<GroupView> {
  const row: GroupRow = {
    id: crypto.randomUUID(),
    orgId,
    slug: input.slug,
    name: input.name,
    createdAt: now,
    updatedAt: now,
  };
  try {
    await db.batch([
      db.insert(groups).values(row),
      auditInsert(
        db,
        actor,
        {
          orgId,
          action: "group.created",
          targetType: "group",
          targetId: row.id,
          detail: { slug: row.slug, name: row.name },
        },
        now,
      ),
    ]);
  } catch (err) {
    if (isUniqueViolation(err))
      throw new AppError("conflict", "A group with this slug already exists here.", {
        fields: { slug: "already taken" },
      });
    throw err;
  }
  return groupView(row);
}

export async function updateGroup(
  db: Db,
  group: GroupRow,
  patch: { name?: string },
  actor: Actor,
  now: number,
): Promise<GroupView> {
  const changes = { name: patch.name ?? group.name, updatedAt: now };
  await db.batch([
    db.update(groups).set(changes).where(eq(groups.id, group.id)),
    auditInsert(
      db,
      actor,
      {
        orgId: group.orgId,
        action: "group.updated",
        targetType: "group",
        targetId: group.id,
        detail: { ...patch, changes: changesOf({ name: group.name }, patch) },
      },
      now,
    ),
  ]);
  return groupView({ ...group, ...changes });
}

/**
 * Deletes a group. Its group tokens are deleted in bulk first (each audited, each cache entry
 * tombstoned: `deleteTokensOfGroup`) rather than left to the foreign-key cascade, which would leave
 * cached "valid" entries behind. Its projects move to the organization level. Its members who hold no
 * other membership here (leavers) lose their personal tokens in the deletion's own commit; the others'
 * (stayers') personal tokens lose what the group gave them and are refreshed after. No other token's
 * reach changes: organization and other groups' tokens reach the same project keys as before.
 */
export async function deleteGroup(env: TokenStoreEnv, group: GroupRow, actor: Actor, now: number): Promise<void> {
  const db = database(env.d1);
  const tokensDeleted = await deleteTokensOfGroup(env, group.orgId, group.id, actor, now);
  // Read before the memberships cascade with the group.
  const members = (
    await db.select({ userId: memberships.userId }).from(memberships).where(eq(memberships.groupId, group.id))
  ).map((m) => m.userId);
  const change = [
    db.delete(groups).where(eq(groups.id, group.id)),
    auditInsert(
      db,
      actor,
      {
        orgId: group.orgId,
        action: "group.deleted",
        targetType: "group",
        targetId: group.id,
        detail: { slug: group.slug, name: group.name, tokensDeleted },
      },
      now,
    ),
  ];
  // Every member is a candidate leaver: who holds no membership left is decided in the revoke's transaction,
  // right after the group's deletion, so a membership added or removed meanwhile is counted. A leaver's
  // entries are written once, as revoked (inline or queued), never refreshed as valid first. Then the
  // refresh picks only live tokens: the stayers' (the leavers' are revoked by now).
  await revokeTokensOfLeavers(env, group.orgId, members, actor, now, change);
  await commitWithCacheRefresh(env, group.orgId, { personalOf: members }, [], now);
}

import { and, asc, eq, inArray, isNull, sql } from "drizzle-orm";
import { changesOf } from "../audit/changes";
import { type Actor, auditInsert } from "../audit/events";
import { adminOnlyIn, isDangerousPermission } from "../auth/management-permissions";
import { batch, type Statement } from "../db/batch";
import type { Db } from "../db/client";
import { isUniqueViolation } from "../db/errors";
import { type Page, pastCursor, splitPage } from "../db/paging";
import { permissionSetItems, permissionSets, permissions, tokenPermissions, tokens } from "../db/schema";
import { inSlices } from "../db/slices";
import { AppError } from "../errors";

// The permission catalog (docs/DESIGN.md §1): data, editable by the instance owner. Catalog events have no
// organization: they show in the instance audit log.

export interface PermissionView {
  name: string;
  description: string;
  /**
   * A right over the management API that only a token with the admin role may hold
   * (worker/auth/management-permissions.ts); tokens:introspect, which any token may hold, is not one.
   */
  management: boolean;
  /** A management right that can outlive the token or redirect traffic: the console warns before granting it. */
  dangerous: boolean;
  createdAt: string;
}

export interface PermissionSetView {
  id: string;
  name: string;
  description: string;
  builtin: boolean;
  permissions: string[];
  createdAt: string;
}

type PermissionRow = typeof permissions.$inferSelect;
type SetRow = typeof permissionSets.$inferSelect;

export const permissionView = (p: PermissionRow): PermissionView => ({
  name: p.name,
  description: p.description,
  management: adminOnlyIn([p.name]).length > 0,
  dangerous: isDangerousPermission(p.name),
  createdAt: new Date(p.createdAt).toISOString(),
});

/** Refuses names that are not in the catalog, naming them under `field`. */
export async function assertKnownPermissions(db: Db, names: string[], field: string): Promise<void> {
  const unique = [...new Set(names)];
  const rows = await inSlices(unique, 0, (slice) =>
    db.select({ name: permissions.name }).from(permissions).where(inArray(permissions.name, slice)),
  );
  const found = new Set(rows.map((r) => r.name));
  const unknown = unique.filter((n) => !found.has(n));
  if (unknown.length > 0) {
    throw new AppError(
      "validation_failed",
      `Unknown permission${unknown.length > 1 ? "s" : ""}: ${unknown.join(", ")}.`,
      {
        fields: { [field]: `not in the catalog: ${unknown.join(", ")}` },
      },
    );
  }
}

export async function listPermissions(
  db: Db,
  filter: { q?: string },
  page: { cursor?: string; limit: number },
): Promise<Page<PermissionView>> {
  const conditions = [];
  if (filter.q)
    conditions.push(
      sql`instr(lower(${permissions.name} || ' ' || ${permissions.description}), ${filter.q.toLowerCase()}) > 0`,
    );
  const rows = await db
    .select()
    .from(permissions)
    .where(and(...conditions, pastCursor(page.cursor, "asc", [permissions.name, "string"])))
    .orderBy(asc(permissions.name))
    .limit(page.limit + 1);
  const kept = splitPage(rows, page.limit, (last) => [last.name]);
  return { items: kept.rows.map(permissionView), next: kept.next };
}

export async function getPermission(db: Db, name: string): Promise<PermissionRow> {
  const row = await db.select().from(permissions).where(eq(permissions.name, name)).get();
  if (!row) throw new AppError("not_found", "No such permission.");
  return row;
}

export async function createPermission(
  db: Db,
  input: { name: string; description: string },
  actor: Actor,
  now: number,
): Promise<PermissionView> {
  const row: PermissionRow = { name: input.name, description: input.description, createdAt: now };
  try {
    await db.batch([
      db.insert(permissions).values(row),
      auditInsert(
        db,
        actor,
        {
          orgId: null,
          action: "permission.created",
          targetType: "permission",
          targetId: row.name,
          detail: { description: row.description },
        },
        now,
      ),
    ]);
  } catch (err) {
    if (isUniqueViolation(err))
      throw new AppError("conflict", "This permission already exists.", { fields: { name: "already exists" } });
    throw err;
  }
  return permissionView(row);
}

export async function updatePermission(
  db: Db,
  name: string,
  patch: { description: string },
  actor: Actor,
  now: number,
): Promise<PermissionView> {
  const row = await getPermission(db, name);
  await db.batch([
    db.update(permissions).set({ description: patch.description }).where(eq(permissions.name, name)),
    auditInsert(
      db,
      actor,
      {
        orgId: null,
        action: "permission.updated",
        targetType: "permission",
        targetId: name,
        detail: { description: patch.description, changes: changesOf({ description: row.description }, patch) },
      },
      now,
    ),
  ]);
  return permissionView({ ...row, description: patch.description });
}

/** A permission that live tokens hold cannot go: they would keep passing checks for a name nobody can see. */
export async function deletePermission(db: Db, name: string, actor: Actor, now: number): Promise<void> {
  await getPermission(db, name);
  const held = await db
    .select({ n: sql<number>`count(*)` })
    .from(tokenPermissions)
    .innerJoin(tokens, eq(tokens.id, tokenPermissions.tokenId))
    .where(and(eq(tokenPermissions.permission, name), isNull(tokens.revokedAt)))
    .get();
  if ((held?.n ?? 0) > 0) {
    throw new AppError(
      "conflict",
      `${held!.n} token(s) still hold this permission; revoke them or wait for them to expire first.`,
    );
  }
  await db.batch([
    db.delete(permissions).where(eq(permissions.name, name)),
    auditInsert(
      db,
      actor,
      { orgId: null, action: "permission.deleted", targetType: "permission", targetId: name },
      now,
    ),
  ]);
}

async function setViews(db: Db, rows: SetRow[]): Promise<PermissionSetView[]> {
  if (rows.length === 0) return [];
  const items = await db
    .select()
    .from(permissionSetItems)
    .where(
      inArray(
        permissionSetItems.setId,
        rows.map((r) => r.id),
      ),
    );
  return rows.map((r) => ({
    id: r.id,
    name: r.name,
    description: r.description,
    builtin: r.builtin,
    permissions: items
      .filter((i) => i.setId === r.id)
      .map((i) => i.permission)
      .sort(),
    createdAt: new Date(r.createdAt).toISOString(),
  }));
}

export async function listPermissionSets(
  db: Db,
  page: { cursor?: string; limit: number },
): Promise<Page<PermissionSetView>> {
  const rows = await db
    .select()
    .from(permissionSets)
    .where(pastCursor(page.cursor, "asc", [permissionSets.name, "string"]))
    .orderBy(asc(permissionSets.name))
    .limit(page.limit + 1);
  const kept = splitPage(rows, page.limit, (last) => [last.name]);
  return { items: await setViews(db, kept.rows), next: kept.next };
}

export async function getPermissionSet(db: Db, id: string): Promise<PermissionSetView> {
  const row = await db.select().from(permissionSets).where(eq(permissionSets.id, id)).get();
  if (!row) throw new AppError("not_found", "No such permission set.");
  return (await setViews(db, [row]))[0]!;
}

export interface SetInput {
  name: string;
  description: string;
  permissions: string[];
}

/**
 * Commits a set's row change, its new permission list (when given) and its event in one transaction, then
 * answers the set. A name another set has is a conflict.
 */
async function commitSet(
  db: Db,
  setId: string,
  change: Statement[],
  permissionList: string[] | undefined,
  event: { action: "permission_set.created" | "permission_set.updated"; detail: Record<string, unknown> },
  actor: Actor,
  now: number,
): Promise<PermissionSetView> {
  const statements = [...change];
  for (const permission of new Set(permissionList ?? []))
    statements.push(db.insert(permissionSetItems).values({ setId, permission }));
  statements.push(
    auditInsert(db, actor, { orgId: null, targetType: "permission_set", targetId: setId, ...event }, now),
  );
  try {
    await batch(db, statements);
  } catch (err) {
    if (isUniqueViolation(err))
      throw new AppError("conflict", "A permission set with this name already exists.", {
        fields: { name: "already exists" },
      });
    throw err;
  }
  return getPermissionSet(db, setId);
}

export async function createPermissionSet(
  db: Db,
  input: SetInput,
  actor: Actor,
  now: number,
): Promise<PermissionSetView> {
  await assertKnownPermissions(db, input.permissions, "permissions");
  const row: SetRow = {
    id: crypto.randomUUID(),
    name: input.name,
    description: input.description,
    builtin: false,
    createdAt: now,
  };
  const change = [db.insert(permissionSets).values(row)];
  const event = { action: "permission_set.created", detail: { ...input } } as const;
  return commitSet(db, row.id, change, input.permissions, event, actor, now);
}

/** Changing a set changes what new tokens get from it; tokens already made keep their own list. */
export async function updatePermissionSet(
  db: Db,
  id: string,
  patch: Partial<SetInput>,
  actor: Actor,
  now: number,
): Promise<PermissionSetView> {
  const current = await getPermissionSet(db, id);
  if (patch.permissions) await assertKnownPermissions(db, patch.permissions, "permissions");
  const change: Statement[] = [
    db
      .update(permissionSets)
      .set({ name: patch.name ?? current.name, description: patch.description ?? current.description })
      .where(eq(permissionSets.id, id)),
  ];
  if (patch.permissions) change.push(db.delete(permissionSetItems).where(eq(permissionSetItems.setId, id)));
  const before = { name: current.name, description: current.description, permissions: current.permissions };
  const event = { action: "permission_set.updated", detail: { ...patch, changes: changesOf(before, patch) } } as const;
  return commitSet(db, id, change, patch.permissions, event, actor, now);
}

/** Seeded sets stay: the console and the docs name them. Tokens made from a deleted set keep their permissions. */
export async function deletePermissionSet(db: Db, id: string, actor: Actor, now: number): Promise<void> {
  const current = await getPermissionSet(db, id);
  if (current.builtin) throw new AppError("conflict", "Built-in permission sets cannot be deleted; edit them instead.");
  await db.batch([
    db.delete(permissionSets).where(eq(permissionSets.id, id)),
    auditInsert(
      db,
      actor,
      {
        orgId: null,
        action: "permission_set.deleted",
        targetType: "permission_set",
        targetId: id,
        detail: { name: current.name },
      },
      now,
    ),
  ]);
}

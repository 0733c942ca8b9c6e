import { and, asc, eq, inArray, isNull, ne, or, sql } from "drizzle-orm";
import { changesOf } from "../audit/changes";
import { type Actor, auditInsert } from "../audit/events";
import { batch, type Statement } from "../db/batch";
import { type Db, database } from "../db/client";
import { isUniqueViolation } from "../db/errors";
import { type Page, pastCursor, splitPage } from "../db/paging";
import { groups, projects, tokenProjects, tokens } from "../db/schema";
import { inSlices } from "../db/slices";
import { AppError } from "../errors";
import type { TokenStoreEnv } from "../tokens/store";
import { commitWithCacheRefresh } from "../tokens/structure-refresh";
import { overwriteProjectFact, type ProjectFact } from "./project-facts";

export type ProjectRow = typeof projects.$inferSelect;

export interface ProjectView {
  id: string;
  key: string;
  name: string;
  group: { id: string; slug: string; name: string } | null;
  createdAt: string;
  updatedAt: string;
}

type GroupRef = { id: string; slug: string; name: string };

async function viewsOf(db: Db, rows: ProjectRow[]): Promise<ProjectView[]> {
  const groupIds = [...new Set(rows.flatMap((r) => (r.groupId ? [r.groupId] : [])))];
  const groupRows: GroupRef[] = groupIds.length
    ? await db
        .select({ id: groups.id, slug: groups.slug, name: groups.name })
        .from(groups)
        .where(inArray(groups.id, groupIds))
    : [];
  const byId = new Map(groupRows.map((g) => [g.id, g]));
  return rows.map((r) => ({
    id: r.id,
    key: r.key,
    name: r.name,
    group: r.groupId ? (byId.get(r.groupId) ?? null) : null,
    createdAt: new Date(r.createdAt).toISOString(),
    updatedAt: new Date(r.updatedAt).toISOString(),
  }));
}

export const projectView = async (db: Db, row: ProjectRow) => (await viewsOf(db, [row]))[0]!;

/** A project of the organization by id or key (an id wins if both could match). */
export async function findProject(db: Db, orgId: string, idOrKey: string): Promise<ProjectRow | null> {
  const rows = await db
    .select()
    .from(projects)
    .where(and(eq(projects.orgId, orgId), or(eq(projects.id, idOrKey), eq(projects.key, idOrKey))));
  return rows.find((p) => p.id === idOrKey) ?? rows[0] ?? null;
}

/** Projects by key within the organization: what token scopes are checked against. */
export async function projectsByKeys(
  db: Db,
  orgId: string,
  keys: string[],
): Promise<{ id: string; key: string; groupId: string | null }[]> {
  const unique = [...new Set(keys)];
  if (unique.length === 0) return [];
  // One parameter goes to the organization.
  return inSlices(unique, 1, (slice) =>
    db
      .select({ id: projects.id, key: projects.key, groupId: projects.groupId })
      .from(projects)
      .where(and(eq(projects.orgId, orgId), inArray(projects.key, slice))),
  );
}

export interface ProjectFilter {
  /** null: every project; otherwise only projects of these groups. */
  visibleGroups: string[] | null;
  /** Only this group's projects; "none" for organization-level ones. */
  group?: string | "none";
  q?: string;
}

export async function listProjects(
  db: Db,
  orgId: string,
  filter: ProjectFilter,
  page: { cursor?: string; limit: number },
): Promise<Page<ProjectView>> {
  if (filter.visibleGroups !== null && filter.visibleGroups.length === 0) return { items: [], next: null };
  const conditions = [eq(projects.orgId, orgId)];
  if (filter.visibleGroups !== null) conditions.push(inArray(projects.groupId, filter.visibleGroups));
  if (filter.group === "none") conditions.push(isNull(projects.groupId));
  else if (filter.group !== undefined) conditions.push(eq(projects.groupId, filter.group));
  if (filter.q) {
    const q = filter.q.toLowerCase();
    conditions.push(or(sql`instr(lower(${projects.key}), ${q}) > 0`, sql`instr(lower(${projects.name}), ${q}) > 0`)!);
  }
  const rows = await db
    .select()
    .from(projects)
    .where(and(...conditions, pastCursor(page.cursor, "asc", [projects.key, "string"])))
    .orderBy(asc(projects.key))
    .limit(page.limit + 1);
  const kept = splitPage(rows, page.limit, (last) => [last.key]);
  return { items: await viewsOf(db, kept.rows), next: kept.next };
}

export async function createProject(
  env: TokenStoreEnv,
  orgId: string,
  input: { key: string; name: string; groupId: string | null },
  actor: Actor,
  now: number,
): Promise<ProjectView> {
  const db = database(env.d1);
  const row: ProjectRow = {
    id: crypto.randomUUID(),
    orgId,
    groupId: input.groupId,
    key: input.key,
    name: input.name,
    createdAt: now,
    updatedAt: now,
  };
  const change = [
    db.insert(projects).values(row),
    auditInsert(
      db,
      actor,
      {
        orgId,
        action: "project.created",
        targetType: "project",
        targetId: row.id,
        detail: { key: row.key, name: row.name, groupId: row.groupId },
      },
      now,
    ),
  ];
  try {
    await batch(db, change);
  } catch (err) {
    if (isUniqueViolation(err))
      throw new AppError("conflict", "A project with this key already exists here.", {
        fields: { key: "already taken" },
      });
    throw err;
  }
  // Tokens for all projects that reach it gain it through its fact: no token entry changes.
  await overwriteProjectFact(env, orgId, row.key, factOf(row), now);
  return projectView(db, row);
}

/**
 * Renames a project or moves it between groups. A move takes the project out of the scope of the
 * old group's tokens (their links to it are removed) and changes which people's personal tokens reach
 * it: its fact (worker/orgs/project-facts.ts) is overwritten with the new group, which every token
 * reads, and the tokens naming it are refreshed (their own lists change). Organization tokens reach
 * it wherever it is.
 */
export async function updateProject(
  env: TokenStoreEnv,
  project: ProjectRow,
  patch: { name?: string; groupId?: string | null },
  actor: Actor,
  now: number,
): Promise<ProjectView> {
  const db = database(env.d1);
  const moved = patch.groupId !== undefined && patch.groupId !== project.groupId;
  const changes = {
    name: patch.name ?? project.name,
    groupId: patch.groupId === undefined ? project.groupId : patch.groupId,
    updatedAt: now,
  };
  const statements: Statement[] = [
    db.update(projects).set(changes).where(eq(projects.id, project.id)),
    auditInsert(
      db,
      actor,
      {
        orgId: project.orgId,
        action: "project.updated",
        targetType: "project",
        targetId: project.id,
        detail: {
          ...patch,
          key: project.key,
          changes: changesOf({ name: project.name, groupId: project.groupId }, patch),
        },
      },
      now,
    ),
  ];
  if (moved) {
    // Group tokens reach only their own group's projects.
    const otherGroups =
      changes.groupId === null
        ? eq(tokens.kind, "group")
        : and(eq(tokens.kind, "group"), ne(tokens.groupId, changes.groupId));
    const strangers = db
      .select({ id: tokens.id })
      .from(tokens)
      .where(and(eq(tokens.orgId, project.orgId), otherGroups));
    statements.push(
      db
        .delete(tokenProjects)
        .where(and(eq(tokenProjects.projectId, project.id), inArray(tokenProjects.tokenId, strangers))),
    );
  }
  if (moved) {
    await commitWithCacheRefresh(env, project.orgId, { namingProject: project.id }, statements, now);
    await overwriteProjectFact(env, project.orgId, project.key, factOf({ ...project, ...changes }), now);
  } else {
    await batch(db, statements);
  }
  return projectView(db, { ...project, ...changes });
}

/**
 * Deletes a project: its fact becomes a tombstone, so no token reaches the key until a project is
 * created under it again (and then not through an old link: links name the project's id). Tokens
 * naming it lose it from their lists at once (links cascade, their entries are refreshed).
 */
export async function deleteProject(env: TokenStoreEnv, project: ProjectRow, actor: Actor, now: number): Promise<void> {
  const db = database(env.d1);
  const change = [
    db.delete(projects).where(eq(projects.id, project.id)),
    auditInsert(
      db,
      actor,
      {
        orgId: project.orgId,
        action: "project.deleted",
        targetType: "project",
        targetId: project.id,
        detail: { key: project.key, name: project.name },
      },
      now,
    ),
  ];
  await commitWithCacheRefresh(env, project.orgId, { namingProject: project.id }, change, now);
  const tombstone = { v: Math.max(now, project.updatedAt + 1), project: null };
  await overwriteProjectFact(env, project.orgId, project.key, tombstone, now);
}

const factOf = (row: Pick<ProjectRow, "id" | "groupId" | "updatedAt">): ProjectFact => ({
  v: row.updatedAt,
  project: { id: row.id, groupId: row.groupId },
});

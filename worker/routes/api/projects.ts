import { Hono } from "hono";
import { z } from "zod";
import { actorOf, assertSudo, orgAccess, requireSudo } from "../../auth/guards";
import type { Db } from "../../db/client";
import type { AppEnv } from "../../env";
import { AppError } from "../../errors";
import { dbOf, nowOf, storeEnvOf } from "../../http/context";
import { findGroup } from "../../orgs/groups";
import {
  createProject,
  deleteProject,
  findProject,
  listProjects,
  projectView,
  updateProject,
} from "../../orgs/projects";
import { visibleGroupIds } from "../../orgs/visibility";
import { nameField, pageQuery, projectKeyField, slugField } from "./schemas";
import { validate } from "./validate";

const listQuery = z.object({ ...pageQuery, group: z.string().max(100).optional(), q: z.string().max(100).optional() });
const createBody = z.object({ key: projectKeyField, name: nameField, group: slugField.nullable().optional() });
const patchBody = z
  .object({ name: nameField.optional(), group: slugField.nullable().optional() })
  .refine((b) => b.name !== undefined || b.group !== undefined, "send at least one of name, group");

const noSuchProject = () => new AppError("not_found", "No such project.");

async function groupIdOf(db: Db, orgId: string, slug: string | null | undefined): Promise<string | null | undefined> {
  if (slug === undefined || slug === null) return slug;
  const group = await findGroup(db, orgId, slug);
  if (!group)
    throw new AppError("validation_failed", "No such group in this organization.", {
      fields: { group: "unknown group" },
    });
  return group.id;
}

/** Projects of `/api/orgs/:org`; `:id` is the project's id or key. */
export const projectRoutes = new Hono<AppEnv>()
  .get("/:org/projects", orgAccess("member", "none"), validate("query", listQuery), async (c) => {
    const { cursor, limit, group, q } = c.req.valid("query");
    const db = dbOf(c);
    const orgId = c.get("org").id;
    const groupFilter =
      group === undefined || group === "none" ? group : ((await groupIdOf(db, orgId, group)) ?? undefined);
    return c.json(
      await listProjects(
        db,
        orgId,
        { visibleGroups: visibleGroupIds(c.get("access")), group: groupFilter, q },
        { cursor, limit },
      ),
    );
  })
  // A new project widens every token for all projects (of the organization, or of its group) at once: sudo.
  .post(
    "/:org/projects",
    orgAccess("admin", "manage:projects"),
    requireSudo,
    validate("json", createBody),
    async (c) => {
      const body = c.req.valid("json");
      const orgId = c.get("org").id;
      const groupId = (await groupIdOf(dbOf(c), orgId, body.group)) ?? null;
      return c.json(
        await createProject(storeEnvOf(c), orgId, { key: body.key, name: body.name, groupId }, actorOf(c), nowOf(c)),
        201,
      );
    },
  )
  .get("/:org/projects/:id", orgAccess("member", "none"), async (c) => {
    const db = dbOf(c);
    const project = await findProject(db, c.get("org").id, c.req.param("id"));
    const visible = visibleGroupIds(c.get("access"));
    if (!project || (visible !== null && (project.groupId === null || !visible.includes(project.groupId))))
      throw noSuchProject();
    return c.json(await projectView(db, project));
  })
  // Renaming is harmless; moving between groups changes what tokens reach, so it needs sudo.
  .patch("/:org/projects/:id", orgAccess("admin", "manage:projects"), validate("json", patchBody), async (c) => {
    const body = c.req.valid("json");
    if (body.group !== undefined) assertSudo(c);
    const db = dbOf(c);
    const orgId = c.get("org").id;
    const project = await findProject(db, orgId, c.req.param("id"));
    if (!project) throw noSuchProject();
    const groupId = await groupIdOf(db, orgId, body.group);
    return c.json(await updateProject(storeEnvOf(c), project, { name: body.name, groupId }, actorOf(c), nowOf(c)));
  })
  .delete("/:org/projects/:id", orgAccess("admin", "manage:projects"), requireSudo, async (c) => {
    const project = await findProject(dbOf(c), c.get("org").id, c.req.param("id"));
    if (!project) throw noSuchProject();
    await deleteProject(storeEnvOf(c), project, actorOf(c), nowOf(c));
    return c.body(null, 204);
  });

import { Hono } from "hono";
import { z } from "zod";
import { actorOf, orgAccess, requireSudo } from "../../auth/guards";
import type { AppEnv } from "../../env";
import { AppError } from "../../errors";
import { dbOf, nowOf, storeEnvOf } from "../../http/context";
import { createGroup, deleteGroup, findGroup, groupView, listGroups, updateGroup } from "../../orgs/groups";
import { visibleGroupIds } from "../../orgs/visibility";
import { nameField, pageQuery, slugField } from "./schemas";
import { validate } from "./validate";

const createBody = z.object({ slug: slugField, name: nameField });
const patchBody = z.object({ name: nameField });

const noSuchGroup = () => new AppError("not_found", "No such group.");

/** Groups of `/api/orgs/:org`; `:id` is the group's id or slug. */
export const groupRoutes = new Hono<AppEnv>()
  .get("/:org/groups", orgAccess("member", "none"), validate("query", z.object(pageQuery)), async (c) => {
    const { cursor, limit } = c.req.valid("query");
    return c.json(
      await listGroups(dbOf(c), c.get("org").id, visibleGroupIds(c.get("access")), {
        cursor,
        limit,
      }),
    );
  })
  .post("/:org/groups", orgAccess("admin", "manage:projects"), validate("json", createBody), async (c) => {
    return c.json(await createGroup(dbOf(c), c.get("org").id, c.req.valid("json"), actorOf(c), nowOf(c)), 201);
  })
  .get("/:org/groups/:id", orgAccess("member", "none"), async (c) => {
    const group = await findGroup(dbOf(c), c.get("org").id, c.req.param("id"));
    const visible = visibleGroupIds(c.get("access"));
    if (!group || (visible !== null && !visible.includes(group.id))) throw noSuchGroup();
    return c.json(groupView(group));
  })
  .patch("/:org/groups/:id", orgAccess("admin", "manage:projects"), validate("json", patchBody), async (c) => {
    const db = dbOf(c);
    const group = await findGroup(db, c.get("org").id, c.req.param("id"));
    if (!group) throw noSuchGroup();
    return c.json(await updateGroup(db, group, c.req.valid("json"), actorOf(c), nowOf(c)));
  })
  // Deleting a group deletes its group tokens: a token-killing action, so it needs sudo.
  .delete("/:org/groups/:id", orgAccess("admin", "manage:projects"), requireSudo, async (c) => {
    const group = await findGroup(dbOf(c), c.get("org").id, c.req.param("id"));
    if (!group) throw noSuchGroup();
    await deleteGroup(storeEnvOf(c), group, actorOf(c), nowOf(c));
    return c.body(null, 204);
  });

import { Hono } from "hono";
import { z } from "zod";
import { actorOf, ownerOnly } from "../../auth/guards";
import type { AppEnv } from "../../env";
import { dbOf, nowOf } from "../../http/context";
import {
  createPermission,
  deletePermission,
  getPermission,
  listPermissions,
  permissionView,
  updatePermission,
} from "../../orgs/catalog";
import { descriptionField, pageQuery, permissionNameField } from "./schemas";
import { validate } from "./validate";

const listQuery = z.object({ ...pageQuery, q: z.string().max(100).optional() });
const createBody = z.object({ name: permissionNameField, description: descriptionField.optional() });
const patchBody = z.object({ description: descriptionField });

/** The permission methods: anyone signed in reads the catalog, the instance owner edits it. */
export const permissionRoutes = new Hono<AppEnv>()
  .get("/", validate("query", listQuery), async (c) => {
    const { cursor, limit, q } = c.req.valid("query");
    return c.json(await listPermissions(dbOf(c), { q }, { cursor, limit }));
  })
  .post("/", ownerOnly, validate("json", createBody), async (c) => {
    const body = c.req.valid("json");
    return c.json(
      await createPermission(dbOf(c), { name: body.name, description: body.description ?? "" }, actorOf(c), nowOf(c)),
      201,
    );
  })
  .get("/:name", async (c) => {
    return c.json(permissionView(await getPermission(dbOf(c), c.req.param("name"))));
  })
  .patch("/:name", ownerOnly, validate("json", patchBody), async (c) => {
    return c.json(await updatePermission(dbOf(c), c.req.param("name"), c.req.valid("json"), actorOf(c), nowOf(c)));
  })
  .delete("/:name", ownerOnly, async (c) => {
    await deletePermission(dbOf(c), c.req.param("name"), actorOf(c), nowOf(c));
    return c.body(null, 204);
  });

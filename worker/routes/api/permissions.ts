import { Hono } from "hono";
import { z } from "zod";
import { actorOf, ownerOnly } from "../../auth/guards";
import { systemClock } from "../../clock";
import { database } from "../../db/client";
import { PAGE_SIZE_DEFAULT } from "../../db/paging";
import type { AppEnv } from "../../env";
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
    return c.json(await listPermissions(database(c.env.DB), { q }, { cursor, limit: limit ?? PAGE_SIZE_DEFAULT }));
  })
  .post("/", ownerOnly, validate("json", createBody), async (c) => {
    const body = c.req.valid("json");
    return c.json(
      await createPermission(
        database(c.env.DB),
        { name: body.name, description: body.description ?? "" },
        actorOf(c),
        systemClock(),
      ),
      201,
    );
  })
  .get("/:name", async (c) => {
    return c.json(permissionView(await getPermission(database(c.env.DB), c.req.param("name"))));
  })
  .patch("/:name", ownerOnly, validate("json", patchBody), async (c) => {
    return c.json(
      await updatePermission(database(c.env.DB), c.req.param("name"), c.req.valid("json"), actorOf(c), systemClock()),
    );
  })
  .delete("/:name", ownerOnly, async (c) => {
    await deletePermission(database(c.env.DB), c.req.param("name"), actorOf(c), systemClock());
    return c.body(null, 204);
  });

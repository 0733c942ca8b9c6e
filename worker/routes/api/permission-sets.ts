import { Hono } from "hono";
import { z } from "zod";
import { actorOf, ownerOnly } from "../../auth/guards";
import type { AppEnv } from "../../env";
import { dbOf, nowOf } from "../../http/context";
import {
  createPermissionSet,
  deletePermissionSet,
  getPermissionSet,
  listPermissionSets,
  updatePermissionSet,
} from "../../orgs/catalog";
import { descriptionField, nameField, pageQuery, permissionNameField } from "./schemas";
import { validate } from "./validate";

const MAX_SET_PERMISSIONS = 200;
const permissionList = z
  .array(permissionNameField)
  .min(1, "must name at least one permission")
  .max(MAX_SET_PERMISSIONS);
const createBody = z.object({ name: nameField, description: descriptionField.optional(), permissions: permissionList });
const patchBody = z
  .object({
    name: nameField.optional(),
    description: descriptionField.optional(),
    permissions: permissionList.optional(),
  })
  .refine(
    (b) => b.name !== undefined || b.description !== undefined || b.permissions !== undefined,
    "send at least one of name, description, permissions",
  );

/** Named bundles of permissions ("Execute analysis"...): read by anyone signed in, edited by the owner. */
export const permissionSetRoutes = new Hono<AppEnv>()
  .get("/", validate("query", z.object(pageQuery)), async (c) => {
    const { cursor, limit } = c.req.valid("query");
    return c.json(await listPermissionSets(dbOf(c), { cursor, limit }));
  })
  .post("/", ownerOnly, validate("json", createBody), async (c) => {
    const body = c.req.valid("json");
    return c.json(
      await createPermissionSet(dbOf(c), { ...body, description: body.description ?? "" }, actorOf(c), nowOf(c)),
      201,
    );
  })
  .get("/:id", async (c) => c.json(await getPermissionSet(dbOf(c), c.req.param("id"))))
  .patch("/:id", ownerOnly, validate("json", patchBody), async (c) => {
    return c.json(await updatePermissionSet(dbOf(c), c.req.param("id"), c.req.valid("json"), actorOf(c), nowOf(c)));
  })
  .delete("/:id", ownerOnly, async (c) => {
    await deletePermissionSet(dbOf(c), c.req.param("id"), actorOf(c), nowOf(c));
    return c.body(null, 204);
  });

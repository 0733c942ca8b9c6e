import { Hono } from "hono";
import { z } from "zod";
import { actorOf, orgAccess, requireSudo } from "../../auth/guards";
import type { AppEnv } from "../../env";
import {
  createUpstream,
  deleteUpstream,
  getUpstream,
  listUpstreams,
  rotateSigningSecret,
  updateUpstream,
} from "../../gateway/upstreams";
import { nowOf, sessionOf, storeEnvOf } from "../../http/context";
import { isOutboundUrlTextAllowed, OUTBOUND_URL_RULE } from "../../http/outbound-url";
import { permissionNameField, slugField } from "./schemas";
import { validate } from "./validate";

/** Enough for any real API's route table; each request scans them all. */
const MAX_RULES = 100;
const METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "*"] as const;

/** Where requests go (worker/http/outbound-url.ts), with no query or fragment: a base path at most. */
const originField = z
  .string()
  .max(2_000)
  .refine(
    (value) => isOutboundUrlTextAllowed(value) && !value.includes("?") && !value.includes("#"),
    `${OUTBOUND_URL_RULE}, without query or fragment; a base path is allowed`,
  );

const ruleField = z.object({
  method: z
    .string()
    .transform((m) => m.toUpperCase())
    .pipe(z.enum(METHODS, `must be one of ${METHODS.join(", ")}`)),
  // Written as the decoded path the gateway compares it with: no query, fragment or percent-encoding.
  pathPrefix: z
    .string()
    .max(500)
    .regex(/^\/[\x21-\x7e]*$/, "must start with / and hold printable characters without spaces")
    .refine((p) => !/[?#%\\]/.test(p), "must not contain ?, #, % or backslashes"),
  permission: permissionNameField,
});

const rulesField = z
  .array(ruleField)
  .min(1, "must hold at least one rule: without rules the gateway refuses everything")
  .max(MAX_RULES, `must hold at most ${MAX_RULES} rules`)
  .refine(
    (rules) => new Set(rules.map((r) => `${r.method} ${r.pathPrefix}`)).size === rules.length,
    "must not repeat a method and path prefix",
  );

const createBody = z.object({
  name: slugField,
  origin: originField,
  rules: rulesField,
  projectFromPath: z.boolean().optional(),
});
const patchBody = z.object({
  origin: originField.optional(),
  rules: rulesField.optional(),
  projectFromPath: z.boolean().optional(),
});

/**
 * Gateway upstreams of `/api/orgs/:org` (docs/DESIGN.md §5). Organization admins only: an upstream decides
 * which tokens reach an API, so changing one needs sudo like changing a token does. The signing
 * secret is in the create and rotate answers only, like a token's secret.
 */
export const upstreamRoutes = new Hono<AppEnv>()
  .get("/:org/upstreams", orgAccess("admin", "manage:upstreams"), async (c) => {
    return c.json({ items: await listUpstreams(sessionOf(c), c.get("org").id), next: null });
  })
  .post(
    "/:org/upstreams",
    orgAccess("admin", "manage:upstreams"),
    requireSudo,
    validate("json", createBody),
    async (c) => {
      const body = c.req.valid("json");
      const input = {
        name: body.name,
        origin: body.origin,
        rules: body.rules,
        projectFromPath: body.projectFromPath ?? false,
      };
      return c.json(await createUpstream(storeEnvOf(c), c.get("org").id, input, actorOf(c), nowOf(c)), 201);
    },
  )
  .get("/:org/upstreams/:name", orgAccess("admin", "manage:upstreams"), async (c) => {
    return c.json(await getUpstream(sessionOf(c), c.get("org").id, c.req.param("name")));
  })
  .patch(
    "/:org/upstreams/:name",
    orgAccess("admin", "manage:upstreams"),
    requireSudo,
    validate("json", patchBody),
    async (c) => {
      return c.json(
        await updateUpstream(
          storeEnvOf(c),
          c.get("org").id,
          c.req.param("name"),
          c.req.valid("json"),
          actorOf(c),
          nowOf(c),
        ),
      );
    },
  )
  .delete("/:org/upstreams/:name", orgAccess("admin", "manage:upstreams"), requireSudo, async (c) => {
    await deleteUpstream(storeEnvOf(c), c.get("org").id, c.req.param("name"), actorOf(c), nowOf(c));
    return c.body(null, 204);
  })
  .post("/:org/upstreams/:name/rotate-secret", orgAccess("admin", "manage:upstreams"), requireSudo, async (c) => {
    return c.json(await rotateSigningSecret(storeEnvOf(c), c.get("org").id, c.req.param("name"), actorOf(c), nowOf(c)));
  });

import { Hono } from "hono";
import { z } from "zod";
import { actorOf, orgAccess, requireSudo } from "../../auth/guards";
import { purgeUnusedAfterDays } from "../../cron/schedule";
import type { AppEnv } from "../../env";
import { dbOf, nowOf, storeEnvOf } from "../../http/context";
import {
  MAX_LIFETIME_DAYS,
  NOTICE_MAX_COUNT,
  NOTICE_MAX_DAYS,
  type OrgPolicies,
  PURGE_WARNING_DAYS,
  readPolicies,
} from "../../orgs/policies";
import { savePolicies } from "../../orgs/policy-cut";
import { validate } from "./validate";

const kindPolicy = z.object({
  maxLifetimeDays: z
    .number()
    .int()
    .min(1)
    .max(MAX_LIFETIME_DAYS, `at most ${MAX_LIFETIME_DAYS} (the instance's limit)`)
    .nullable(),
  expiryRequired: z.boolean(),
});
const MAX_ALLOWED_SETS = 50;

const policiesBody = z.object({
  lifetime: z.object({ org: kindPolicy, group: kindPolicy, personal: kindPolicy }),
  personalPermissionSets: z.array(z.string().min(1).max(100)).max(MAX_ALLOWED_SETS).nullable(),
  expiryNoticeDays: z
    .array(z.number().int().min(1).max(NOTICE_MAX_DAYS, `at most ${NOTICE_MAX_DAYS} days`))
    .max(NOTICE_MAX_COUNT, `at most ${NOTICE_MAX_COUNT} lead times`),
});

/** The policies with the instance's fixed numbers a client shows beside them. */
function policiesView(policies: OrgPolicies, env: Pick<Env, "PURGE_UNUSED_AFTER_DAYS">) {
  return {
    ...policies,
    instance: {
      maxLifetimeDays: MAX_LIFETIME_DAYS,
      purgeUnusedAfterDays: purgeUnusedAfterDays(env),
      purgeWarningDays: PURGE_WARNING_DAYS,
    },
  };
}

/** `/api/orgs/:org/policies`: read by every member (the create dialog shows them), changed by admins with sudo. */
export const policyRoutes = new Hono<AppEnv>()
  .get("/:org/policies", orgAccess("member", "none"), async (c) =>
    c.json(policiesView(await readPolicies(dbOf(c), c.get("org").id), c.env)),
  )
  .put(
    "/:org/policies",
    orgAccess("admin", "manage:settings"),
    requireSudo,
    validate("json", policiesBody),
    async (c) => {
      const saved = await savePolicies(storeEnvOf(c), c.get("org").id, c.req.valid("json"), actorOf(c), nowOf(c));
      return c.json({ ...policiesView(saved.policies, c.env), tokensMoved: saved.tokensMoved });
    },
  );

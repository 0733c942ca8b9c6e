import { z } from "zod";
import { ORG_ROLES } from "../auth/access";
import { MANAGEMENT_CODES, VERIFY_CODES } from "../errors";
import type { OrgView } from "../orgs/orgs";
import type { HEALTH_OK, HEALTH_UNAVAILABLE } from "../routes/health";
import type { VerifiedToken } from "../verify/core";
import type { VerifyFailureBody, VerifySuccessBody } from "../verify/envelope";
import { WEBHOOK_EVENT_TYPES } from "../webhooks/events";
import type { DeliveryView } from "../webhooks/outbox";
import type { WebhookSubscription } from "../webhooks/subscriptions";

// Answer shapes for /api/openapi.json. The TypeScript types the code returns stay the source: each
// schema here is held equal to its type at compile time (`Same` below), so the two cannot drift.

type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const same = <_ extends true>() => undefined;

const codes = <T extends Record<string, unknown>>(list: T) => z.enum(Object.keys(list) as [keyof T & string]);

/** docs/API.md "Rules every route follows": every `/api` error. */
export const managementError = z
  .object({
    error: z.object({
      code: codes(MANAGEMENT_CODES),
      message: z.string(),
      details: z.unknown().optional().describe("validation_failed: `{fields: {path: message}}`"),
    }),
  })
  .meta({ id: "ManagementError" });

const verifiedToken = z
  .object({
    id: z.string(),
    kind: z.enum(["org", "group", "personal"]),
    name: z.string(),
    org: z.object({ id: z.string(), slug: z.string() }),
    group: z.object({ id: z.string(), slug: z.string() }).nullable(),
    user: z.object({ id: z.string() }).nullable(),
    projects: z.union([z.literal("*"), z.array(z.string())]),
    permissions: z.array(z.string()),
    admin: z.boolean(),
    expiresAt: z.string().nullable(),
    status: z.enum(["active", "expiring"]),
    rotation: z
      .object({ oldSecret: z.literal(true), until: z.string() })
      .optional()
      .describe("Only when the request used the token's replaced secret during its grace period"),
  })
  .meta({ id: "VerifiedToken" });
same<Same<z.infer<typeof verifiedToken>, VerifiedToken>>();

export const verifySuccess = z
  .object({ result: z.literal(0), valid: z.literal(true), token: verifiedToken })
  .meta({ id: "VerifySuccess" });
same<Same<z.infer<typeof verifySuccess>, VerifySuccessBody>>();

/** docs/DESIGN.md §3: the verify surface's one failure envelope, `result` 1 to 14. */
export const verifyFailure = z
  .object({ result: z.number().int(), valid: z.literal(false), error: codes(VERIFY_CODES), message: z.string() })
  .meta({ id: "VerifyFailure" });
same<Same<z.infer<typeof verifyFailure>, VerifyFailureBody>>();

/** RFC 6749 §5.2, as the OAuth endpoints answer errors. */
export const oauthError = z
  .object({ error: z.string(), error_description: z.string().optional() })
  .meta({ id: "OAuthError" });

/** RFC 7662 §2.2: `active`, and the token's claims when it is active. */
export const introspection = z.looseObject({ active: z.boolean() }).meta({ id: "Introspection" });

const orgView = z
  .object({
    id: z.string(),
    slug: z.string(),
    name: z.string(),
    webhook: z.object({ url: z.string(), hasSecret: z.boolean() }).nullable().optional(),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .meta({ id: "Organization" });
same<Same<z.infer<typeof orgView>, OrgView>>();

export const orgPage = z
  .object({ items: z.array(orgView), next: z.string().nullable() })
  .meta({ id: "OrganizationPage" });

export const orgWithRole = z.object({ ...orgView.shape, role: z.enum(ORG_ROLES) }).meta({ id: "OrganizationWithRole" });

export const webhookSubscription = z
  .object({ events: z.array(z.enum(WEBHOOK_EVENT_TYPES)), available: z.array(z.enum(WEBHOOK_EVENT_TYPES)) })
  .meta({ id: "WebhookSubscription" });
same<Same<z.infer<typeof webhookSubscription>, WebhookSubscription>>();

export const webhookDelivery = z
  .object({
    id: z.string(),
    type: z.string(),
    createdAt: z.string(),
    state: z.enum(["pending", "retrying", "delivered", "failed"]),
    attempts: z.number(),
    lastAttemptAt: z.string().nullable(),
    nextAttemptAt: z.string().nullable(),
    status: z.number().nullable(),
    error: z.string().nullable(),
  })
  .meta({ id: "WebhookDelivery" });
same<Same<z.infer<typeof webhookDelivery>, DeliveryView>>();

export const webhookDeliveryPage = z
  .object({ items: z.array(webhookDelivery), next: z.null() })
  .meta({ id: "WebhookDeliveryPage" });

/** `GET /healthz`: both stores answered, or one did not (which one, and why, goes to the log only). */
export const healthOk = z.object({ status: z.literal("ok") });
same<Same<z.infer<typeof healthOk>, typeof HEALTH_OK>>();

export const healthUnavailable = z.object({ status: z.literal("unavailable") });
same<Same<z.infer<typeof healthUnavailable>, typeof HEALTH_UNAVAILABLE>>();

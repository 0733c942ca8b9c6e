import { z } from "zod";
import { HEALTH_STORE_DEADLINE_MS } from "../limits";
import { verifyBody } from "../routes/verify";
import type { DocumentedInput } from "./input";
import {
  healthOk,
  healthUnavailable,
  introspection,
  orgPage,
  orgWithRole,
  verifySuccess,
  webhookDelivery,
  webhookDeliveryPage,
  webhookSubscription,
} from "./responses";

/** One documented answer: what it means and, when documented, its body. */
export interface ResponseDoc {
  description: string;
  schema?: z.ZodType;
}

/** What the document says of one route beyond what its path and validators tell. */
export interface OperationDoc {
  summary: string;
  /** The success status and, when documented, its body. */
  ok?: { status: 200 | 201 | 202 | 204; schema?: z.ZodType; description?: string };
  /** A route with failures of its own, in place of its surface's 4XX/5XX error envelopes. */
  failures?: Record<number, ResponseDoc>;
  /** Headers every answer of the route carries. */
  headers?: Record<string, ResponseDoc & { schema: z.ZodType }>;
  /** Inputs a route reads without `validate()` (verify and OAuth parse their own). */
  inputs?: DocumentedInput[];
}

const HEALTH_S = HEALTH_STORE_DEADLINE_MS / 1000;
const noStore = { "Cache-Control": { description: "Never cached", schema: z.literal("no-store") } };

/**
 * The routes worth more than the default entry, one line each, keyed `METHOD path` as Hono spells
 * the path. Every route in the app is in the document whether it is here or not (worker/openapi/document.ts).
 */
// /v1/verify reads its query by hand (worker/routes/verify.ts); this is that reading, as a schema.
const verifyQuery = z.object({
  permission: z
    .union([z.string(), z.array(z.string())])
    .optional()
    .describe("Every one must be held; repeatable"),
  project: z.string().optional().describe("A project key the token must cover"),
});

// The OAuth endpoints read their form by hand (worker/routes/oauth.ts): RFC 7662 §2.1 and RFC 7009 §2.1,
// with RFC 6749 §2.3.1's client_secret_post fields.
const oauthForm = z.object({
  token: z.string().describe("The token asked about"),
  token_type_hint: z.string().optional().describe("Accepted and ignored"),
  client_id: z.string().optional().describe("client_secret_post: the calling token's id"),
  client_secret: z.string().optional().describe("client_secret_post: the calling token"),
});

export const OPERATIONS: Record<string, OperationDoc> = {
  "GET /v1/verify": {
    summary: "Verify a token",
    ok: { status: 200, schema: verifySuccess },
    inputs: [{ target: "query", schema: verifyQuery }],
  },
  "POST /v1/verify": {
    summary: "Verify a token",
    ok: { status: 200, schema: verifySuccess },
    inputs: [
      { target: "query", schema: verifyQuery },
      { target: "json", schema: verifyBody, optional: true },
    ],
  },
  "POST /oauth/introspect": {
    summary: "Token introspection (RFC 7662)",
    ok: { status: 200, schema: introspection },
    inputs: [{ target: "form", schema: oauthForm }],
  },
  "POST /oauth/revoke": {
    summary: "Token revocation (RFC 7009)",
    ok: { status: 200 },
    inputs: [{ target: "form", schema: oauthForm }],
  },
  "GET /.well-known/oauth-authorization-server": {
    summary: "Authorization server metadata (RFC 8414)",
    ok: { status: 200 },
  },
  "GET /healthz": {
    summary: "Health check: whether D1 and KV answer",
    ok: { status: 200, schema: healthOk, description: `D1 and KV both answered a trivial read within ${HEALTH_S} s` },
    failures: {
      503: {
        description: `D1 or KV failed or was slower than ${HEALTH_S} s (which one goes to the log only)`,
        schema: healthUnavailable,
      },
    },
    headers: noStore,
  },
  "GET /api/openapi.json": { summary: "This document" },
  "GET /api/orgs": { summary: "The organizations the caller can see", ok: { status: 200, schema: orgPage } },
  "POST /api/orgs": { summary: "Create an organization", ok: { status: 201 } },
  "GET /api/orgs/:org": { summary: "One organization and the caller's role", ok: { status: 200, schema: orgWithRole } },
  "PATCH /api/orgs/:org": { summary: "Rename, or set the webhook" },
  "GET /api/orgs/:org/overview": { summary: "The organization's tokens at a glance" },
  "GET /api/orgs/:org/tokens/:id/usage": { summary: "A token's verifications per day and its last addresses" },
  "GET /api/me/tokens/:id/usage": { summary: "Your token's verifications per day and its last addresses" },
  "GET /api/orgs/:org/webhook/events": {
    summary: "The event types the webhook receives",
    ok: { status: 200, schema: webhookSubscription },
  },
  "PUT /api/orgs/:org/webhook/events": {
    summary: "Choose the event types the webhook receives",
    ok: { status: 200, schema: webhookSubscription },
  },
  "GET /api/orgs/:org/webhook/deliveries": {
    summary: "The webhook's newest 50 deliveries",
    ok: { status: 200, schema: webhookDeliveryPage },
  },
  "POST /api/orgs/:org/webhook/deliveries/:id/redeliver": {
    summary: "Send a delivery again, under the same webhook-id",
    ok: { status: 200, schema: webhookDelivery },
  },
};

import { exports } from "cloudflare:workers";
import createClient from "openapi-fetch";
import { describe, expect, it } from "vitest";
import committed from "../docs/openapi.json?raw";
import { routeTable } from "../worker/index";
import type { paths } from "./generated/openapi";
import { makeOrg, makeToken } from "./support/fixtures";

// /api/openapi.json is built from the app's routes and the zod schemas their validators check; the
// build commits it as docs/openapi.json and its openapi-typescript types as test/generated/openapi.d.ts
// (scripts/openapi.mjs, which also validates it with @apidevtools/swagger-parser). Here: the committed
// document is the served one, it covers every route, and a client generated from it works.

const ORIGIN = "https://tessera.test";
const served = async () => {
  const res = await exports.default.fetch(`${ORIGIN}/api/openapi.json`);
  return { res, body: (await res.json()) as { openapi: string; paths: Record<string, Record<string, any>> } };
};

describe("the OpenAPI document", () => {
  it("is served without authentication, and docs/openapi.json is the same document (else: npm run build)", async () => {
    const { res, body } = await served();
    expect(res.status).toBe(200);
    expect(res.headers.get("Content-Type")).toMatch(/^application\/json/);
    expect(body.openapi).toBe("3.1.0");
    expect(body).toEqual(JSON.parse(committed));
  });

  it("documents every route of the management API, verify and OAuth, with the schemas its validators check", async () => {
    const { body } = await served();
    const documented = new Set(
      Object.entries(body.paths).flatMap(([path, ops]) =>
        Object.keys(ops).map((m) => `${m.toUpperCase()} ${path.replace(/\{(\w+)\}/g, ":$1")}`),
      ),
    );
    const routes = routeTable
      .filter((r) => r.method !== "ALL" && /^\/((api|v1|oauth|\.well-known)\/|healthz$)/.test(r.path))
      .map((r) => `${r.method} ${r.path.replace(/\{[^}]*\}/g, "")}`);
    expect(routes.length).toBeGreaterThan(40);
    expect(routes.filter((r) => !documented.has(r))).toEqual([]);

    // From the route's own zod schema (worker/routes/api/orgs.ts): the webhook's fields and the name's limits.
    const patch = body.paths["/api/orgs/{org}"]!.patch;
    const schema = patch.requestBody.content["application/json"].schema;
    expect(schema.properties.name).toMatchObject({ type: "string", minLength: 1, maxLength: 100 });
    expect(schema.properties.webhook.anyOf[0].required).toEqual(["url"]);
    expect(patch.responses["4XX"].content["application/json"].schema).toEqual({
      $ref: "#/components/schemas/ManagementError",
    });
    // A query schema becomes parameters; public routes need no credentials.
    const audit = body.paths["/api/orgs/{org}/audit"]!.get;
    expect(audit.parameters.map((p: { name: string; in: string }) => `${p.in}:${p.name}`)).toContain("query:action");
    expect(body.paths["/api/setup"]!.post.security).toEqual([]);
    expect(body.paths["/api/orgs"]!.get.security).toBeUndefined();
  });

  it("drives a client generated from it (openapi-typescript types, openapi-fetch) through three routes", async () => {
    const org = await makeOrg();
    const { token, secret } = await makeToken(org, { admin: true });
    const client = createClient<paths>({
      baseUrl: ORIGIN,
      fetch: (request) => exports.default.fetch(request),
      headers: { Authorization: `Bearer ${secret}` },
    });

    const verified = await client.GET("/v1/verify", { params: { query: { project: org.projectKeys.alpha } } });
    expect(verified.response.status).toBe(200);
    expect(verified.data?.token.id).toBe(token.id);

    const listed = await client.GET("/api/orgs", { params: { query: { limit: 10 } } });
    expect(listed.data?.items.map((o) => o.slug)).toEqual([org.orgSlug]);

    const one = await client.GET("/api/orgs/{org}", { params: { path: { org: org.orgSlug } } });
    expect(one.data).toMatchObject({ slug: org.orgSlug, role: expect.any(String) });

    // Refusals come back typed as the error envelope.
    const missing = await client.GET("/api/orgs/{org}", { params: { path: { org: "no-such-org" } } });
    expect(missing.response.status).toBe(404);
    expect(missing.error?.error.code).toBe("not_found");
  });

  it("documents GET /healthz as the route answers: public, 200 ok or 503 unavailable, never cached, no other envelope", async () => {
    const { body } = await served();
    const health = body.paths["/healthz"]?.get;
    expect(health).toBeDefined();
    expect(health.security).toEqual([]);
    expect(Object.keys(health.responses).sort()).toEqual(["200", "503"]);
    const bodyOf = (status: string) => health.responses[status].content["application/json"].schema;
    expect(bodyOf("200")).toMatchObject({
      type: "object",
      required: ["status"],
      properties: { status: { const: "ok" } },
    });
    expect(bodyOf("503")).toMatchObject({
      type: "object",
      required: ["status"],
      properties: { status: { const: "unavailable" } },
    });
    for (const status of ["200", "503"]) {
      expect(health.responses[status].headers["Cache-Control"].schema).toEqual({ type: "string", const: "no-store" });
    }

    // What the route answers is what the document says (the 503 itself: test/healthz.test.ts).
    const client = createClient<paths>({ baseUrl: ORIGIN, fetch: (request) => exports.default.fetch(request) });
    const answered = await client.GET("/healthz");
    expect(answered.response.status).toBe(200);
    expect(answered.response.headers.get("Cache-Control")).toBe("no-store");
    expect(answered.data).toEqual({ status: "ok" });
  });
});

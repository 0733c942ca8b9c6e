import { env, exports } from "cloudflare:workers";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { database } from "../worker/db/client";
import { projects } from "../worker/db/schema";
import { primarySession } from "../worker/db/session";
import { type UpstreamEntry, upstreamKvKey } from "../worker/gateway/upstream-cache";
import { docExample } from "./support/doc-examples";
import { makeOrg, makeToken, type OrgFixture } from "./support/fixtures";

// The management API for gateway upstreams, driven with admin tokens as automation would, and the
// gateway seeing each change. Upstream requests go to the auxiliary Worker as in test/gateway.test.ts.

const TESSERA = "https://tessera.test";
const UPSTREAM = "https://upstream.test";
// The origin docs/INTEGRATION.md uses; served by the same auxiliary Worker.
const DOC_ORIGIN = "https://api.example.com";
const realFetch = globalThis.fetch;

beforeAll(() => {
  vi.spyOn(globalThis, "fetch").mockImplementation((input: RequestInfo | URL, init?: RequestInit) => {
    const request = input instanceof Request && init === undefined ? input : new Request(input, init);
    const origin = new URL(request.url).origin;
    return origin === UPSTREAM || origin === DOC_ORIGIN ? env.GATEWAY_UPSTREAM.fetch(request) : realFetch(input, init);
  });
});
afterAll(() => vi.restoreAllMocks());

interface ApiError {
  error: { code: string; message: string; details?: { fields?: Record<string, string> } };
}

// What other locations read (through KV) once the change has propagated.
const inKv = (name: string) => env.TOKEN_CACHE.get<UpstreamEntry>(upstreamKvKey(name), "json");

function api(method: string, path: string, token: string, body?: unknown): Promise<Response> {
  return exports.default.fetch(`${TESSERA}/api${path}`, {
    method,
    headers: { Authorization: `Bearer ${token}`, ...(body !== undefined && { "Content-Type": "application/json" }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

const upstream = (name: string) => ({
  name,
  origin: `${UPSTREAM}/v2`,
  rules: [
    { method: "get", pathPrefix: "/", permission: "project:browse" },
    { method: "POST", pathPrefix: "/analyses", permission: "analysis:execute" },
  ],
});

let org: OrgFixture;
let other: OrgFixture;
let admin: string;
let otherAdmin: string;
let plain: string;

beforeAll(async () => {
  org = await makeOrg();
  other = await makeOrg();
  admin = (await makeToken(org, { admin: true, permissions: ["manage:upstreams"] })).secret;
  otherAdmin = (await makeToken(other, { admin: true, permissions: ["manage:upstreams"] })).secret;
  plain = (await makeToken(org, { permissions: ["project:browse"] })).secret;
});

describe("upstreams through the management API", () => {
  it("creates, lists, reads, edits and deletes an upstream, and the gateway follows each step", async () => {
    const created = await api("POST", `/orgs/${org.orgSlug}/upstreams`, admin, upstream("quality"));
    expect(created.status).toBe(201);
    expect(await created.json()).toMatchObject({
      name: "quality",
      origin: `${UPSTREAM}/v2`,
      rules: [{ method: "GET", pathPrefix: "/", permission: "project:browse" }, { method: "POST" }],
      projectFromPath: false,
    });
    const audit = await env.DB.prepare(
      "SELECT actor_type FROM audit_events WHERE org_id = ? AND action = 'upstream.created'",
    )
      .bind(org.orgId)
      .first();
    expect(audit).toEqual({ actor_type: "token" });
    expect(await inKv("quality")).toMatchObject({
      upstream: { name: "quality", orgId: org.orgId, origin: `${UPSTREAM}/v2` },
    });

    const list = await (await api("GET", `/orgs/${org.orgSlug}/upstreams`, admin)).json<{
      items: { name: string }[];
      next: null;
    }>();
    expect(list).toMatchObject({ items: [{ name: "quality" }], next: null });
    expect((await api("GET", `/orgs/${org.orgSlug}/upstreams/quality`, admin)).status).toBe(200);

    const through = await exports.default.fetch(`${TESSERA}/gw/quality/projects?x=1`, {
      headers: { "X-Api-Key": plain },
    });
    expect(through.status).toBe(200);
    expect((await through.json<{ url: string }>()).url).toBe(`${UPSTREAM}/v2/projects?x=1`);

    const edited = await api("PATCH", `/orgs/${org.orgSlug}/upstreams/quality`, admin, {
      rules: [{ method: "*", pathPrefix: "/", permission: "analysis:execute" }],
    });
    expect(edited.status).toBe(200);
    expect((await inKv("quality"))?.upstream?.rules).toEqual([
      { method: "*", pathPrefix: "/", permission: "analysis:execute" },
    ]);
    expect(
      (await exports.default.fetch(`${TESSERA}/gw/quality/projects`, { headers: { "X-Api-Key": plain } })).status,
    ).toBe(403);

    expect((await api("DELETE", `/orgs/${org.orgSlug}/upstreams/quality`, admin)).status).toBe(204);
    // Overwritten with a tombstone, not merely deleted: no location falls back to an older copy.
    expect(await inKv("quality")).toMatchObject({ upstream: null });
    expect((await api("GET", `/orgs/${org.orgSlug}/upstreams/quality`, admin)).status).toBe(404);
    // A deleted name answers as any name that is not this organization's upstream (issue 11 item 11).
    expect(
      (await exports.default.fetch(`${TESSERA}/gw/quality/projects`, { headers: { "X-Api-Key": plain } })).status,
    ).toBe(403);
  });

  it("keeps names unique across the instance", async () => {
    expect((await api("POST", `/orgs/${org.orgSlug}/upstreams`, admin, upstream("billing"))).status).toBe(201);
    const taken = await api("POST", `/orgs/${other.orgSlug}/upstreams`, otherAdmin, upstream("billing"));
    expect(taken.status).toBe(409);
    expect(await taken.json<ApiError>()).toMatchObject({ error: { code: "conflict" } });
  });

  it("shows and lets change an upstream only to its own organization's admins", async () => {
    expect((await api("POST", `/orgs/${org.orgSlug}/upstreams`, admin, upstream("private-api"))).status).toBe(201);
    // Another organization's admin: not through our slug, and not through theirs.
    for (const [method, body] of [["GET"], ["PATCH", { projectFromPath: true }], ["DELETE"]] as const) {
      expect((await api(method, `/orgs/${org.orgSlug}/upstreams/private-api`, otherAdmin, body)).status).toBe(404);
      expect((await api(method, `/orgs/${other.orgSlug}/upstreams/private-api`, otherAdmin, body)).status).toBe(404);
    }
    const theirs = await (await api("GET", `/orgs/${other.orgSlug}/upstreams`, otherAdmin)).json<{
      items: { name: string }[];
    }>();
    expect(theirs.items.map((u) => u.name)).not.toContain("private-api");
    // A token without the admin role cannot use the management API at all.
    expect((await api("GET", `/orgs/${org.orgSlug}/upstreams`, plain)).status).toBe(403);
    expect((await api("GET", `/orgs/${org.orgSlug}/upstreams/private-api`, admin)).status).toBe(200);
  });

  it("refuses bad input with 422 and names the field", async () => {
    const cases: [unknown, string][] = [
      [{ ...upstream("plain-http"), origin: "http://api.example.com" }, "origin"],
      [{ ...upstream("with-query"), origin: "https://api.example.com/?a=1" }, "origin"],
      [{ ...upstream("with-creds"), origin: "https://user:pw@api.example.com" }, "origin"],
      [{ ...upstream("metadata"), origin: "https://169.254.169.254" }, "origin"],
      [{ ...upstream("private-v4"), origin: "https://192.168.1.10/api" }, "origin"],
      [{ ...upstream("private-v6"), origin: "https://[fd12::1]" }, "origin"],
      [{ ...upstream("hex-spelled"), origin: "https://0x7f.1" }, "origin"],
      [{ ...upstream("no-rules"), rules: [] }, "rules"],
      [
        { ...upstream("bad-method"), rules: [{ method: "BREW", pathPrefix: "/", permission: "project:browse" }] },
        "rules.0.method",
      ],
      [
        { ...upstream("bad-prefix"), rules: [{ method: "GET", pathPrefix: "projects", permission: "project:browse" }] },
        "rules.0.pathPrefix",
      ],
      [{ ...upstream("Bad_Name") }, "name"],
      [
        { ...upstream("no-such-permission"), rules: [{ method: "GET", pathPrefix: "/", permission: "coffee:brew" }] },
        "rules",
      ],
      [
        {
          ...upstream("twice"),
          rules: [
            { method: "GET", pathPrefix: "/a", permission: "project:browse" },
            { method: "get", pathPrefix: "/a", permission: "analysis:read" },
          ],
        },
        "rules",
      ],
    ];
    for (const [body, field] of cases) {
      const res = await api("POST", `/orgs/${org.orgSlug}/upstreams`, admin, body);
      expect(res.status, field).toBe(422);
      const { error } = await res.json<ApiError>();
      expect(error.code).toBe("validation_failed");
      expect(Object.keys(error.details?.fields ?? {}), JSON.stringify(error)).toContain(field);
    }
  });

  it("runs the documented example as written (docs/INTEGRATION.md, Gateway)", async () => {
    const now = Date.now();
    await database(primarySession(env.DB)).insert(projects).values({
      id: crypto.randomUUID(),
      orgId: org.orgId,
      groupId: null,
      key: "web",
      name: "Web",
      createdAt: now,
      updatedAt: now,
    });
    const created = await api("POST", `/orgs/${org.orgSlug}/upstreams`, admin, JSON.parse(docExample("upstream")));
    expect(created.status).toBe(201);

    const reader = (await makeToken(org, { projects: ["web"], permissions: ["analysis:read"] })).secret;
    const res = await exports.default.fetch(`${TESSERA}/gw/sonar/web/analyses?page=2`, {
      headers: { Authorization: `Bearer ${reader}` },
    });
    expect(res.status).toBe(200);
    expect((await res.json<{ method: string; url: string }>()).url).toBe(`${DOC_ORIGIN}/v2/web/analyses?page=2`);
    // The same token may not start an analysis there, nor reach another project.
    expect(
      (
        await exports.default.fetch(`${TESSERA}/gw/sonar/web/analyses`, {
          method: "POST",
          headers: { Authorization: `Bearer ${reader}` },
        })
      ).status,
    ).toBe(403);
    expect(
      (
        await exports.default.fetch(`${TESSERA}/gw/sonar/${org.projectKeys.alpha}/analyses`, {
          headers: { Authorization: `Bearer ${reader}` },
        })
      ).status,
    ).toBe(403);
  });
});

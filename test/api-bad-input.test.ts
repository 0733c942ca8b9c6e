import { env } from "cloudflare:workers";
import { beforeAll, beforeEach, describe, expect, it } from "vitest";
import { api, confirm, OWNER, setupOwner } from "./support/api-client";
import { addPerson } from "./support/people";
import { webhookSecret } from "./support/webhooks";

// Bad input on every route with a body or a query: always a 4xx in the one envelope, never a 500.

let cookie: string;
const ids = { group: "", project: "", member: "", token: "", personal: "", set: "" };

type Route = readonly [method: string, path: string];

function bodyRoutes(): Route[] {
  return [
    ["POST", "/api/setup"],
    ["POST", "/api/session"],
    ["POST", "/api/session/confirm"],
    ["POST", "/api/me/password"],
    ["POST", "/api/orgs"],
    ["PATCH", "/api/orgs/acme"],
    ["POST", "/api/orgs/acme/groups"],
    ["PATCH", `/api/orgs/acme/groups/${ids.group}`],
    ["POST", "/api/orgs/acme/projects"],
    ["PATCH", `/api/orgs/acme/projects/${ids.project}`],
    ["POST", "/api/orgs/acme/members"],
    ["PATCH", `/api/orgs/acme/members/${ids.member}`],
    ["POST", "/api/orgs/acme/tokens"],
    ["POST", "/api/orgs/acme/tokens/revoke"],
    ["PATCH", `/api/orgs/acme/tokens/${ids.token}`],
    ["POST", `/api/orgs/acme/tokens/${ids.token}/copy`],
    ["POST", "/api/me/tokens"],
    ["POST", "/api/me/tokens/revoke"],
    ["PATCH", `/api/me/tokens/${ids.personal}`],
    ["POST", `/api/me/tokens/${ids.personal}/copy`],
    ["POST", "/api/permissions"],
    ["PATCH", "/api/permissions/analysis:read"],
    ["POST", "/api/permission-sets"],
    ["PATCH", `/api/permission-sets/${ids.set}`],
  ];
}

const copyRoute = (path: string) => path.endsWith("/copy");

function expectEnvelope(res: { status: number; body: any }, what: string) {
  expect(res.status, what).toBeGreaterThanOrEqual(400);
  expect(res.status, what).toBeLessThan(500);
  expect(res.body, what).toEqual({
    error: {
      code: expect.any(String),
      message: expect.any(String),
      ...(res.body?.error?.details ? { details: expect.anything() } : {}),
    },
  });
}

const tokenCount = async () => (await env.DB.prepare("SELECT count(*) AS n FROM tokens").first<{ n: number }>())!.n;

beforeAll(async () => {
  cookie = (await setupOwner({ slug: "acme", name: "Acme" })).cookie;
  await confirm(cookie, OWNER.password);
  ids.group = (
    await api("POST", "/api/orgs/acme/groups", { cookie, body: { slug: "backend", name: "Backend" } })
  ).body.id;
  ids.project = (await api("POST", "/api/orgs/acme/projects", { cookie, body: { key: "api", name: "API" } })).body.id;
  ids.member = (
    await addPerson({ cookie }, "acme", { email: "dev@example.com", role: "org_member", password: "dev password 1234" })
  ).id;
  const body = { kind: "org", name: "CI", expiresAt: null, projects: ["api"], permissions: ["analysis:execute"] };
  ids.token = (await api("POST", "/api/orgs/acme/tokens", { cookie, body })).body.token.id;
  ids.personal = (
    await api("POST", "/api/me/tokens", { cookie, body: { ...body, kind: undefined, org: "acme" } })
  ).body.token.id;
  ids.set = (
    await api("POST", "/api/permission-sets", { cookie, body: { name: "Mine", permissions: ["analysis:read"] } })
  ).body.id;
});

beforeEach(async () => {
  // Each check below must meet validation, not the sudo guard.
  await confirm(cookie, OWNER.password);
});

describe("every route with a body", () => {
  it("answers missing fields with 422 and the fields named", async () => {
    for (const [method, path] of bodyRoutes()) {
      if (copyRoute(path)) continue; // a copy needs nothing: every field is an override
      const res = await api(method, path, { cookie, body: {} });
      expectEnvelope(res, `${method} ${path}`);
      expect(res.status, `${method} ${path}`).toBe(422);
      expect(res.body.error.code).toBe("validation_failed");
      expect(Object.keys(res.body.error.details.fields).length, `${method} ${path}`).toBeGreaterThan(0);
    }
  });

  it("answers bodies of the wrong type with 422", async () => {
    for (const [method, path] of bodyRoutes()) {
      for (const raw of [
        "[]",
        "42",
        '"text"',
        "null",
        "true",
        '{"name": 12, "email": [], "projects": "all", "ids": "x", "permissions": {}}',
      ]) {
        const res = await api(method, path, { cookie, rawBody: raw });
        if (copyRoute(path) && raw.startsWith("{")) continue; // unknown fields of a copy are ignored, the wrong-typed name is not:
        expectEnvelope(res, `${method} ${path} ${raw}`);
        expect(res.status, `${method} ${path} ${raw}`).toBe(422);
      }
    }
    const copy = await api("POST", `/api/orgs/acme/tokens/${ids.token}/copy`, { cookie, body: { name: 12 } });
    expect(copy.status).toBe(422);
  });

  it("answers malformed JSON with 422", async () => {
    for (const [method, path] of bodyRoutes()) {
      const broken = await api(method, path, { cookie, rawBody: '{"name": "x",' });
      expectEnvelope(broken, `${method} ${path}`);
      expect(broken.status).toBe(422);
    }
  });

  it("answers 415 unsupported_media_type on every JSON route without Content-Type: application/json", async () => {
    const before = await tokenCount();
    for (const [method, path] of bodyRoutes()) {
      for (const headers of [
        { "content-type": "text/plain" },
        { "content-type": "application/x-www-form-urlencoded" },
      ]) {
        // A copy's fields are all optional: read as {}, such a body used to make a copy nobody asked for.
        const text = await api(method, path, { cookie, rawBody: '{"name":"x"}', headers });
        expectEnvelope(text, `${method} ${path}`);
        expect(text.status, `${method} ${path}`).toBe(415);
        expect(text.body.error.code).toBe("unsupported_media_type");
        expect(text.body.error.message).toMatch(/Content-Type: application\/json/);
      }
    }
    expect(await tokenCount()).toBe(before);
    const charset = await api("POST", bodyRoutes()[1]![1], {
      rawBody: "{}",
      headers: { "content-type": "application/json; charset=utf-8" },
    });
    expect(charset.status).not.toBe(415);
    // No body at all is no media type to refuse: a bodiless copy is documented (test/api-tokens.test.ts).
    const bodiless = await api("POST", `/api/orgs/acme/tokens/${ids.token}/copy`, { cookie });
    expect(bodiless.status).toBe(201);
  });

  it("answers a 1 MB body with 413 payload_too_large before reading it", async () => {
    const huge = JSON.stringify({ name: "x".repeat(1024 * 1024) });
    const before = await tokenCount();
    for (const [method, path] of bodyRoutes()) {
      const res = await api(method, path, { cookie, rawBody: huge });
      expectEnvelope(res, `${method} ${path}`);
      expect(res.status, `${method} ${path}`).toBe(413);
      expect(res.body.error.code).toBe("payload_too_large");
    }
    expect(await tokenCount()).toBe(before);
  });
});

describe("field rules", () => {
  const token = (over: Record<string, unknown>) => ({
    kind: "org",
    name: "t",
    expiresAt: null,
    projects: ["api"],
    permissions: ["analysis:execute"],
    ...over,
  });

  it("refuses names of 101 characters everywhere a name is set", async () => {
    const long = "n".repeat(101);
    for (const [path, body] of [
      ["/api/orgs/acme/tokens", token({ name: long })],
      ["/api/me/tokens", { ...token({ name: long }), kind: undefined, org: "acme" }],
      ["/api/orgs/acme/groups", { slug: "long", name: long }],
      ["/api/orgs/acme/projects", { key: "long", name: long }],
      ["/api/orgs", { slug: "long", name: long }],
      ["/api/permission-sets", { name: long, permissions: ["analysis:read"] }],
    ] as const) {
      const res = await api("POST", path, { cookie, body });
      expect(res.status, path).toBe(422);
      expect(res.body.error.details.fields.name, path).toMatch(/100/);
    }
    expect((await api("PATCH", `/api/orgs/acme/tokens/${ids.token}`, { cookie, body: { name: long } })).status).toBe(
      422,
    );
    const exactly100 = await api("POST", "/api/orgs/acme/tokens", { cookie, body: token({ name: "n".repeat(100) }) });
    expect(exactly100.status).toBe(201);
  });

  it("stores HTML in names as text and returns it as text", async () => {
    const html = `<img src=x onerror=alert(1)><script>alert("x")</script>&amp;`;
    const made = await api("POST", "/api/orgs/acme/tokens", {
      cookie,
      body: token({ name: html, description: `<b>${html}</b>` }),
    });
    expect(made.status).toBe(201);
    expect(made.headers.get("content-type")).toMatch(/^application\/json/);
    expect(made.body.token.name).toBe(html);
    const read = await api("GET", `/api/orgs/acme/tokens/${made.body.token.id}`, { cookie });
    expect(read.body.name).toBe(html);
    expect(read.body.description).toBe(`<b>${html}</b>`);
    const row = await env.DB.prepare("SELECT name FROM tokens WHERE id = ?")
      .bind(made.body.token.id)
      .first<{ name: string }>();
    expect(row!.name).toBe(html);
    const group = await api("POST", "/api/orgs/acme/groups", { cookie, body: { slug: "html", name: html } });
    expect(group.body.name).toBe(html);
  });

  it("refuses control characters in names", async () => {
    expect((await api("POST", "/api/orgs/acme/tokens", { cookie, body: token({ name: "a\u0000b" }) })).status).toBe(
      422,
    );
    expect((await api("POST", "/api/orgs/acme/tokens", { cookie, body: token({ name: "line\nbreak" }) })).status).toBe(
      422,
    );
  });

  it("refuses bidi overrides, zero-width and other format or control characters in every name, naming the field", async () => {
    for (const [label, bad] of [
      ["U+202E", "evil\u202Egnp.exe"],
      ["U+200B", "ad\u200Bmin"],
      ["U+0007", "bell\u0007"],
    ] as const) {
      for (const [method, path, body] of [
        ["POST", "/api/orgs/acme/tokens", token({ name: bad })],
        ["POST", "/api/me/tokens", { ...token({ name: bad }), kind: undefined, org: "acme" }],
        ["PATCH", `/api/orgs/acme/tokens/${ids.token}`, { name: bad }],
        ["POST", `/api/orgs/acme/tokens/${ids.token}/copy`, { name: bad }],
        ["POST", "/api/orgs", { slug: "bidi", name: bad }],
        ["PATCH", "/api/orgs/acme", { name: bad }],
        ["POST", "/api/orgs/acme/groups", { slug: "bidi", name: bad }],
        ["PATCH", `/api/orgs/acme/groups/${ids.group}`, { name: bad }],
        ["POST", "/api/orgs/acme/projects", { key: "bidi", name: bad }],
        ["PATCH", `/api/orgs/acme/projects/${ids.project}`, { name: bad }],
        ["POST", "/api/permission-sets", { name: bad, permissions: ["analysis:read"] }],
      ] as const) {
        const res = await api(method, path, { cookie, body });
        expect(res.status, `${label} ${method} ${path}`).toBe(422);
        expect(res.body.error.details.fields.name, `${label} ${method} ${path}`).toMatch(
          /control or format characters/,
        );
      }
    }
  });

  it("keeps line breaks and tabs in descriptions but refuses format and other control characters", async () => {
    const fine = await api("POST", "/api/orgs/acme/tokens", {
      cookie,
      body: token({ description: "first line\n\tsecond line\r\n" }),
    });
    expect(fine.status).toBe(201);
    for (const bad of ["a\u202Eb", "a\u200Bb", "a\u2066b", "a\u0007b", "a\u007Fb"]) {
      const res = await api("POST", "/api/orgs/acme/tokens", { cookie, body: token({ description: bad }) });
      expect(res.status, JSON.stringify(bad)).toBe(422);
      expect(res.body.error.details.fields.description, JSON.stringify(bad)).toBeDefined();
      const set = await api("POST", "/api/permission-sets", {
        cookie,
        body: { name: "Described", description: bad, permissions: ["analysis:read"] },
      });
      expect(set.status, JSON.stringify(bad)).toBe(422);
    }
  });

  it("refuses unknown project keys and permissions, naming them", async () => {
    const before = await tokenCount();
    const projects = await api("POST", "/api/orgs/acme/tokens", {
      cookie,
      body: token({ projects: ["api", "ghost-project"] }),
    });
    expect(projects.status).toBe(422);
    expect(projects.body.error.details.fields.projects).toMatch(/ghost-project/);
    const personal = await api("POST", "/api/me/tokens", {
      cookie,
      body: { ...token({ projects: ["ghost"] }), kind: undefined, org: "acme" },
    });
    expect(personal.status).toBe(422);
    const edit = await api("PATCH", `/api/orgs/acme/tokens/${ids.token}`, { cookie, body: { projects: ["ghost"] } });
    expect(edit.status).toBe(422);
    const permissions = await api("POST", "/api/orgs/acme/tokens", {
      cookie,
      body: token({ permissions: ["ghost:read"] }),
    });
    expect(permissions.status).toBe(422);
    expect(permissions.body.error.details.fields.permissions).toMatch(/ghost:read/);
    const badKey = await api("POST", "/api/orgs/acme/tokens", { cookie, body: token({ projects: ["has space"] }) });
    expect(badKey.status).toBe(422);
    expect(await tokenCount()).toBe(before);
  });

  it("refuses bad dates: not ISO, or in the past", async () => {
    for (const expiresAt of [
      "tomorrow",
      "2027-13-45T00:00:00Z",
      1893456000000,
      new Date(Date.now() - 1000).toISOString(),
    ]) {
      const res = await api("POST", "/api/orgs/acme/tokens", { cookie, body: token({ expiresAt }) });
      expect(res.status, String(expiresAt)).toBe(422);
      expect(res.body.error.details.fields.expiresAt, String(expiresAt)).toBeDefined();
    }
  });

  it("refuses bad slugs, emails, roles and webhook URLs", async () => {
    expect(
      (await api("POST", "/api/orgs/acme/groups", { cookie, body: { slug: "Not A Slug", name: "x" } })).status,
    ).toBe(422);
    expect((await api("POST", "/api/orgs/acme/groups", { cookie, body: { slug: "-edge-", name: "x" } })).status).toBe(
      422,
    );
    expect(
      (await api("POST", "/api/orgs/acme/members", { cookie, body: { email: "not-an-email", role: "org_member" } }))
        .status,
    ).toBe(422);
    expect(
      (await api("POST", "/api/orgs/acme/members", { cookie, body: { email: "a@example.com", role: "king" } })).status,
    ).toBe(422);
    expect(
      (
        await api("PATCH", "/api/orgs/acme", {
          cookie,
          body: { webhook: { url: "javascript:alert(1)", secret: webhookSecret("bad input") } },
        })
      ).status,
    ).toBe(422);
    expect((await api("POST", "/api/orgs/acme/tokens/revoke", { cookie, body: { ids: [] } })).status).toBe(422);
    expect(
      (
        await api("POST", "/api/orgs/acme/tokens/revoke", {
          cookie,
          body: { ids: Array.from({ length: 101 }, (_, i) => `id-${i}`) },
        })
      ).status,
    ).toBe(422);
  });
});

describe("queries and addresses", () => {
  it("refuses bad paging parameters with 422", async () => {
    for (const path of [
      "/api/orgs/acme/tokens",
      "/api/orgs/acme/groups",
      "/api/orgs/acme/projects",
      "/api/orgs/acme/members",
      "/api/orgs/acme/audit",
      "/api/me/tokens",
      "/api/permissions",
      "/api/permission-sets",
      "/api/orgs",
      "/api/audit",
    ]) {
      for (const query of ["limit=0", "limit=1000", "limit=abc", "cursor=%25%25%25", `cursor=${"A".repeat(600)}`]) {
        const res = await api("GET", `${path}?${query}`, { cookie });
        expectEnvelope(res, `${path}?${query}`);
        expect(res.status, `${path}?${query}`).toBe(422);
      }
    }
  });

  it("answers unknown and absurd ids with 404", async () => {
    for (const id of ["does-not-exist", "x".repeat(5000), "%00", "'; DROP TABLE tokens; --"]) {
      for (const path of [
        `/api/orgs/acme/tokens/${encodeURIComponent(id)}`,
        `/api/orgs/acme/groups/${encodeURIComponent(id)}`,
        `/api/orgs/acme/projects/${encodeURIComponent(id)}`,
        `/api/orgs/acme/members/${encodeURIComponent(id)}`,
        `/api/me/tokens/${encodeURIComponent(id)}`,
        `/api/permission-sets/${encodeURIComponent(id)}`,
        `/api/orgs/${encodeURIComponent(id)}`,
      ]) {
        const res = await api("GET", path, { cookie });
        expectEnvelope(res, path.slice(0, 80));
        expect(res.status, path.slice(0, 80)).toBe(404);
      }
    }
    expect(await tokenCount()).toBeGreaterThan(0);
  });

  it("answers a method the route does not have with 404 in the envelope", async () => {
    const res = await api("PUT", "/api/orgs/acme/tokens", { cookie, body: {} });
    expectEnvelope(res, "PUT");
  });
});

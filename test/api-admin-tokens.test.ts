import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { api, confirm, OWNER, setupOwner } from "./support/api-client";

// Automation: a token with `admin: true` uses the management API as its organization's (or
// group's) admin, with no cookie and no sudo, never beyond its organization or its own rights.

let owner: string;
let orgAdmin: { id: string; secret: string };
let limitedAdmin: { id: string; secret: string };
let groupAdmin: { id: string; secret: string };
let plain: { id: string; secret: string };
let foreignToken: { id: string; secret: string };

async function makeToken(org: string, body: Record<string, unknown>) {
  const res = await api("POST", `/api/orgs/${org}/tokens`, { cookie: owner, body: { expiresAt: null, ...body } });
  if (res.status !== 201) throw new Error(`token: ${res.status} ${JSON.stringify(res.body)}`);
  return { id: res.body.token.id as string, secret: res.body.secret as string };
}

const tokenCount = async () => (await env.DB.prepare("SELECT count(*) AS n FROM tokens").first<{ n: number }>())!.n;

beforeAll(async () => {
  owner = (await setupOwner({ slug: "acme", name: "Acme" })).cookie;
  await confirm(owner, OWNER.password);
  await api("POST", "/api/orgs", { cookie: owner, body: { slug: "globex", name: "Globex" } });
  for (const slug of ["backend", "frontend"])
    await api("POST", "/api/orgs/acme/groups", { cookie: owner, body: { slug, name: slug } });
  for (const [key, group] of [
    ["api", null],
    ["web", null],
    ["svc", "backend"],
    ["ui", "frontend"],
  ] as const) {
    await api("POST", "/api/orgs/acme/projects", { cookie: owner, body: { key, name: key, group } });
  }
  await api("POST", "/api/orgs/globex/projects", { cookie: owner, body: { key: "gx", name: "gx" } });
  // Each admin token holds the management permissions of the routes it uses (docs/API.md, "Management permissions").
  orgAdmin = await makeToken("acme", {
    kind: "org",
    name: "terraform",
    projects: "*",
    permissions: [
      "analysis:execute",
      "issues:read",
      "project:browse",
      "manage:tokens",
      "manage:projects",
      "manage:members",
      "manage:settings",
      "audit:read",
    ],
    admin: true,
  });
  limitedAdmin = await makeToken("acme", {
    kind: "org",
    name: "limited",
    projects: ["api"],
    permissions: ["analysis:execute", "manage:tokens"],
    admin: true,
    expiresAt: new Date(Date.now() + 30 * 86400000).toISOString(),
  });
  groupAdmin = await makeToken("acme", {
    kind: "group",
    group: "backend",
    name: "backend bot",
    projects: "*",
    permissions: ["analysis:execute", "issues:read", "manage:tokens", "manage:projects"],
    admin: true,
  });
  plain = await makeToken("acme", { kind: "org", name: "ci", projects: "*", permissions: ["analysis:execute"] });
  foreignToken = await makeToken("globex", {
    kind: "org",
    name: "globex ci",
    projects: "*",
    permissions: ["analysis:execute"],
  });
});

describe("authenticating with an admin token", () => {
  it("is accepted as Bearer, Basic and X-Api-Key, without cookie, Origin or sudo", async () => {
    expect((await api("GET", "/api/orgs/acme/tokens", { token: orgAdmin.secret })).status).toBe(200);
    const basic = await api("GET", "/api/orgs/acme/tokens", {
      headers: { authorization: `Basic ${btoa(`${orgAdmin.secret}:`)}` },
    });
    expect(basic.status).toBe(200);
    expect((await api("GET", "/api/orgs/acme/tokens", { headers: { "x-api-key": orgAdmin.secret } })).status).toBe(200);
    const made = await api("POST", "/api/orgs/acme/tokens", {
      token: orgAdmin.secret,
      body: {
        kind: "org",
        name: "made by automation",
        expiresAt: null,
        projects: ["api"],
        permissions: ["analysis:execute"],
      },
    });
    expect(made.status).toBe(201);
    expect(made.body.token.createdBy).toBe(`token:${orgAdmin.id}`);
  });

  it("refuses a token without the admin flag (403), an unknown or revoked one (401), and one in the URL (401)", async () => {
    const notAdmin = await api("GET", "/api/orgs/acme/tokens", { token: plain.secret });
    expect(notAdmin.status).toBe(403);
    expect(notAdmin.body.error.code).toBe("forbidden");
    expect(
      (await api("GET", "/api/orgs/acme/tokens", { token: "tso_000000000000000000000000000000000000" })).status,
    ).toBe(401);
    expect((await api("GET", `/api/orgs/acme/tokens?session=${orgAdmin.secret}`)).status).toBe(401);
    expect((await api("GET", `/api/orgs/acme/tokens?access_token=${orgAdmin.secret}`)).status).toBe(401);
    const doomed = await makeToken("acme", {
      kind: "org",
      name: "doomed",
      projects: "*",
      permissions: ["analysis:execute"],
      admin: true,
    });
    expect((await api("GET", "/api/orgs/acme", { token: doomed.secret })).status).toBe(200);
    await api("POST", `/api/orgs/acme/tokens/${doomed.id}/revoke`, { cookie: owner });
    const dead = await api("GET", "/api/orgs/acme", { token: doomed.secret });
    expect(dead.status).toBe(401);
    expect(dead.body.error.code).toBe("unauthenticated");
  });

  it("describes itself at /api/me and sees only its own organization", async () => {
    const me = await api("GET", "/api/me", { token: groupAdmin.secret });
    expect(me.body).toMatchObject({
      type: "token",
      token: { id: groupAdmin.id, kind: "group", org: { slug: "acme" }, group: { slug: "backend" } },
    });
    const orgs = await api("GET", "/api/orgs", { token: orgAdmin.secret });
    expect(orgs.body.items.map((o: { slug: string }) => o.slug)).toEqual(["acme"]);
  });
});

describe("never another organization", () => {
  it("answers 404 for every route of another organization and changes nothing there", async () => {
    const before = await tokenCount();
    for (const [method, path, body] of [
      ["GET", "/api/orgs/globex", undefined],
      ["PATCH", "/api/orgs/globex", { name: "pwned" }],
      ["GET", "/api/orgs/globex/tokens", undefined],
      [
        "POST",
        "/api/orgs/globex/tokens",
        { kind: "org", name: "x", expiresAt: null, projects: "*", permissions: ["analysis:execute"] },
      ],
      ["GET", `/api/orgs/globex/tokens/${foreignToken.id}`, undefined],
      ["POST", `/api/orgs/globex/tokens/${foreignToken.id}/revoke`, undefined],
      ["POST", "/api/orgs/globex/tokens/revoke", { ids: [foreignToken.id] }],
      ["GET", "/api/orgs/globex/projects", undefined],
      ["POST", "/api/orgs/globex/members", { email: "spy@example.com", role: "org_admin" }],
      ["GET", "/api/orgs/globex/audit", undefined],
    ] as const) {
      const res = await api(method, path, { token: orgAdmin.secret, body });
      expect(res.status, `${method} ${path}`).toBe(404);
    }
    // Its own organization's routes do not reach the other organization's tokens either.
    expect((await api("GET", `/api/orgs/acme/tokens/${foreignToken.id}`, { token: orgAdmin.secret })).status).toBe(404);
    const bulk = await api("POST", "/api/orgs/acme/tokens/revoke", {
      token: orgAdmin.secret,
      body: { ids: [foreignToken.id] },
    });
    expect(bulk.body).toEqual({ revoked: [], notFound: [foreignToken.id] });
    expect(await tokenCount()).toBe(before);
    expect((await api("GET", `/v1/verify?session=${foreignToken.secret}`)).body.result).toBe(0);
    expect((await api("GET", "/api/orgs/globex", { cookie: owner })).body.name).toBe("Globex");
  });

  it("cannot use owner-only or user-only routes", async () => {
    expect(
      (await api("POST", "/api/orgs", { token: orgAdmin.secret, body: { slug: "mine", name: "Mine" } })).status,
    ).toBe(403);
    expect((await api("POST", "/api/permissions", { token: orgAdmin.secret, body: { name: "x:y" } })).status).toBe(403);
    expect((await api("GET", "/api/audit", { token: orgAdmin.secret })).status).toBe(403);
    expect((await api("GET", "/api/me/tokens", { token: orgAdmin.secret })).status).toBe(403);
    expect(
      (await api("POST", "/api/session/confirm", { token: orgAdmin.secret, body: { password: "x" } })).status,
    ).toBe(403);
  });
});

describe("no escalation", () => {
  const grant = (over: Record<string, unknown>) => ({
    kind: "org",
    name: "escalate",
    expiresAt: null,
    projects: ["api"],
    permissions: ["analysis:execute"],
    ...over,
  });

  it("cannot grant a permission it lacks", async () => {
    const res = await api("POST", "/api/orgs/acme/tokens", {
      token: orgAdmin.secret,
      body: grant({ permissions: ["analysis:execute", "issues:write"] }),
    });
    expect(res.status).toBe(403);
    expect(res.body.error.details.fields.permissions).toMatch(/issues:write/);
  });

  it("cannot grant projects outside its own scope, nor all projects from a limited scope", async () => {
    const outside = await api("POST", "/api/orgs/acme/tokens", {
      token: limitedAdmin.secret,
      body: grant({ projects: ["api", "web"], expiresAt: new Date(Date.now() + 86400000).toISOString() }),
    });
    expect(outside.status).toBe(403);
    expect(outside.body.error.details.fields.projects).toMatch(/web/);
    const all = await api("POST", "/api/orgs/acme/tokens", {
      token: limitedAdmin.secret,
      body: grant({ projects: "*", expiresAt: new Date(Date.now() + 86400000).toISOString() }),
    });
    expect(all.status).toBe(403);
  });

  it("cannot make a token that outlives it", async () => {
    const forever = await api("POST", "/api/orgs/acme/tokens", { token: limitedAdmin.secret, body: grant({}) });
    expect(forever.status).toBe(403);
    expect(forever.body.error.details.fields.expiresAt).toBeDefined();
    const within = await api("POST", "/api/orgs/acme/tokens", {
      token: limitedAdmin.secret,
      body: grant({ expiresAt: new Date(Date.now() + 86400000).toISOString(), admin: true }),
    });
    expect(within.status).toBe(201);
  });

  it("cannot regenerate or copy a token with more rights than its own (it would get that secret)", async () => {
    const strong = await makeToken("acme", {
      kind: "org",
      name: "strong",
      projects: "*",
      permissions: ["issues:write"],
    });
    const regen = await api("POST", `/api/orgs/acme/tokens/${strong.id}/regenerate`, { token: orgAdmin.secret });
    expect(regen.status).toBe(403);
    expect(regen.body.secret).toBeUndefined();
    expect((await api("POST", `/api/orgs/acme/tokens/${strong.id}/copy`, { token: orgAdmin.secret })).status).toBe(403);
    expect((await api("GET", `/v1/verify?session=${strong.secret}`)).body.result).toBe(0);
    // Widening a token's projects beyond its own scope is refused as well.
    const narrow = await makeToken("acme", {
      kind: "org",
      name: "narrow",
      projects: ["api"],
      permissions: ["analysis:execute"],
    });
    const widen = await api("PATCH", `/api/orgs/acme/tokens/${narrow.id}`, {
      token: limitedAdmin.secret,
      body: { projects: ["api", "web"] },
    });
    expect(widen.status).toBe(403);
    // Killing a stronger token is not an escalation: an admin may always revoke.
    expect((await api("POST", `/api/orgs/acme/tokens/${strong.id}/revoke`, { token: orgAdmin.secret })).status).toBe(
      200,
    );
  });

  it("a group admin token manages only its group's tokens", async () => {
    const own = await api("POST", "/api/orgs/acme/tokens", {
      token: groupAdmin.secret,
      body: {
        kind: "group",
        group: "backend",
        name: "svc ci",
        expiresAt: null,
        projects: ["svc"],
        permissions: ["analysis:execute"],
      },
    });
    expect(own.status).toBe(201);
    const orgKind = await api("POST", "/api/orgs/acme/tokens", { token: groupAdmin.secret, body: grant({}) });
    expect(orgKind.status).toBe(403);
    const otherGroup = await api("POST", "/api/orgs/acme/tokens", {
      token: groupAdmin.secret,
      body: {
        kind: "group",
        group: "frontend",
        name: "ui",
        expiresAt: null,
        projects: ["ui"],
        permissions: ["analysis:execute"],
      },
    });
    expect(otherGroup.status).toBe(403);
    const list = await api("GET", "/api/orgs/acme/tokens", { token: groupAdmin.secret });
    expect(
      list.body.items.every(
        (t: { kind: string; group: { slug: string } | null }) => t.kind === "group" && t.group?.slug === "backend",
      ),
    ).toBe(true);
    expect((await api("GET", `/api/orgs/acme/tokens/${plain.id}`, { token: groupAdmin.secret })).status).toBe(404);
    expect((await api("POST", `/api/orgs/acme/tokens/${plain.id}/revoke`, { token: groupAdmin.secret })).status).toBe(
      404,
    );
    expect(
      (await api("POST", "/api/orgs/acme/groups", { token: groupAdmin.secret, body: { slug: "x", name: "x" } })).status,
    ).toBe(403);
    expect((await api("GET", `/v1/verify?session=${plain.secret}`)).body.result).toBe(0);
  });
});

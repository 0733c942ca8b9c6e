import { env, exports } from "cloudflare:workers";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { newUserRow } from "../worker/accounts/users";
import { MANAGEMENT_PERMISSIONS } from "../worker/auth/management-permissions";
import { assertWithinAdminToken } from "../worker/auth/token-rights";
import { database } from "../worker/db/client";
import { users } from "../worker/db/schema";
import { primarySession } from "../worker/db/session";
import { AppError } from "../worker/errors";
import { KV_TOKEN_TTL_S } from "../worker/limits";
import { api, confirm, OWNER, setupOwner, sudoSession } from "./support/api-client";
import { makeOrg, makeToken as storeToken } from "./support/fixtures";
import { dropFromKv } from "./support/kv-entries";
import { webhookSecret } from "./support/webhooks";

// What a token may do through the management API is named by catalog permissions (docs/API.md,
// "Management permissions"); only a token with the admin role may hold them, and a token never
// hands out, copies, re-enables or widens a token beyond its own grant.

const PW = "management password 123";
let owner: string;

interface Made {
  id: string;
  secret: string;
}

async function makeToken(body: Record<string, unknown>): Promise<Made> {
  const res = await api("POST", "/api/orgs/acme/tokens", {
    cookie: owner,
    body: { kind: "org", expiresAt: null, projects: "*", ...body },
  });
  if (res.status !== 201) throw new Error(`token: ${res.status} ${JSON.stringify(res.body)}`);
  return { id: res.body.token.id as string, secret: res.body.secret as string };
}

/** Every management permission but the one resource servers hold without the admin role. */
const ADMIN_ONLY = MANAGEMENT_PERMISSIONS.filter((p) => p !== "tokens:introspect");

afterEach(() => {
  vi.useRealTimers();
});

const tokenRows = async () =>
  (await env.DB.prepare("SELECT id, version, disabled_at FROM tokens ORDER BY id").all()).results;

beforeAll(async () => {
  owner = (await setupOwner({ slug: "acme", name: "Acme" })).cookie;
  await confirm(owner, OWNER.password);
  await api("POST", "/api/orgs/acme/groups", { cookie: owner, body: { slug: "backend", name: "Backend" } });
  for (const key of ["api", "web"])
    await api("POST", "/api/orgs/acme/projects", { cookie: owner, body: { key, name: key } });
  // People choose their own passwords (invitations); an account made here is then added as a member.
  await database(primarySession(env.DB))
    .insert(users)
    .values(await newUserRow({ email: "member@acme.test", name: "Member", password: PW, isOwner: false }, Date.now()));
  const added = await api("POST", "/api/orgs/acme/members", {
    cookie: owner,
    body: { email: "member@acme.test", role: "org_member" },
  });
  if (added.status !== 201) throw new Error(`member: ${added.status} ${JSON.stringify(added.body)}`);
});

describe("only admin tokens hold management permissions", () => {
  it("refuses each of them on a token without the admin role (422 naming permissions), for org and group tokens", async () => {
    for (const permission of ADMIN_ONLY) {
      for (const kind of [{ kind: "org" }, { kind: "group", group: "backend" }]) {
        const res = await api("POST", "/api/orgs/acme/tokens", {
          cookie: owner,
          body: { ...kind, name: "ci", expiresAt: null, projects: "*", permissions: ["analysis:read", permission] },
        });
        expect(res.status, `${permission} ${kind.kind}`).toBe(422);
        expect(res.body.error.code).toBe("validation_failed");
        expect(res.body.error.details.fields.permissions).toContain(permission);
      }
    }
  });

  it("lets an admin token hold them", async () => {
    const made = await api("POST", "/api/orgs/acme/tokens", {
      cookie: owner,
      body: {
        kind: "org",
        name: "terraform",
        expiresAt: null,
        projects: "*",
        permissions: [...ADMIN_ONLY],
        admin: true,
      },
    });
    expect(made.status).toBe(201);
    expect(made.body.token.permissions).toEqual([...ADMIN_ONLY].sort());
  });

  it("keeps tokens:introspect open to resource-server tokens without the admin role, and they still introspect", async () => {
    const server = await makeToken({ name: "resource server", permissions: ["tokens:introspect"] });
    const subject = await makeToken({ name: "subject", permissions: ["analysis:read"] });
    const res = await exports.default.fetch("https://tessera.test/oauth/introspect", {
      method: "POST",
      headers: { authorization: `Bearer ${server.secret}`, "content-type": "application/x-www-form-urlencoded" },
      body: `token=${subject.secret}`,
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ active: true, jti: subject.id });
  });

  it("refuses them on personal tokens, which never use the management API (422)", async () => {
    const member = await sudoSession("member@acme.test", PW);
    for (const who of [owner, member]) {
      for (const permission of ADMIN_ONLY) {
        const res = await api("POST", "/api/me/tokens", {
          cookie: who,
          body: {
            org: "acme",
            name: "mine",
            expiresAt: null,
            projects: "*",
            permissions: ["analysis:read", permission],
          },
        });
        expect(res.status, permission).toBe(422);
        expect(res.body.error.details.fields.permissions).toContain(permission);
      }
    }
  });

  it("refuses them through a permission set too", async () => {
    const set = await api("POST", "/api/permission-sets", {
      cookie: owner,
      body: { name: "Sneaky", permissions: ["analysis:read", "manage:members"] },
    });
    expect(set.status).toBe(201);
    const org = await api("POST", "/api/orgs/acme/tokens", {
      cookie: owner,
      body: { kind: "org", name: "ci", expiresAt: null, projects: "*", permissionSet: set.body.id },
    });
    expect(org.status).toBe(422);
    expect(org.body.error.details.fields.permissions).toContain("manage:members");
    const personal = await api("POST", "/api/me/tokens", {
      cookie: owner,
      body: { org: "acme", name: "mine", expiresAt: null, projects: "*", permissionSet: set.body.id },
    });
    expect(personal.status).toBe(422);
  });

  it("refuses to copy a token without the admin role that holds one (made before this rule)", async () => {
    const legacy = await makeToken({ name: "legacy", permissions: ["analysis:read"] });
    await env.DB.prepare("INSERT INTO token_permissions (token_id, permission) VALUES (?, 'manage:members')")
      .bind(legacy.id)
      .run();
    const before = await tokenRows();
    const copy = await api("POST", `/api/orgs/acme/tokens/${legacy.id}/copy`, { cookie: owner, body: {} });
    expect(copy.status).toBe(422);
    expect(copy.body.error.details.fields.permissions).toContain("manage:members");
    expect(await tokenRows()).toEqual(before);
  });
});

describe("the catalog marks management permissions", () => {
  it("says which permissions only admin tokens hold and which of those are dangerous, in the list and one by one", async () => {
    const list = await api("GET", "/api/permissions?limit=100", { cookie: owner });
    const byName = new Map<string, { management: boolean; dangerous: boolean }>(
      list.body.items.map((p: { name: string; management: boolean; dangerous: boolean }) => [p.name, p]),
    );
    for (const name of ADMIN_ONLY) expect(byName.get(name)?.management, name).toBe(true);
    // Resource servers without the admin role hold it: the console offers it with the other methods.
    expect(byName.get("tokens:introspect")).toMatchObject({ management: false, dangerous: false });
    for (const name of ["manage:members", "manage:upstreams", "manage:settings"])
      expect(byName.get(name)?.dangerous, name).toBe(true);
    for (const name of ["manage:tokens", "manage:projects", "audit:read"])
      expect(byName.get(name)?.dangerous, name).toBe(false);
    expect(byName.get("analysis:read")).toMatchObject({ management: false, dangerous: false });
    const one = await api("GET", "/api/permissions/manage:upstreams", { cookie: owner });
    expect(one.body).toMatchObject({ name: "manage:upstreams", management: true, dangerous: true });
    const made = await api("POST", "/api/permissions", { cookie: owner, body: { name: "reports:read" } });
    expect(made.body).toMatchObject({ name: "reports:read", management: false, dangerous: false });
  });
});

describe("each management route needs its permission", () => {
  let reader: Made;

  beforeAll(async () => {
    reader = await makeToken({ name: "reader", permissions: ["analysis:read"], admin: true });
  });

  it("an admin token with only analysis:read cannot add or change members, change upstreams or settings, manage tokens or projects, or read the audit log (403)", async () => {
    const memberId = (await api("GET", "/api/orgs/acme/members", { cookie: owner })).body.items.find(
      (m: { user: { email: string } }) => m.user.email === "member@acme.test",
    ).id;
    const upstream = {
      name: "quality",
      origin: "https://quality.example",
      rules: [{ method: "GET", pathPrefix: "/", permission: "analysis:read" }],
    };
    const routes: [method: string, path: string, body: unknown, needs: string][] = [
      ["GET", "/api/orgs/acme/members", undefined, "manage:members"],
      ["POST", "/api/orgs/acme/members", { email: "spy@acme.test", role: "org_admin" }, "manage:members"],
      ["PATCH", `/api/orgs/acme/members/${memberId}`, { role: "org_admin" }, "manage:members"],
      ["DELETE", `/api/orgs/acme/members/${memberId}`, undefined, "manage:members"],
      ["GET", "/api/orgs/acme/upstreams", undefined, "manage:upstreams"],
      ["POST", "/api/orgs/acme/upstreams", upstream, "manage:upstreams"],
      ["PATCH", "/api/orgs/acme/upstreams/quality", { origin: "https://evil.example" }, "manage:upstreams"],
      ["DELETE", "/api/orgs/acme/upstreams/quality", undefined, "manage:upstreams"],
      ["PATCH", "/api/orgs/acme", { name: "Renamed" }, "manage:settings"],
      [
        "PATCH",
        "/api/orgs/acme",
        { webhook: { url: "https://evil.example/hook", secret: webhookSecret("permissions") } },
        "manage:settings",
      ],
      ["GET", "/api/orgs/acme/audit", undefined, "audit:read"],
      ["GET", "/api/orgs/acme/tokens", undefined, "manage:tokens"],
      [
        "POST",
        "/api/orgs/acme/tokens",
        { kind: "org", name: "x", expiresAt: null, projects: "*", permissions: ["analysis:read"] },
        "manage:tokens",
      ],
      ["POST", "/api/orgs/acme/leaks", { tokens: ["tso_x"] }, "manage:tokens"],
      ["POST", "/api/orgs/acme/projects", { key: "evil", name: "evil" }, "manage:projects"],
      ["POST", "/api/orgs/acme/groups", { slug: "evil", name: "evil" }, "manage:projects"],
    ];
    const snapshot = async () =>
      JSON.stringify(
        await Promise.all(
          ["organizations", "memberships", "users", "upstreams", "tokens", "projects", "groups"].map((t) =>
            env.DB.prepare(`SELECT * FROM ${t} ORDER BY rowid`)
              .all()
              .then((r) => r.results.map(({ last_used_at: _, ...rest }) => rest)),
          ),
        ),
      );
    const before = await snapshot();
    for (const [method, path, body, needs] of routes) {
      const res = await api(method, path, { token: reader.secret, body });
      expect(res.status, `${method} ${path}`).toBe(403);
      expect(res.body.error.message, `${method} ${path}`).toContain(needs);
    }
    expect(await snapshot()).toBe(before);
    // The structure reads every admin token needs stay open, as do /api/me and its own organization.
    for (const path of [
      "/api/orgs/acme",
      "/api/orgs/acme/projects",
      "/api/orgs/acme/groups",
      "/api/me",
      "/api/orgs",
      "/api/permissions",
    ]) {
      expect((await api("GET", path, { token: reader.secret })).status, path).toBe(200);
    }
  });

  it("a token with manage:tokens but not manage:members cannot create a token holding manage:members (403, beyond its own)", async () => {
    const bot = await makeToken({ name: "bot", permissions: ["manage:tokens", "analysis:read"], admin: true });
    const res = await api("POST", "/api/orgs/acme/tokens", {
      token: bot.secret,
      body: {
        kind: "org",
        name: "foothold",
        expiresAt: null,
        projects: "*",
        permissions: ["manage:members"],
        admin: true,
      },
    });
    expect(res.status).toBe(403);
    expect(res.body.error.details.fields.permissions).toContain("manage:members");
    // What it holds it may hand on, the admin role included.
    const ok = await api("POST", "/api/orgs/acme/tokens", {
      token: bot.secret,
      body: {
        kind: "org",
        name: "helper",
        expiresAt: null,
        projects: "*",
        permissions: ["manage:tokens"],
        admin: true,
      },
    });
    expect(ok.status).toBe(201);
  });

  it("the admin role itself is granted only by a token holding manage:tokens", () => {
    const caller = {
      type: "token",
      tokenId: "t",
      kind: "org",
      orgId: "o",
      groupId: null,
      userId: null,
      permissions: ["analysis:read"],
      projects: "*",
      expiresAt: null,
      allowedIps: null,
    } as const;
    const grant = {
      kind: "org",
      groupId: null,
      projects: "*",
      permissions: ["analysis:read"],
      expiresAt: null,
      allowedIps: null,
    } as const;
    expect(() =>
      assertWithinAdminToken(
        { ...caller, permissions: [...caller.permissions] },
        { ...grant, permissions: [...grant.permissions], admin: false },
      ),
    ).not.toThrow();
    let refused: unknown;
    try {
      assertWithinAdminToken(
        { ...caller, permissions: [...caller.permissions] },
        { ...grant, permissions: [...grant.permissions], admin: true },
      );
    } catch (err) {
      refused = err;
    }
    expect(refused).toBeInstanceOf(AppError);
    expect((refused as AppError).details).toMatchObject({
      fields: { admin: expect.stringContaining("manage:tokens") },
    });
  });
});

describe("a token acts on another token only when it covers that token's whole grant", () => {
  let bot: Made;

  beforeAll(async () => {
    bot = await makeToken({
      name: "limited bot",
      projects: ["api", "web"],
      permissions: ["manage:tokens", "analysis:read"],
      admin: true,
    });
  });

  it("cannot copy or regenerate an admin token holding a management permission it lacks", async () => {
    const strong = await makeToken({
      name: "strong admin",
      projects: ["api"],
      permissions: ["manage:members"],
      admin: true,
    });
    const before = await tokenRows();
    expect((await api("POST", `/api/orgs/acme/tokens/${strong.id}/copy`, { token: bot.secret, body: {} })).status).toBe(
      403,
    );
    expect((await api("POST", `/api/orgs/acme/tokens/${strong.id}/regenerate`, { token: bot.secret })).status).toBe(
      403,
    );
    expect(await tokenRows()).toEqual(before);
  });

  it("cannot change the projects of a token with permissions beyond its own, even to projects it covers", async () => {
    const strong = await makeToken({ name: "writer", projects: ["api"], permissions: ["issues:write"] });
    const before = await tokenRows();
    const res = await api("PATCH", `/api/orgs/acme/tokens/${strong.id}`, {
      token: bot.secret,
      body: { projects: ["web"] },
    });
    expect(res.status).toBe(403);
    expect(res.body.error.details.fields.permissions).toContain("issues:write");
    expect(await tokenRows()).toEqual(before);
    // A token it covers: fine.
    const weak = await makeToken({ name: "weak reader", projects: ["api"], permissions: ["analysis:read"] });
    expect(
      (await api("PATCH", `/api/orgs/acme/tokens/${weak.id}`, { token: bot.secret, body: { projects: ["web"] } }))
        .status,
    ).toBe(200);
  });

  it("cannot change the projects of a token that outlives it", async () => {
    const shortBot = await makeToken({
      name: "short bot",
      projects: "*",
      permissions: ["manage:tokens", "analysis:read"],
      admin: true,
      expiresAt: new Date(Date.now() + 86400000).toISOString(),
    });
    const forever = await makeToken({ name: "forever", projects: ["api"], permissions: ["analysis:read"] });
    const res = await api("PATCH", `/api/orgs/acme/tokens/${forever.id}`, {
      token: shortBot.secret,
      body: { projects: ["web"] },
    });
    expect(res.status).toBe(403);
    expect(res.body.error.details.fields.expiresAt).toBeDefined();
  });

  it("cannot re-enable a disabled token with more rights than its own", async () => {
    const strong = await makeToken({ name: "disabled writer", projects: "*", permissions: ["issues:write"] });
    expect((await api("POST", `/api/orgs/acme/tokens/${strong.id}/disable`, { cookie: owner })).status).toBe(200);
    const before = await tokenRows();
    const res = await api("POST", `/api/orgs/acme/tokens/${strong.id}/enable`, { token: bot.secret });
    expect(res.status).toBe(403);
    expect(res.body.error.details.fields.projects).toBeDefined();
    expect(res.body.error.details.fields.permissions).toContain("issues:write");
    expect(await tokenRows()).toEqual(before);
    expect((await api("GET", `/v1/verify?session=${strong.secret}`)).body.result).not.toBe(0);
    // Disabling (and revoking) a stronger token stays possible: taking rights away is no escalation.
    const weak = await makeToken({ name: "disabled reader", projects: ["api"], permissions: ["analysis:read"] });
    expect((await api("POST", `/api/orgs/acme/tokens/${weak.id}/disable`, { token: bot.secret })).status).toBe(200);
    expect((await api("POST", `/api/orgs/acme/tokens/${weak.id}/enable`, { token: bot.secret })).status).toBe(200);
  });
});

describe("migration 0003 on an instance that already has admin tokens", () => {
  it("gives existing admin tokens manage:tokens and audit:read, and nothing else; other tokens get nothing", async () => {
    const org = await makeOrg();
    // As they were before 0003: admin tokens whose permissions name no management right.
    const admin = await storeToken(org, { name: "old terraform", admin: true, permissions: ["analysis:read"] });
    const plain = await storeToken(org, { name: "old ci", permissions: ["analysis:read"] });
    const held = async (id: string) =>
      (
        await env.DB.prepare("SELECT permission FROM token_permissions WHERE token_id = ? ORDER BY permission")
          .bind(id)
          .all<{ permission: string }>()
      ).results.map((r) => r.permission);
    const version = async (id: string) =>
      (await env.DB.prepare("SELECT version FROM tokens WHERE id = ?").bind(id).first<{ version: number }>())!.version;
    expect(await held(admin.token.id)).toEqual(["analysis:read"]);
    const [adminBefore, plainBefore] = [await version(admin.token.id), await version(plain.token.id)];

    const migration = env.TEST_MIGRATIONS.find((m) => m.name.startsWith("0003_"));
    expect(migration?.name).toBe("0003_management_permissions.sql");
    for (const query of migration!.queries) await env.DB.prepare(query).run();

    expect(await held(admin.token.id)).toEqual(["analysis:read", "audit:read", "manage:tokens"]);
    expect(await held(plain.token.id)).toEqual(["analysis:read"]);
    // The version moves, so every cached copy of the admin token is refilled with its new permissions.
    expect(await version(admin.token.id)).toBeGreaterThan(adminBefore);
    expect(await version(plain.token.id)).toBe(plainBefore);
    // And the catalog names every management permission.
    const catalog = (await env.DB.prepare("SELECT name FROM permissions").all<{ name: string }>()).results.map(
      (r) => r.name,
    );
    for (const name of MANAGEMENT_PERMISSIONS) expect(catalog).toContain(name);
    // Running it twice changes no permission (the statements are idempotent).
    for (const query of migration!.queries) await env.DB.prepare(query).run();
    expect(await held(admin.token.id)).toEqual(["analysis:read", "audit:read", "manage:tokens"]);
  });

  it("lets such an admin token keep managing tokens and reading the audit log afterwards", async () => {
    const org = await makeOrg();
    const admin = await storeToken(org, { name: "old bot", admin: true, permissions: ["analysis:read"] });
    expect((await api("GET", `/api/orgs/${org.orgSlug}/tokens`, { token: admin.secret })).status).toBe(403);
    const migration = env.TEST_MIGRATIONS.find((m) => m.name.startsWith("0003_"))!;
    for (const query of migration.queries) await env.DB.prepare(query).run();
    // Cached copies keep the old permissions until they expire (KV_TOKEN_TTL_S at most, docs/API.md).
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(Date.now() + KV_TOKEN_TTL_S * 1000 + 1000);
    await dropFromKv(admin.secret);
    expect((await api("GET", `/api/orgs/${org.orgSlug}/tokens`, { token: admin.secret })).status).toBe(200);
    expect((await api("GET", `/api/orgs/${org.orgSlug}/audit`, { token: admin.secret })).status).toBe(200);
    expect((await api("GET", `/api/orgs/${org.orgSlug}/members`, { token: admin.secret })).status).toBe(403);
  });
});

import { env } from "cloudflare:workers";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { SUDO_WINDOW_MS } from "../worker/accounts/limits";
import { DAY_MS, HOUR_MS } from "../worker/limits";
import { TOKEN_PATTERN } from "../worker/tokens/format";
import { api, confirm, login, OWNER, setupOwner, sudoSession } from "./support/api-client";
import { addPerson } from "./support/people";

// The token lifecycle over HTTP, from setup to a verified token and every action after it.

let cookie: string;
const verify = (secret: string, query = "") => api("GET", `/v1/verify?session=${secret}${query}`);
const tokenBody = (over: Record<string, unknown> = {}) => ({
  kind: "org",
  name: "CI",
  expiresAt: null,
  projects: ["api", "web"],
  permissions: ["analysis:execute", "project:browse"],
  ...over,
});

afterEach(() => {
  vi.useRealTimers();
});

beforeAll(async () => {
  const setup = await setupOwner({ slug: "acme", name: "Acme" });
  cookie = setup.cookie;
  await confirm(cookie, OWNER.password);
  await api("POST", "/api/orgs/acme/groups", { cookie, body: { slug: "backend", name: "Backend" } });
  for (const [key, group] of [
    ["api", null],
    ["web", null],
    ["other", null],
    ["svc", "backend"],
  ] as const) {
    await api("POST", "/api/orgs/acme/projects", { cookie, body: { key, name: key, group } });
  }
});

describe("the lifecycle of an organization token", () => {
  let id: string;
  let secret: string;

  it("creates a token for two projects and answers its secret once", async () => {
    const res = await api("POST", "/api/orgs/acme/tokens", {
      cookie,
      body: tokenBody({ description: "for the pipeline" }),
    });
    expect(res.status).toBe(201);
    expect(res.body.secret).toMatch(TOKEN_PATTERN);
    expect(res.body.secret.startsWith("tso_")).toBe(true);
    expect(res.body.token).toMatchObject({
      kind: "org",
      name: "CI",
      description: "for the pipeline",
      projects: ["api", "web"],
      permissions: ["analysis:execute", "project:browse"],
      admin: false,
      status: "active",
      expiresAt: null,
      org: { slug: "acme" },
    });
    expect(res.body.token.hint).toBe(`tso_…${res.body.secret.slice(-4)}`);
    id = res.body.token.id;
    secret = res.body.secret;
  });

  it("verifies through /v1/verify?session=: an allowed project passes, another answers code 8", async () => {
    const ok = await verify(secret, "&project=api&permission=analysis:execute");
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ result: 0, valid: true, token: { id } });
    const other = await verify(secret, "&project=other");
    expect(other.status).toBe(403);
    expect(other.body.result).toBe(8);
  });

  it("never shows the secret again: not in details, not in the list", async () => {
    const details = await api("GET", `/api/orgs/acme/tokens/${id}`, { cookie });
    expect(details.status).toBe(200);
    expect(details.body.id).toBe(id);
    const list = await api("GET", "/api/orgs/acme/tokens", { cookie });
    for (const body of [details.body, list.body]) {
      expect(JSON.stringify(body)).not.toContain(secret);
      expect(JSON.stringify(body)).not.toContain(secret.slice(4, 20));
    }
    expect(JSON.stringify(details.body)).not.toMatch(/"hash"/);
  });

  it("edits name, description and projects; the new scope holds at once", async () => {
    const res = await api("PATCH", `/api/orgs/acme/tokens/${id}`, {
      cookie,
      body: { name: "CI (main)", description: "", projects: ["other"] },
    });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ name: "CI (main)", description: "", projects: ["other"] });
    expect((await verify(secret, "&project=other")).body.result).toBe(0);
    expect((await verify(secret, "&project=api")).body.result).toBe(8);
    await api("PATCH", `/api/orgs/acme/tokens/${id}`, { cookie, body: { projects: ["api", "web"] } });
  });

  it("regenerates: the old secret fails at once, the new one passes, scope is kept", async () => {
    const res = await api("POST", `/api/orgs/acme/tokens/${id}/regenerate`, { cookie });
    expect(res.status).toBe(200);
    expect(res.body.secret).toMatch(TOKEN_PATTERN);
    expect(res.body.secret).not.toBe(secret);
    expect(res.body.token).toMatchObject({ id, projects: ["api", "web"] });
    expect((await verify(secret, "&project=api")).body.result).toBe(3);
    expect((await verify(res.body.secret, "&project=api")).body.result).toBe(0);
    secret = res.body.secret;
  });

  it("copies into a new token with the same scope (the name may be overridden)", async () => {
    const res = await api("POST", `/api/orgs/acme/tokens/${id}/copy`, { cookie, body: { name: "CI copy" } });
    expect(res.status).toBe(201);
    expect(res.body.token.id).not.toBe(id);
    expect(res.body.token).toMatchObject({
      name: "CI copy",
      projects: ["api", "web"],
      permissions: ["analysis:execute", "project:browse"],
    });
    expect((await verify(res.body.secret, "&project=web")).body.result).toBe(0);
    const plain = await api("POST", `/api/orgs/acme/tokens/${id}/copy`, { cookie });
    expect(plain.status).toBe(201);
    expect(plain.body.token.name).toBe("CI (main) (copy)");
  });

  it("disables and enables", async () => {
    const off = await api("POST", `/api/orgs/acme/tokens/${id}/disable`, { cookie });
    expect(off.status).toBe(200);
    expect(off.body.status).toBe("disabled");
    expect((await verify(secret)).body.result).toBe(5);
    const on = await api("POST", `/api/orgs/acme/tokens/${id}/enable`, { cookie });
    expect(on.body.status).toBe("active");
    expect((await verify(secret)).body.result).toBe(0);
  });

  it("revokes: the token is dead and cannot change any more", async () => {
    const res = await api("POST", `/api/orgs/acme/tokens/${id}/revoke`, { cookie });
    expect(res.status).toBe(200);
    expect(res.body.status).toBe("revoked");
    expect((await verify(secret)).body.result).toBe(6);
    expect((await api("POST", `/api/orgs/acme/tokens/${id}/enable`, { cookie })).status).toBe(409);
    expect((await api("POST", `/api/orgs/acme/tokens/${id}/regenerate`, { cookie })).status).toBe(409);
    expect((await api("PATCH", `/api/orgs/acme/tokens/${id}`, { cookie, body: { name: "x" } })).status).toBe(409);
  });

  it("deletes: the record is gone and the secret never verifies again", async () => {
    const res = await api("DELETE", `/api/orgs/acme/tokens/${id}`, { cookie });
    expect(res.status).toBe(204);
    expect((await api("GET", `/api/orgs/acme/tokens/${id}`, { cookie })).status).toBe(404);
    expect((await verify(secret)).body.valid).toBe(false);
    expect(await env.DB.prepare("SELECT 1 FROM tokens WHERE id = ?").bind(id).first()).toBeNull();
  });
});

describe("bulk revoke", () => {
  it("revokes the selection and reports unknown ids without touching anything else", async () => {
    const made = [];
    for (let i = 0; i < 3; i++)
      made.push((await api("POST", "/api/orgs/acme/tokens", { cookie, body: tokenBody({ name: `bulk ${i}` }) })).body);
    const res = await api("POST", "/api/orgs/acme/tokens/revoke", {
      cookie,
      body: { ids: [made[0].token.id, made[1].token.id, "no-such-id"] },
    });
    expect(res.status).toBe(200);
    expect(res.body.revoked.sort()).toEqual([made[0].token.id, made[1].token.id].sort());
    expect(res.body.notFound).toEqual(["no-such-id"]);
    expect((await verify(made[0].secret)).body.result).toBe(6);
    expect((await verify(made[1].secret)).body.result).toBe(6);
    expect((await verify(made[2].secret)).body.result).toBe(0);
  });
});

describe("edit rules", () => {
  it("refuses to narrow a token for all projects, with a clear error", async () => {
    const made = await api("POST", "/api/orgs/acme/tokens", {
      cookie,
      body: tokenBody({ name: "everything", projects: "*" }),
    });
    const res = await api("PATCH", `/api/orgs/acme/tokens/${made.body.token.id}`, {
      cookie,
      body: { projects: ["api"] },
    });
    expect(res.status).toBe(422);
    expect(res.body.error.code).toBe("validation_failed");
    expect(res.body.error.message).toMatch(/all projects cannot be narrowed/);
    expect(res.body.error.details.fields.projects).toBeDefined();
    expect((await api("GET", `/api/orgs/acme/tokens/${made.body.token.id}`, { cookie })).body.projects).toBe("*");
  });

  it("creates a group token only for its group's projects", async () => {
    const ok = await api("POST", "/api/orgs/acme/tokens", {
      cookie,
      body: tokenBody({ kind: "group", group: "backend", projects: ["svc"], name: "svc" }),
    });
    expect(ok.status).toBe(201);
    expect(ok.body.secret.startsWith("tsg_")).toBe(true);
    expect(ok.body.token.group.slug).toBe("backend");
    const outside = await api("POST", "/api/orgs/acme/tokens", {
      cookie,
      body: tokenBody({ kind: "group", group: "backend", projects: ["api"] }),
    });
    expect(outside.status).toBe(422);
    expect(outside.body.error.details.fields.projects).toMatch(/api/);
    const noGroup = await api("POST", "/api/orgs/acme/tokens", { cookie, body: tokenBody({ kind: "group" }) });
    expect(noGroup.status).toBe(422);
  });

  it("takes permissions from a permission set", async () => {
    const res = await api("POST", "/api/orgs/acme/tokens", {
      cookie,
      body: { kind: "org", name: "from set", expiresAt: null, projects: "*", permissionSet: "pset_execute_analysis" },
    });
    expect(res.status).toBe(201);
    expect(res.body.token.permissions).toEqual(["analysis:execute", "project:browse"]);
    expect(res.body.token.permissionSet).toEqual({ id: "pset_execute_analysis", name: "Execute analysis" });
    const mismatch = await api("POST", "/api/orgs/acme/tokens", {
      cookie,
      body: {
        kind: "org",
        name: "mismatch",
        expiresAt: null,
        projects: "*",
        permissionSet: "pset_execute_analysis",
        permissions: ["issues:read"],
      },
    });
    expect(mismatch.status).toBe(422);
  });
});

describe("list filters and paging", () => {
  it("filters by status, kind, group and text, and pages with a cursor", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    const now = Date.now();
    // The faked clock stands still: step it so each token has its own creation time (newest first is then exact).
    const soon = await api("POST", "/api/orgs/acme/tokens", {
      cookie,
      body: tokenBody({ name: "soon gone", expiresAt: new Date(now + 3 * DAY_MS).toISOString() }),
    });
    vi.setSystemTime(now + 1000);
    const brief = await api("POST", "/api/orgs/acme/tokens", {
      cookie,
      body: tokenBody({ name: "brief", expiresAt: new Date(now + HOUR_MS).toISOString() }),
    });
    vi.setSystemTime(now + 2000);
    const off = await api("POST", "/api/orgs/acme/tokens", { cookie, body: tokenBody({ name: "switched off" }) });
    await api("POST", `/api/orgs/acme/tokens/${off.body.token.id}/disable`, { cookie });
    vi.setSystemTime(now + 2 * HOUR_MS);
    await confirm(cookie, OWNER.password);

    const names = async (query: string) =>
      (await api("GET", `/api/orgs/acme/tokens?${query}`, { cookie })).body.items.map((t: { name: string }) => t.name);
    expect(await names("status=expiring")).toEqual(["soon gone"]);
    expect(await names("status=expired")).toEqual(["brief"]);
    expect(await names("status=disabled")).toEqual(["switched off"]);
    expect(await names("status=expiring,expired")).toEqual(["brief", "soon gone"]);
    expect(await names("status=revoked")).toEqual(expect.arrayContaining(["bulk 0", "bulk 1"]));
    expect(await names("status=active")).not.toContain("brief");
    expect(await names("kind=group")).toEqual(["svc"]);
    expect(await names("group=backend")).toEqual(["svc"]);
    expect(await names("q=SOON")).toEqual(["soon gone"]);
    expect(await names(`q=${brief.body.token.id}`)).toEqual(["brief"]);
    for (const view of (await api("GET", "/api/orgs/acme/tokens?status=expiring", { cookie })).body.items)
      expect(view.status).toBe("expiring");
    expect(soon.status).toBe(201);

    const all = await names("limit=100");
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: { body: { items: { name: string }[]; next: string | null } } = await api(
        "GET",
        `/api/orgs/acme/tokens?limit=3${cursor ? `&cursor=${cursor}` : ""}`,
        { cookie },
      );
      expect(page.body.items.length).toBeLessThanOrEqual(3);
      seen.push(...page.body.items.map((t) => t.name));
      cursor = page.body.next;
    } while (cursor);
    expect(seen).toEqual(all);
    expect(all.length).toBeGreaterThan(6);
  });

  it("rejects unknown statuses, groups and cursors with 422", async () => {
    expect((await api("GET", "/api/orgs/acme/tokens?status=sleeping", { cookie })).status).toBe(422);
    expect((await api("GET", "/api/orgs/acme/tokens?group=nope", { cookie })).status).toBe(422);
    expect((await api("GET", "/api/orgs/acme/tokens?cursor=garbage", { cookie })).status).toBe(422);
    expect((await api("GET", "/api/orgs/acme/tokens?kind=personal", { cookie })).status).toBe(422);
  });
});

describe("sudo for token actions", () => {
  it("requires a fresh confirmation, works after it, and lapses after 5 minutes", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    const start = Date.now();
    const fresh = await login(OWNER.email, OWNER.password);
    const refused = await api("POST", "/api/orgs/acme/tokens", {
      cookie: fresh,
      body: tokenBody({ name: "needs sudo" }),
    });
    expect(refused.status).toBe(403);
    expect(refused.body.error.code).toBe("sudo_required");
    const listed = await api("GET", "/api/orgs/acme/tokens?q=needs", { cookie: fresh });
    expect(listed.status).toBe(200);
    expect(listed.body.items).toEqual([]);

    await confirm(fresh, OWNER.password);
    const made = await api("POST", "/api/orgs/acme/tokens", { cookie: fresh, body: tokenBody({ name: "needs sudo" }) });
    expect(made.status).toBe(201);

    vi.setSystemTime(start + SUDO_WINDOW_MS + 1000);
    for (const [method, path] of [
      ["POST", `/api/orgs/acme/tokens/${made.body.token.id}/revoke`],
      ["POST", `/api/orgs/acme/tokens/${made.body.token.id}/disable`],
      ["POST", `/api/orgs/acme/tokens/${made.body.token.id}/regenerate`],
      ["DELETE", `/api/orgs/acme/tokens/${made.body.token.id}`],
    ] as const) {
      const res = await api(method, path, { cookie: fresh });
      expect(res.body.error.code).toBe("sudo_required");
    }
    expect((await verify(made.body.secret)).body.result).toBe(0);
  });
});

describe("personal tokens", () => {
  const pw = "member password 42";

  beforeAll(async () => {
    await addPerson({ cookie }, "acme", {
      email: "dev@example.com",
      role: "org_member",
      password: pw,
      permissions: ["analysis:execute", "issues:read"],
    });
    await addPerson({ cookie }, "acme", {
      email: "be@example.com",
      role: "group_member",
      group: "backend",
      password: pw,
    });
  });

  it("a member creates, lists and manages their own tokens", async () => {
    const dev = await sudoSession("dev@example.com", pw);
    const made = await api("POST", "/api/me/tokens", {
      cookie: dev,
      body: { org: "acme", name: "laptop", expiresAt: null, projects: ["api"], permissions: ["analysis:execute"] },
    });
    expect(made.status).toBe(201);
    expect(made.body.secret.startsWith("tsp_")).toBe(true);
    expect(made.body.token).toMatchObject({ kind: "personal", org: { slug: "acme" }, projects: ["api"] });
    expect((await verify(made.body.secret, "&project=api")).body.result).toBe(0);
    const list = await api("GET", "/api/me/tokens", { cookie: dev });
    expect(list.body.items.map((t: { id: string }) => t.id)).toEqual([made.body.token.id]);
    const id = made.body.token.id;
    expect((await api("PATCH", `/api/me/tokens/${id}`, { cookie: dev, body: { name: "laptop 2" } })).body.name).toBe(
      "laptop 2",
    );
    const regen = await api("POST", `/api/me/tokens/${id}/regenerate`, { cookie: dev });
    expect((await verify(made.body.secret)).body.result).toBe(3);
    expect((await verify(regen.body.secret)).body.result).toBe(0);
    expect((await api("POST", `/api/me/tokens/${id}/disable`, { cookie: dev })).body.status).toBe("disabled");
    expect((await api("POST", `/api/me/tokens/${id}/enable`, { cookie: dev })).body.status).toBe("active");
    const copy = await api("POST", `/api/me/tokens/${id}/copy`, { cookie: dev, body: {} });
    expect(copy.status).toBe(201);
    const bulk = await api("POST", "/api/me/tokens/revoke", { cookie: dev, body: { ids: [id, copy.body.token.id] } });
    expect(bulk.body.revoked.sort()).toEqual([id, copy.body.token.id].sort());
    expect((await verify(regen.body.secret)).body.result).toBe(6);
    expect((await api("DELETE", `/api/me/tokens/${id}`, { cookie: dev })).status).toBe(204);
  });

  it("can never be given a permission or a project its user lacks", async () => {
    const dev = await sudoSession("dev@example.com", pw);
    const extraPermission = await api("POST", "/api/me/tokens", {
      cookie: dev,
      body: {
        org: "acme",
        name: "too much",
        expiresAt: null,
        projects: "*",
        permissions: ["analysis:execute", "issues:write"],
      },
    });
    expect(extraPermission.status).toBe(422);
    expect(extraPermission.body.error.details.fields.permissions).toMatch(/issues:write/);

    const be = await sudoSession("be@example.com", pw);
    const allProjects = await api("POST", "/api/me/tokens", {
      cookie: be,
      body: { org: "acme", name: "all", expiresAt: null, projects: "*", permissions: ["issues:write"] },
    });
    expect(allProjects.status).toBe(422);
    expect(allProjects.body.error.details.fields.projects).toBeDefined();
    const outside = await api("POST", "/api/me/tokens", {
      cookie: be,
      body: { org: "acme", name: "api", expiresAt: null, projects: ["api"], permissions: ["issues:write"] },
    });
    expect(outside.status).toBe(422);
    expect(outside.body.error.details.fields.projects).toMatch(/api/);
    const inside = await api("POST", "/api/me/tokens", {
      cookie: be,
      body: { org: "acme", name: "svc", expiresAt: null, projects: ["svc"], permissions: ["issues:write"] },
    });
    expect(inside.status).toBe(201);
    const widen = await api("PATCH", `/api/me/tokens/${inside.body.token.id}`, {
      cookie: be,
      body: { projects: ["svc", "web"] },
    });
    expect(widen.status).toBe(422);
    const admin = await api("POST", "/api/me/tokens", {
      cookie: be,
      body: {
        org: "acme",
        name: "adm",
        expiresAt: null,
        projects: ["svc"],
        permissions: ["issues:write"],
        admin: true,
      },
    });
    expect(admin.status).toBe(422);
    const count = await env.DB.prepare(
      "SELECT count(*) AS n FROM tokens WHERE kind = 'personal' AND name IN ('too much', 'all', 'api', 'adm')",
    ).first<{ n: number }>();
    expect(count!.n).toBe(0);
  });

  it("are invisible to everyone else, organization admins included", async () => {
    const be = await sudoSession("be@example.com", pw);
    const mine = (await api("GET", "/api/me/tokens", { cookie: be })).body.items[0];
    const dev = await sudoSession("dev@example.com", pw);
    expect((await api("GET", `/api/me/tokens/${mine.id}`, { cookie: dev })).status).toBe(404);
    expect((await api("POST", `/api/me/tokens/${mine.id}/revoke`, { cookie: dev })).status).toBe(404);
    expect((await api("POST", "/api/me/tokens/revoke", { cookie: dev, body: { ids: [mine.id] } })).body).toEqual({
      revoked: [],
      notFound: [mine.id],
    });
    expect((await api("GET", `/api/orgs/acme/tokens/${mine.id}`, { cookie })).status).toBe(404);
    const orgList = await api("GET", "/api/orgs/acme/tokens?limit=100", { cookie });
    expect(orgList.body.items.some((t: { kind: string }) => t.kind === "personal")).toBe(false);
    expect((await api("GET", `/api/me/tokens/${mine.id}`, { cookie: be })).body.status).toBe("active");
  });

  it("a member manages no organization or group tokens", async () => {
    const dev = await sudoSession("dev@example.com", pw);
    expect((await api("GET", "/api/orgs/acme/tokens", { cookie: dev })).status).toBe(403);
    expect((await api("POST", "/api/orgs/acme/tokens", { cookie: dev, body: tokenBody() })).status).toBe(403);
  });
});

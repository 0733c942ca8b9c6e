import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { api, login, OWNER, setupOwner, sudoSession } from "./support/api-client";
import { addPerson } from "./support/people";
import { webhookSecret } from "./support/webhooks";

// Organizations, groups, projects, members and the permission catalog over HTTP.

let owner: string;
const verify = (secret: string, query = "") => api("GET", `/v1/verify?session=${secret}${query}`);

async function sudoOwner() {
  return sudoSession(OWNER.email, OWNER.password);
}

beforeAll(async () => {
  await setupOwner({ slug: "acme", name: "Acme" });
  owner = await sudoOwner();
});

describe("organizations", () => {
  it("the owner creates and lists organizations; a slug is taken once", async () => {
    const made = await api("POST", "/api/orgs", { cookie: owner, body: { slug: "globex", name: "Globex" } });
    expect(made.status).toBe(201);
    expect(made.body).toMatchObject({ slug: "globex", name: "Globex", webhook: null });
    const again = await api("POST", "/api/orgs", { cookie: owner, body: { slug: "globex", name: "Other" } });
    expect(again.status).toBe(409);
    expect(again.body.error.details.fields.slug).toBeDefined();
    const list = await api("GET", "/api/orgs", { cookie: owner });
    expect(list.body.items.map((o: { slug: string }) => o.slug)).toEqual(["acme", "globex"]);
    expect(list.body.next).toBeNull();
    const paged = await api("GET", "/api/orgs?limit=1", { cookie: owner });
    expect(paged.body.items.map((o: { slug: string }) => o.slug)).toEqual(["acme"]);
    const rest = await api("GET", `/api/orgs?limit=1&cursor=${paged.body.next}`, { cookie: owner });
    expect(rest.body.items.map((o: { slug: string }) => o.slug)).toEqual(["globex"]);
    expect(rest.body.next).toBeNull();
  });

  it("shows the caller's role, renames, and keeps the webhook secret out of every answer and the audit log", async () => {
    const got = await api("GET", "/api/orgs/acme", { cookie: owner });
    expect(got.body).toMatchObject({ slug: "acme", role: "owner" });
    const secret = webhookSecret("acme settings");
    const patched = await api("PATCH", "/api/orgs/acme", {
      cookie: owner,
      body: { name: "Acme Corp", webhook: { url: "https://hooks.example.com/t", secret } },
    });
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({
      name: "Acme Corp",
      webhook: { url: "https://hooks.example.com/t", hasSecret: true },
    });
    expect(JSON.stringify(patched.body)).not.toContain(secret);
    expect(JSON.stringify((await api("GET", "/api/orgs/acme", { cookie: owner })).body)).not.toContain(secret);
    const audit = await api("GET", "/api/orgs/acme/audit?action=org.updated", { cookie: owner });
    expect(audit.body.items[0].detail.webhook).toEqual({ url: "https://hooks.example.com/t", secretChanged: true });
    expect(JSON.stringify(audit.body)).not.toContain(secret);
    const http = await api("PATCH", "/api/orgs/acme", {
      cookie: owner,
      body: { webhook: { url: "http://hooks.example.com/t", secret } },
    });
    expect(http.status).toBe(422);
    expect(http.body.error.details.fields["webhook.url"]).toBeDefined();
    // Not a URL at all, an address inside a private or reserved range (however it is spelled), or credentials.
    for (const url of [
      "notaurl",
      "https://",
      "https://[::1",
      "https://169.254.169.254/latest/meta-data/",
      "https://10.0.0.1/",
      "https://[::ffff:a9fe:a9fe]/",
      "https://[fd00::1]/",
      "https://[::127.0.0.1]/",
      "https://[64:ff9b::a9fe:a9fe]/",
      "https://[2002:a9fe:a9fe::]/",
      "https://0xa9.0xfe.0xa9.0xfe/",
      "https://2852039166/",
      "https://user:pw@hooks.example.com/",
    ]) {
      const bad = await api("PATCH", "/api/orgs/acme", { cookie: owner, body: { webhook: { url, secret } } });
      expect(bad.status, url).toBe(422);
      expect(bad.body.error.details.fields["webhook.url"], url).toBeDefined();
    }
    const shortSecret = await api("PATCH", "/api/orgs/acme", {
      cookie: owner,
      body: { webhook: { url: "https://hooks.example.com/t", secret: "short" } },
    });
    expect(shortSecret.status).toBe(422);
    expect(shortSecret.body.error.details.fields["webhook.secret"]).toMatch(/whsec_/);
    const removed = await api("PATCH", "/api/orgs/acme", { cookie: owner, body: { webhook: null } });
    expect(removed.body.webhook).toBeNull();
  });

  it("changes only the webhook URL when a secret is stored, and asks for one when none is", async () => {
    const stored = () =>
      env.DB.prepare(
        "SELECT webhook_url AS url, webhook_secret AS secret FROM organizations WHERE slug = 'globex'",
      ).first<{ url: string | null; secret: string | null }>();
    const alone = await api("PATCH", "/api/orgs/globex", {
      cookie: owner,
      body: { webhook: { url: "https://hooks.example.com/first" } },
    });
    expect(alone.status).toBe(422);
    expect(alone.body.error.details.fields["webhook.secret"]).toMatch(/no secret is stored/);
    expect(await stored()).toEqual({ url: null, secret: null });

    const secret = webhookSecret("globex settings");
    await api("PATCH", "/api/orgs/globex", {
      cookie: owner,
      body: { webhook: { url: "https://hooks.example.com/first", secret } },
    });
    const moved = await api("PATCH", "/api/orgs/globex", {
      cookie: owner,
      body: { webhook: { url: "https://hooks.example.com/second" } },
    });
    expect(moved.status).toBe(200);
    expect(moved.body.webhook).toEqual({ url: "https://hooks.example.com/second", hasSecret: true });
    expect(JSON.stringify(moved.body)).not.toContain(secret);
    expect(await stored()).toEqual({ url: "https://hooks.example.com/second", secret });
    const audit = await api("GET", "/api/orgs/globex/audit?action=org.updated", { cookie: owner });
    expect(audit.body.items[0].detail.webhook).toEqual({
      url: "https://hooks.example.com/second",
      secretChanged: false,
    });
    // The URL is checked the same way without a secret.
    const http = await api("PATCH", "/api/orgs/globex", {
      cookie: owner,
      body: { webhook: { url: "http://hooks.example.com/third" } },
    });
    expect(http.status).toBe(422);
    expect(http.body.error.details.fields["webhook.url"]).toBeDefined();

    // Once removed, the secret is gone too: a URL alone is refused again.
    await api("PATCH", "/api/orgs/globex", { cookie: owner, body: { webhook: null } });
    expect(await stored()).toEqual({ url: null, secret: null });
    expect(
      (
        await api("PATCH", "/api/orgs/globex", {
          cookie: owner,
          body: { webhook: { url: "https://hooks.example.com/second" } },
        })
      ).status,
    ).toBe(422);
  });

  it("takes Standard Webhooks secrets only, and plain http only to a loopback address", async () => {
    const patch = (webhook: { url: string; secret?: string }) =>
      api("PATCH", "/api/orgs/globex", { cookie: owner, body: { webhook } });
    const url = "https://hooks.example.com/standard";
    const tooShort = `whsec_${btoa("x".repeat(23))}`;
    const tooLong = `whsec_${btoa("x".repeat(65))}`;
    for (const secret of ["a plain shared secret of 32 chars", "whsec_not base64!", tooShort, tooLong]) {
      const res = await patch({ url, secret });
      expect(res.status, secret).toBe(422);
      expect(res.body.error.details.fields["webhook.secret"]).toMatch(/whsec_ then the base64 of 24 to 64/);
    }
    expect((await patch({ url, secret: `whsec_${btoa("x".repeat(24))}` })).status).toBe(200);
    expect((await patch({ url, secret: `whsec_${btoa("x".repeat(64))}` })).status).toBe(200);
    for (const local of ["http://localhost:8787/hook", "http://127.0.0.1/hook", "http://[::1]:3000/hook"]) {
      expect((await patch({ url: local })).status, local).toBe(200);
    }
    for (const remote of ["http://hooks.example.com/hook", "http://localhost.example.com/hook", "http://10.0.0.1/"]) {
      const res = await patch({ url: remote });
      expect(res.status, remote).toBe(422);
      expect(res.body.error.details.fields["webhook.url"]).toMatch(/https/);
    }
    await api("PATCH", "/api/orgs/globex", { cookie: owner, body: { webhook: null } });
  });

  it("is 404 for an organization that does not exist", async () => {
    expect((await api("GET", "/api/orgs/nope", { cookie: owner })).status).toBe(404);
  });
});

describe("groups and projects", () => {
  it("creates, pages, reads by id or slug, renames", async () => {
    for (const slug of ["backend", "frontend", "mobile"]) {
      expect(
        (await api("POST", "/api/orgs/acme/groups", { cookie: owner, body: { slug, name: slug.toUpperCase() } }))
          .status,
      ).toBe(201);
    }
    const dup = await api("POST", "/api/orgs/acme/groups", { cookie: owner, body: { slug: "backend", name: "again" } });
    expect(dup.status).toBe(409);
    const first = await api("GET", "/api/orgs/acme/groups?limit=2", { cookie: owner });
    expect(first.body.items.map((g: { slug: string }) => g.slug)).toEqual(["backend", "frontend"]);
    const second = await api("GET", `/api/orgs/acme/groups?limit=2&cursor=${first.body.next}`, { cookie: owner });
    expect(second.body.items.map((g: { slug: string }) => g.slug)).toEqual(["mobile"]);
    const byId = await api("GET", `/api/orgs/acme/groups/${first.body.items[0].id}`, { cookie: owner });
    expect(byId.body.slug).toBe("backend");
    const renamed = await api("PATCH", "/api/orgs/acme/groups/backend", { cookie: owner, body: { name: "Back end" } });
    expect(renamed.body).toMatchObject({ slug: "backend", name: "Back end" });
  });

  it("creates projects in the organization or a group, filters and searches them", async () => {
    for (const [key, group] of [
      ["api", "backend"],
      ["web", "frontend"],
      ["shared-lib", null],
    ] as const) {
      const res = await api("POST", "/api/orgs/acme/projects", {
        cookie: owner,
        body: { key, name: `Project ${key}`, group },
      });
      expect(res.status).toBe(201);
      expect(res.body.group?.slug ?? null).toBe(group);
    }
    const unknownGroup = await api("POST", "/api/orgs/acme/projects", {
      cookie: owner,
      body: { key: "x", name: "X", group: "ghosts" },
    });
    expect(unknownGroup.status).toBe(422);
    expect(
      (await api("POST", "/api/orgs/acme/projects", { cookie: owner, body: { key: "api", name: "dup" } })).status,
    ).toBe(409);
    const backend = await api("GET", "/api/orgs/acme/projects?group=backend", { cookie: owner });
    expect(backend.body.items.map((p: { key: string }) => p.key)).toEqual(["api"]);
    const orgLevel = await api("GET", "/api/orgs/acme/projects?group=none", { cookie: owner });
    expect(orgLevel.body.items.map((p: { key: string }) => p.key)).toEqual(["shared-lib"]);
    const search = await api("GET", "/api/orgs/acme/projects?q=WEB", { cookie: owner });
    expect(search.body.items.map((p: { key: string }) => p.key)).toEqual(["web"]);
    expect((await api("GET", "/api/orgs/acme/projects/web", { cookie: owner })).body.name).toBe("Project web");
  });

  it("a new project joins the reach of an all-projects token at once", async () => {
    const made = await api("POST", "/api/orgs/acme/tokens", {
      cookie: owner,
      body: { kind: "org", name: "all", expiresAt: null, projects: "*", permissions: ["analysis:execute"] },
    });
    expect(made.status).toBe(201);
    expect((await verify(made.body.secret, "&project=brand-new")).body.result).toBe(8);
    await api("POST", "/api/orgs/acme/projects", { cookie: owner, body: { key: "brand-new", name: "New" } });
    expect((await verify(made.body.secret, "&project=brand-new")).body.result).toBe(0);
  });

  it("moving a project out of a group takes it out of that group's tokens (needs sudo)", async () => {
    const made = await api("POST", "/api/orgs/acme/tokens", {
      cookie: owner,
      body: {
        kind: "group",
        group: "backend",
        name: "backend ci",
        expiresAt: null,
        projects: ["api"],
        permissions: ["analysis:execute"],
      },
    });
    expect(made.status).toBe(201);
    expect((await verify(made.body.secret, "&project=api")).body.result).toBe(0);
    const fresh = await login(OWNER.email, OWNER.password);
    expect(
      (await api("PATCH", "/api/orgs/acme/projects/api", { cookie: fresh, body: { group: "frontend" } })).body.error
        .code,
    ).toBe("sudo_required");
    expect(
      (await api("PATCH", "/api/orgs/acme/projects/api", { cookie: fresh, body: { name: "API (renamed)" } })).status,
    ).toBe(200);
    const moved = await api("PATCH", "/api/orgs/acme/projects/api", { cookie: owner, body: { group: "frontend" } });
    expect(moved.status).toBe(200);
    expect(moved.body.group.slug).toBe("frontend");
    expect((await verify(made.body.secret, "&project=api")).body.result).toBe(8);
    const token = await api("GET", `/api/orgs/acme/tokens/${made.body.token.id}`, { cookie: owner });
    expect(token.body.projects).toEqual([]);
  });

  it("deleting a project drops it from tokens at once", async () => {
    const made = await api("POST", "/api/orgs/acme/tokens", {
      cookie: owner,
      body: { kind: "org", name: "lib", expiresAt: null, projects: ["shared-lib"], permissions: ["analysis:execute"] },
    });
    expect((await verify(made.body.secret, "&project=shared-lib")).body.result).toBe(0);
    expect((await api("DELETE", "/api/orgs/acme/projects/shared-lib", { cookie: owner })).status).toBe(204);
    expect((await verify(made.body.secret, "&project=shared-lib")).body.result).toBe(8);
    expect((await api("GET", "/api/orgs/acme/projects/shared-lib", { cookie: owner })).status).toBe(404);
  });

  it("deleting a group deletes its tokens (they stop verifying) and keeps its projects at organization level", async () => {
    await api("POST", "/api/orgs/acme/projects", { cookie: owner, body: { key: "app", name: "App", group: "mobile" } });
    const made = await api("POST", "/api/orgs/acme/tokens", {
      cookie: owner,
      body: {
        kind: "group",
        group: "mobile",
        name: "mobile ci",
        expiresAt: null,
        projects: "*",
        permissions: ["analysis:execute"],
      },
    });
    expect((await verify(made.body.secret, "&project=app")).body.result).toBe(0);
    const fresh = await login(OWNER.email, OWNER.password);
    expect((await api("DELETE", "/api/orgs/acme/groups/mobile", { cookie: fresh })).body.error.code).toBe(
      "sudo_required",
    );
    expect((await api("DELETE", "/api/orgs/acme/groups/mobile", { cookie: owner })).status).toBe(204);
    expect((await verify(made.body.secret)).status).toBe(401);
    expect((await api("GET", "/api/orgs/acme/groups/mobile", { cookie: owner })).status).toBe(404);
    expect((await api("GET", "/api/orgs/acme/projects/app", { cookie: owner })).body.group).toBeNull();
    const events = await api("GET", "/api/orgs/acme/audit?action=token.deleted", { cookie: owner });
    expect(events.body.items.some((e: { target: { id: string } }) => e.target.id === made.body.token.id)).toBe(true);
  });
});

describe("members", () => {
  const memberPassword = "member password 123";

  it("invites a new person, who registers with their own password, can then log in and see the membership", async () => {
    const added = await addPerson({ cookie: owner }, "acme", {
      email: "Dev@Example.com",
      role: "org_member",
      password: memberPassword,
      name: "Dev",
    });
    const member = await api("GET", `/api/orgs/acme/members/${added.id}`, { cookie: owner });
    expect(member.body).toEqual(
      expect.objectContaining({
        role: "org_member",
        group: null,
        permissions: null,
        user: { id: added.userId, email: "dev@example.com" },
      }),
    );
    expect(JSON.stringify(member.body)).not.toContain(memberPassword);
    const cookie = await login("dev@example.com", memberPassword);
    const me = await api("GET", "/api/me", { cookie });
    expect(me.body.memberships).toEqual([
      expect.objectContaining({ role: "org_member", org: expect.objectContaining({ slug: "acme" }) }),
    ]);
  });

  it("invites someone without an account, links an existing account, refuses duplicates", async () => {
    const invited = await api("POST", "/api/orgs/acme/members", {
      cookie: owner,
      body: { email: "new@example.com", role: "org_member" },
    });
    expect(invited.status).toBe(202);
    expect(invited.body.invitation.email).toBe("new@example.com");
    const linked = await api("POST", "/api/orgs/acme/members", {
      cookie: owner,
      body: { email: "dev@example.com", role: "group_admin", group: "backend" },
    });
    expect(linked.status).toBe(201);
    expect(linked.body.group.slug).toBe("backend");
    const dup = await api("POST", "/api/orgs/acme/members", {
      cookie: owner,
      body: { email: "dev@example.com", role: "org_admin" },
    });
    expect(dup.status).toBe(409);
    const groupRoleNoGroup = await api("POST", "/api/orgs/acme/members", {
      cookie: owner,
      body: { email: "dev@example.com", role: "group_member" },
    });
    expect(groupRoleNoGroup.status).toBe(422);
    const orgRoleWithGroup = await api("POST", "/api/orgs/acme/members", {
      cookie: owner,
      body: { email: "x@example.com", role: "org_admin", group: "backend" },
    });
    expect(orgRoleWithGroup.status).toBe(422);
    const unknownPermission = await api("POST", "/api/orgs/acme/members", {
      cookie: owner,
      body: { email: "y@example.com", role: "org_member", permissions: ["no:such"] },
    });
    expect(unknownPermission.status).toBe(422);
    expect(unknownPermission.body.error.details.fields.permissions).toMatch(/no:such/);
  });

  it("lists members with paging and reads one", async () => {
    const page = await api("GET", "/api/orgs/acme/members?limit=1", { cookie: owner });
    expect(page.body.items).toHaveLength(1);
    expect(page.body.next).not.toBeNull();
    const all = await api("GET", "/api/orgs/acme/members", { cookie: owner });
    expect(all.body.items.map((m: { user: { email: string } }) => m.user.email)).toEqual([
      "owner@example.com",
      "dev@example.com",
      "dev@example.com",
    ]);
    const one = await api("GET", `/api/orgs/acme/members/${all.body.items[1].id}`, { cookie: owner });
    expect(one.body.user.email).toBe("dev@example.com");
    const backendOnly = await api("GET", "/api/orgs/acme/members?group=backend", { cookie: owner });
    expect(backendOnly.body.items).toHaveLength(1);
  });

  it("narrowing a member's permissions narrows their personal tokens at once; removal revokes them", async () => {
    const cookie = await sudoSession("dev@example.com", memberPassword);
    const made = await api("POST", "/api/me/tokens", {
      cookie,
      body: {
        org: "acme",
        name: "mine",
        expiresAt: null,
        projects: "*",
        permissions: ["analysis:execute", "issues:read"],
      },
    });
    expect(made.status).toBe(201);
    expect((await verify(made.body.secret, "&permission=issues:read")).body.result).toBe(0);
    const members = await api("GET", "/api/orgs/acme/members", { cookie: owner });
    const orgWide = members.body.items.find(
      (m: { user: { email: string }; group: unknown }) => m.user.email === "dev@example.com" && m.group === null,
    );
    const groupOne = members.body.items.find(
      (m: { user: { email: string }; group: unknown }) => m.user.email === "dev@example.com" && m.group !== null,
    );
    const narrowed = await api("PATCH", `/api/orgs/acme/members/${orgWide.id}`, {
      cookie: owner,
      body: { permissions: ["analysis:execute"] },
    });
    expect(narrowed.status).toBe(200);
    expect(narrowed.body.permissions).toEqual(["analysis:execute"]);
    // Judged per project: the backend membership still grants every permission on backend's projects,
    // but no longer anywhere else (a check without a project counts the org-wide membership only).
    expect(
      (
        await api("POST", "/api/orgs/acme/projects", {
          cookie: owner,
          body: { key: "svc", name: "Service", group: "backend" },
        })
      ).status,
    ).toBe(201);
    expect((await verify(made.body.secret, "&permission=issues:read&project=svc")).body.result).toBe(0);
    expect((await verify(made.body.secret, "&permission=issues:read&project=brand-new")).body.result).toBe(7);
    expect((await verify(made.body.secret, "&permission=issues:read")).body.result).toBe(7);
    await api("PATCH", `/api/orgs/acme/members/${groupOne.id}`, {
      cookie: owner,
      body: { permissions: ["analysis:execute"] },
    });
    expect((await verify(made.body.secret, "&permission=issues:read&project=svc")).body.result).toBe(7);
    expect((await verify(made.body.secret, "&permission=analysis:execute")).body.result).toBe(0);

    // The group membership still holds: no revocation yet, only the org-wide reach goes.
    expect((await api("DELETE", `/api/orgs/acme/members/${orgWide.id}`, { cookie: owner })).status).toBe(204);
    expect((await verify(made.body.secret)).body.result).toBe(0);
    expect((await api("DELETE", `/api/orgs/acme/members/${groupOne.id}`, { cookie: owner })).status).toBe(204);
    const after = await verify(made.body.secret);
    expect(after.body.result).toBe(6);
    const audit = await api("GET", `/api/orgs/acme/audit?target=${made.body.token.id}`, { cookie: owner });
    expect(audit.body.items.map((e: { action: string }) => e.action)).toContain("token.revoked");
  });
});

describe("visibility for members", () => {
  it("an organization member reads the structure but cannot change it", async () => {
    await addPerson({ cookie: owner }, "acme", {
      email: "reader@example.com",
      role: "org_member",
      password: "reader password 1",
    });
    const cookie = await sudoSession("reader@example.com", "reader password 1");
    expect((await api("GET", "/api/orgs/acme/groups", { cookie })).body.items.length).toBeGreaterThan(0);
    expect((await api("GET", "/api/orgs/acme/projects", { cookie })).status).toBe(200);
    expect((await api("GET", "/api/orgs/acme", { cookie })).body.webhook).toBeUndefined();
    expect((await api("POST", "/api/orgs/acme/groups", { cookie, body: { slug: "mine", name: "Mine" } })).status).toBe(
      403,
    );
    expect((await api("POST", "/api/orgs/acme/projects", { cookie, body: { key: "mine", name: "Mine" } })).status).toBe(
      403,
    );
    expect((await api("PATCH", "/api/orgs/acme", { cookie, body: { name: "Taken over" } })).status).toBe(403);
    expect((await api("GET", "/api/orgs/acme/audit", { cookie })).status).toBe(403);
    expect((await api("GET", "/api/orgs/acme", { cookie: owner })).body.name).toBe("Acme Corp");
  });

  it("a member of one group sees only that group and its projects", async () => {
    await addPerson({ cookie: owner }, "acme", {
      email: "fe@example.com",
      role: "group_member",
      group: "frontend",
      password: "frontend password",
    });
    const cookie = await login("fe@example.com", "frontend password");
    const groups = await api("GET", "/api/orgs/acme/groups", { cookie });
    expect(groups.body.items.map((g: { slug: string }) => g.slug)).toEqual(["frontend"]);
    const projects = await api("GET", "/api/orgs/acme/projects", { cookie });
    expect(projects.body.items.every((p: { group: { slug: string } | null }) => p.group?.slug === "frontend")).toBe(
      true,
    );
    expect((await api("GET", "/api/orgs/acme/groups/backend", { cookie })).status).toBe(404);
    expect((await api("GET", "/api/orgs/acme/projects/brand-new", { cookie })).status).toBe(404);
  });
});

describe("permission catalog", () => {
  it("lists the seeded methods and sets to anyone signed in", async () => {
    const cookie = await login("reader@example.com", "reader password 1");
    const permissions = await api("GET", "/api/permissions?limit=100", { cookie });
    expect(permissions.body.items.map((p: { name: string }) => p.name)).toEqual(
      expect.arrayContaining(["analysis:execute", "environment:control:stop"]),
    );
    const sets = await api("GET", "/api/permission-sets", { cookie });
    expect(sets.body.items.map((s: { name: string }) => s.name)).toEqual(
      expect.arrayContaining(["Execute analysis", "Extended access", "IDE plugins", "Marketplace", "Maven plugin"]),
    );
    const one = await api("GET", "/api/permission-sets/pset_execute_analysis", { cookie });
    expect(one.body.permissions).toEqual(["analysis:execute", "project:browse"]);
    expect((await api("POST", "/api/permissions", { cookie, body: { name: "reports:read" } })).status).toBe(403);
  });

  it("the owner adds, edits and removes methods and sets", async () => {
    const made = await api("POST", "/api/permissions", {
      cookie: owner,
      body: { name: "reports:read", description: "Read reports" },
    });
    expect(made.status).toBe(201);
    expect((await api("POST", "/api/permissions", { cookie: owner, body: { name: "reports:read" } })).status).toBe(409);
    expect(
      (await api("PATCH", "/api/permissions/reports:read", { cookie: owner, body: { description: "Reports" } })).body
        .description,
    ).toBe("Reports");
    const set = await api("POST", "/api/permission-sets", {
      cookie: owner,
      body: { name: "Reporting", permissions: ["reports:read", "analysis:read"] },
    });
    expect(set.status).toBe(201);
    expect(set.body).toMatchObject({
      name: "Reporting",
      builtin: false,
      permissions: ["analysis:read", "reports:read"],
    });
    const badSet = await api("POST", "/api/permission-sets", {
      cookie: owner,
      body: { name: "Bad", permissions: ["nope:nope"] },
    });
    expect(badSet.status).toBe(422);
    const edited = await api("PATCH", `/api/permission-sets/${set.body.id}`, {
      cookie: owner,
      body: { permissions: ["reports:read"] },
    });
    expect(edited.body.permissions).toEqual(["reports:read"]);
    expect((await api("DELETE", "/api/permission-sets/pset_execute_analysis", { cookie: owner })).status).toBe(409);
    expect((await api("DELETE", `/api/permission-sets/${set.body.id}`, { cookie: owner })).status).toBe(204);
    expect((await api("DELETE", "/api/permissions/reports:read", { cookie: owner })).status).toBe(204);
    expect((await api("GET", "/api/permissions/reports:read", { cookie: owner })).status).toBe(404);
  });

  it("refuses to delete a method that live tokens hold", async () => {
    const res = await api("DELETE", "/api/permissions/analysis:execute", { cookie: owner });
    expect(res.status).toBe(409);
    expect(await env.DB.prepare("SELECT 1 FROM permissions WHERE name = 'analysis:execute'").first()).not.toBeNull();
  });
});

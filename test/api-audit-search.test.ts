import { env } from "cloudflare:workers";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { AUDIT_EXPORT_MAX_ROWS } from "../worker/limits";
import { api, OWNER, setupOwner, sudoSession } from "./support/api-client";
import { addPerson } from "./support/people";
import { webhookSecret } from "./support/webhooks";

// Searching the audit log: filters by actor, action, target and dates; before → after of edits;
// a token's history; the export as CSV and JSON; and who may read any of it.

// The set-up makes a few dozen changes and the export test 10,000 events: slow on a busy machine.
vi.setConfig({ testTimeout: 60_000, hookTimeout: 60_000 });

const PW = "search password 123";
const WEBHOOK_SECRET = webhookSecret("search");
const DAY1 = Date.parse("2026-03-01T10:00:00Z");
const DAY2 = Date.parse("2026-03-05T10:00:00Z");
let owner: string;
let ownerId: string;
let orgAdmin: string;
let member: string;
let gadmin: string;
let betaAdmin: string;
let adminUserId: string;
const ids = { org: "", group: "", groupToken: "", memberId: "", personal: "", set: "" };
let auditBot = "";
let plainBot = "";

async function call(cookie: string, method: string, path: string, body?: unknown) {
  const res = await api(method, path, { cookie, body });
  if (res.status >= 400) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}

const newToken = (name: string, over: Record<string, unknown> = {}) => ({
  kind: "org",
  name,
  expiresAt: null,
  projects: ["web"],
  permissions: ["analysis:execute"],
  ...over,
});

const get = (path: string, caller: { cookie?: string; token?: string } = { cookie: owner }) => api("GET", path, caller);
const items = async (path: string, caller?: { cookie?: string; token?: string }) => {
  const res = await get(path, caller);
  expect(res.status, `${path}: ${JSON.stringify(res.body)}`).toBe(200);
  return res.body.items as any[];
};

beforeAll(async () => {
  vi.useFakeTimers({ toFake: ["Date"] });
  vi.setSystemTime(DAY1);
  const setup = await setupOwner({ slug: "acme", name: "Acme" });
  ownerId = setup.userId;
  owner = await sudoSession(OWNER.email, OWNER.password);
  await call(owner, "POST", "/api/orgs", { slug: "beta", name: "Beta" });
  ids.group = (await call(owner, "POST", "/api/orgs/acme/groups", { slug: "team", name: "Team" })).id;
  await call(owner, "POST", "/api/orgs/acme/projects", { key: "web", name: "Web" });
  await call(owner, "POST", "/api/orgs/acme/projects", { key: "api", name: "API" });
  ids.org = (await call(owner, "POST", "/api/orgs/acme/tokens", newToken("deploy"))).token.id;
  const admin = await addPerson({ cookie: owner }, "acme", {
    email: "admin@acme.test",
    role: "org_admin",
    password: PW,
  });
  adminUserId = admin.userId;
  const joined = await addPerson({ cookie: owner }, "acme", {
    email: "member@acme.test",
    role: "org_member",
    password: PW,
  });
  ids.memberId = (
    await addPerson({ cookie: owner }, "acme", { email: "promoted@acme.test", role: "org_member", password: PW })
  ).id;
  expect(joined.id).toBeTruthy();
  await addPerson({ cookie: owner }, "acme", {
    email: "gadmin@acme.test",
    role: "group_admin",
    group: "team",
    password: PW,
  });
  await addPerson({ cookie: owner }, "beta", { email: "admin@beta.test", role: "org_admin", password: PW });
  orgAdmin = await sudoSession("admin@acme.test", PW);
  member = await sudoSession("member@acme.test", PW);
  gadmin = await sudoSession("gadmin@acme.test", PW);
  betaAdmin = await sudoSession("admin@beta.test", PW);
  ids.personal = (
    await call(member, "POST", "/api/me/tokens", {
      org: "acme",
      name: "mine",
      expiresAt: null,
      projects: "*",
      permissions: ["analysis:execute"],
    })
  ).token.id;
  auditBot = (
    await call(
      owner,
      "POST",
      "/api/orgs/acme/tokens",
      newToken("auditor", { admin: true, projects: "*", permissions: ["analysis:execute", "audit:read"] }),
    )
  ).secret;
  plainBot = (
    await call(
      owner,
      "POST",
      "/api/orgs/acme/tokens",
      newToken("tokens only", { admin: true, projects: "*", permissions: ["analysis:execute", "manage:tokens"] }),
    )
  ).secret;

  // Four days later, the edits.
  vi.setSystemTime(DAY2);
  orgAdmin = await sudoSession("admin@acme.test", PW);
  owner = await sudoSession(OWNER.email, OWNER.password);
  member = await sudoSession("member@acme.test", PW);
  gadmin = await sudoSession("gadmin@acme.test", PW);
  betaAdmin = await sudoSession("admin@beta.test", PW);
  await call(orgAdmin, "PATCH", `/api/orgs/acme/tokens/${ids.org}`, { name: "deploy prod", projects: ["web", "api"] });
  await call(orgAdmin, "POST", `/api/orgs/acme/tokens/${ids.org}/regenerate`, {
    expiresAt: new Date(DAY2 + 30 * 86_400_000).toISOString(),
  });
  await call(orgAdmin, "PATCH", "/api/orgs/acme/groups/team", { name: "Team A" });
  await call(orgAdmin, "PATCH", "/api/orgs/acme/projects/web", { name: "Web shop" });
  await call(orgAdmin, "PATCH", `/api/orgs/acme/members/${ids.memberId}`, {
    role: "org_admin",
    permissions: ["analysis:execute"],
  });
  await call(orgAdmin, "PATCH", "/api/orgs/acme", {
    name: "Acme Inc",
    webhook: { url: "https://hooks.example.com/a", secret: WEBHOOK_SECRET },
  });
  ids.set = (
    await call(owner, "POST", "/api/permission-sets", { name: "Readers", permissions: ["analysis:execute"] })
  ).id;
  await call(owner, "PATCH", `/api/permission-sets/${ids.set}`, { permissions: ["project:browse"] });
  ids.groupToken = (
    await call(
      orgAdmin,
      "POST",
      "/api/orgs/acme/tokens",
      newToken('=HYPERLINK("https://evil.test")', {
        kind: "group",
        group: "team",
        projects: "*",
      }),
    )
  ).token.id;
  await call(orgAdmin, "POST", "/api/orgs/acme/tokens", newToken("@SUM(A1)"));
  await call(orgAdmin, "POST", "/api/orgs/acme/tokens", newToken("+1-2"));
  await call(orgAdmin, "POST", "/api/orgs/acme/tokens", newToken("-2+3"));
  const doomed = (await call(orgAdmin, "POST", "/api/orgs/acme/tokens", newToken("doomed"))).token.id;
  await call(orgAdmin, "DELETE", `/api/orgs/acme/tokens/${doomed}`);
});

afterAll(() => {
  vi.useRealTimers();
});

describe("filters", () => {
  it("by action, exact or a family", async () => {
    const exact = await items("/api/orgs/acme/audit?action=token.updated");
    expect(exact.map((e) => e.action)).toEqual(["token.updated"]);
    const family = await items("/api/orgs/acme/audit?action=member.&limit=100");
    expect(new Set(family.map((e) => e.action))).toEqual(new Set(["member.invited", "member.updated"]));
  });

  it("by actor: an id, an email, or Tessera itself", async () => {
    const byId = await items(`/api/orgs/acme/audit?actor=${adminUserId}&limit=100`);
    const byEmail = await items("/api/orgs/acme/audit?actor=admin%40acme.test&limit=100");
    expect(byId.length).toBeGreaterThan(5);
    expect(byEmail).toEqual(byId);
    expect(byId.every((e) => e.actor.id === adminUserId)).toBe(true);
    // An email nobody has matches nothing, as an email of someone who did nothing here.
    expect(await items("/api/orgs/acme/audit?actor=nobody%40acme.test")).toEqual([]);
    expect(await items("/api/orgs/acme/audit?actor=admin%40beta.test")).toEqual([]);
    const system = await items("/api/orgs/acme/audit?actor=system");
    expect(system.every((e) => e.actor.type === "system")).toBe(true);
  });

  it("by target, and by date range (from inclusive, to exclusive)", async () => {
    const about = await items(`/api/orgs/acme/audit?target=${ids.org}&limit=100`);
    expect(about.map((e) => e.action).reverse()).toEqual(["token.created", "token.updated", "token.regenerated"]);
    const day1 = await items(
      `/api/orgs/acme/audit?from=2026-03-01T00:00:00Z&to=2026-03-02T00:00:00Z&limit=100&target=${ids.org}`,
    );
    expect(day1.map((e) => e.action)).toEqual(["token.created"]);
    const later = await items(`/api/orgs/acme/audit?from=2026-03-05T10:00:00Z&target=${ids.org}`);
    expect(later.map((e) => e.action)).toEqual(["token.regenerated", "token.updated"]);
    expect(await items(`/api/orgs/acme/audit?to=2026-03-01T10:00:00Z&target=${ids.org}`)).toEqual([]);
  });

  it("refuses bad filters with 422 naming the field", async () => {
    for (const [query, field] of [
      ["from=yesterday", "from"],
      ["to=2026-13-01", "to"],
      ["action=DROP%20TABLE", "action"],
      ["actor=" + "x".repeat(300), "actor"],
    ]) {
      const res = await get(`/api/orgs/acme/audit?${query}`);
      expect(res.status, query).toBe(422);
      expect(Object.keys(res.body.error.details.fields), query).toEqual([field]);
    }
    const res = await get("/api/orgs/acme/audit/export?format=xml");
    expect(res.status).toBe(422);
    expect(res.body.error.details.fields.format).toBeDefined();
  });
});

describe("before → after", () => {
  it("records the changed fields of every edit, never a secret", async () => {
    const one = async (action: string, target?: string) =>
      (await items(`/api/orgs/acme/audit?action=${action}${target ? `&target=${target}` : ""}`))[0];
    expect((await one("token.updated", ids.org)).detail.changes).toEqual({
      name: { from: "deploy", to: "deploy prod" },
      projects: { from: ["web"], to: ["api", "web"] },
    });
    const regenerated = await one("token.regenerated", ids.org);
    expect(regenerated.detail.changes).toEqual({ expiresAt: { from: null, to: DAY2 + 30 * 86_400_000 } });
    expect((await one("group.updated")).detail.changes).toEqual({ name: { from: "Team", to: "Team A" } });
    expect((await one("project.updated")).detail.changes).toEqual({ name: { from: "Web", to: "Web shop" } });
    expect((await one("member.updated")).detail.changes).toEqual({
      role: { from: "org_member", to: "org_admin" },
      permissions: { from: null, to: ["analysis:execute"] },
    });
    const org = await one("org.updated");
    expect(org.detail.changes).toEqual({
      name: { from: "Acme", to: "Acme Inc" },
      webhookUrl: { from: null, to: "https://hooks.example.com/a" },
    });
    const set = (await items(`/api/audit?action=permission_set.updated&target=${ids.set}`))[0];
    expect(set.detail.changes).toEqual({ permissions: { from: ["analysis:execute"], to: ["project:browse"] } });
    const everything = JSON.stringify(await items("/api/audit?limit=100"));
    expect(everything).not.toContain(WEBHOOK_SECRET);
    expect(everything).not.toContain(WEBHOOK_SECRET.slice(6, 30));
  });
});

describe("deleted targets", () => {
  it("are said to be gone, with the name the event recorded", async () => {
    const deleted = (await items("/api/orgs/acme/audit?action=token.deleted"))[0];
    expect(deleted.target).toMatchObject({ type: "token", label: "doomed", deleted: true });
    const live = (await items(`/api/orgs/acme/audit?action=token.created&target=${ids.org}`))[0];
    expect(live.target).toMatchObject({ label: "deploy prod", deleted: false });
  });
});

describe("a token's history", () => {
  it("lists the events about the token, newest first, for whoever manages it", async () => {
    const history = await items(`/api/orgs/acme/tokens/${ids.org}/history`, { cookie: orgAdmin });
    expect(history.map((e) => e.action)).toEqual(["token.regenerated", "token.updated", "token.created"]);
    const group = await items(`/api/orgs/acme/tokens/${ids.groupToken}/history`, { cookie: gadmin });
    expect(group.map((e) => e.action)).toEqual(["token.created"]);
    const mine = await items(`/api/me/tokens/${ids.personal}/history`, { cookie: member });
    expect(mine.map((e) => e.action)).toEqual(["token.created"]);
    expect(await items(`/api/orgs/acme/tokens/${ids.org}/history`, { token: auditBot })).toEqual(history);
  });

  it("is refused to those who do not manage the token", async () => {
    const refusals: [string, { cookie?: string; token?: string }, number][] = [
      [`/api/orgs/acme/tokens/${ids.org}/history`, { cookie: gadmin }, 404],
      [`/api/orgs/acme/tokens/${ids.org}/history`, { cookie: member }, 403],
      [`/api/orgs/acme/tokens/${ids.org}/history`, { cookie: betaAdmin }, 404],
      [`/api/orgs/acme/tokens/${ids.org}/history`, { token: plainBot }, 403],
      [`/api/orgs/acme/tokens/${ids.personal}/history`, { cookie: orgAdmin }, 404],
      [`/api/me/tokens/${ids.personal}/history`, { cookie: orgAdmin }, 404],
      [`/api/me/tokens/${ids.personal}/history`, { cookie: owner }, 404],
      [`/api/me/tokens/${ids.personal}/history`, { token: auditBot }, 403],
    ];
    for (const [path, caller, status] of refusals) {
      const res = await get(path, caller);
      expect(res.status, `${path} ${JSON.stringify(caller).slice(0, 12)}`).toBe(status);
      expect(JSON.stringify(res.body)).not.toContain("token.created");
    }
  });
});

const csvLines = (text: string) => text.trimEnd().split("\r\n");

/** RFC 4180 rows and cells, quotes undone. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = "";
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else cell += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ",") {
      row.push(cell);
      cell = "";
    } else if (ch === "\r" && text[i + 1] === "\n") {
      row.push(cell);
      rows.push(row);
      row = [];
      cell = "";
      i++;
    } else cell += ch;
  }
  return rows;
}

describe("export", () => {
  it("answers the filtered list as CSV, formulas neutralized, as a download", async () => {
    const res = await get("/api/orgs/acme/audit/export?format=csv&action=token.created", { cookie: orgAdmin });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/csv; charset=utf-8");
    expect(res.headers.get("content-disposition")).toBe('attachment; filename="tessera-audit.csv"');
    expect(res.headers.get("x-tessera-next-cursor")).toBeNull();
    const lines = csvLines(res.body);
    expect(lines[0]).toBe(
      "id,at,actor_type,actor_id,actor,action,action_label,target_type,target_id,target,target_deleted,ip,detail",
    );
    const listed = await items("/api/orgs/acme/audit?action=token.created&limit=100");
    expect(lines).toHaveLength(listed.length + 1);
    expect(lines.slice(1).every((l) => l.includes(",token.created,Created token,token,"))).toBe(true);
    expect(res.body).toContain(`,"'=HYPERLINK(""https://evil.test"")",`);
    expect(res.body).toContain(",'@SUM(A1),");
    expect(res.body).toContain(",'+1-2,");
    expect(res.body).toContain(",'-2+3,");
    // No cell starts with a formula character.
    const cells = parseCsv(res.body).flat();
    expect(cells.filter((c) => /^[=+@-]/.test(c))).toEqual([]);
    expect(cells).toContain('\'=HYPERLINK("https://evil.test")');
  });

  it("answers JSON with the same items as the list", async () => {
    const res = await get(`/api/orgs/acme/audit/export?format=json&target=${ids.org}`, { cookie: orgAdmin });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("application/json; charset=utf-8");
    expect(res.body).toEqual({ items: await items(`/api/orgs/acme/audit?target=${ids.org}`), next: null });
  });

  it("stops at AUDIT_EXPORT_MAX_ROWS and says where the rest starts", async () => {
    const orgId = (await call(owner, "GET", "/api/orgs/acme")).id;
    await env.DB.prepare(
      `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?2)
       INSERT INTO audit_events (org_id, at, actor_type, actor_id, action, target_type, target_id, ip, detail)
       SELECT ?1, ?3 + i, 'system', NULL, 'jobs.run', NULL, NULL, NULL, '{"n":' || i || '}' FROM n`,
    )
      .bind(orgId, AUDIT_EXPORT_MAX_ROWS + 3, DAY2)
      .run();
    const first = await get("/api/orgs/acme/audit/export?format=csv&action=jobs.run", { cookie: orgAdmin });
    expect(csvLines(first.body)).toHaveLength(AUDIT_EXPORT_MAX_ROWS + 1);
    const next = first.headers.get("x-tessera-next-cursor");
    expect(next).toBeTruthy();
    const rest = await get(`/api/orgs/acme/audit/export?format=json&action=jobs.run&cursor=${next}`, {
      cookie: orgAdmin,
    });
    expect(rest.body.next).toBeNull();
    expect(rest.body.items.map((e: any) => e.detail.n)).toEqual([3, 2, 1]);
    expect(csvLines(first.body)[AUDIT_EXPORT_MAX_ROWS]).toContain('"{""n"":4}"');
  });

  it("is for the organization's admins and audit:read tokens; the instance's for the owner", async () => {
    const refusals: [string, { cookie?: string; token?: string }, number][] = [
      ["/api/orgs/acme/audit/export", { cookie: betaAdmin }, 404],
      ["/api/orgs/acme/audit/export", { cookie: member }, 403],
      ["/api/orgs/acme/audit/export", { cookie: gadmin }, 403],
      ["/api/orgs/acme/audit/export", { token: plainBot }, 403],
      ["/api/orgs/acme/audit?actor=system", { cookie: betaAdmin }, 404],
      ["/api/audit/export", { cookie: orgAdmin }, 403],
      ["/api/audit/export", { token: auditBot }, 403],
    ];
    for (const [path, caller, status] of refusals) {
      const res = await get(path, caller);
      expect(res.status, `${path} ${JSON.stringify(caller).slice(0, 12)}`).toBe(status);
    }
    expect((await get("/api/orgs/acme/audit/export?action=token.", { token: auditBot })).status).toBe(200);
    const instance = await get("/api/audit/export?format=json&action=session.login", { cookie: owner });
    expect(instance.status).toBe(200);
    expect(instance.body.items.length).toBeGreaterThan(0);
    expect(instance.body.items.every((e: any) => e.action === "session.login")).toBe(true);
    expect(instance.body.items.some((e: any) => e.actor.id === ownerId)).toBe(true);
  });
});

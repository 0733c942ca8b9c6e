import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { JOB_NAMES } from "../worker/cron/job-state";
import { DAY_MS } from "../worker/limits";
import { api, login, OWNER, setupOwner, sudoSession } from "./support/api-client";
import { countRows } from "./support/cron";
import { addPerson } from "./support/people";

// The operator's handle on the cron jobs: GET /api/jobs (last run of each) and POST /api/jobs/run.

const ADMIN = { email: "org-admin@example.com", password: "org admin password 123" };
let owner: string;
let orgAdmin: string;
let adminToken: string;
let orgId: string;

beforeAll(async () => {
  const setup = await setupOwner({ slug: "jobs-org", name: "Jobs Org" });
  orgId = setup.orgId;
  owner = await sudoSession(OWNER.email, OWNER.password);
  await addPerson({ cookie: owner }, "jobs-org", { email: ADMIN.email, role: "org_admin", password: ADMIN.password });
  orgAdmin = await login(ADMIN.email, ADMIN.password);
  const token = await api("POST", "/api/orgs/jobs-org/tokens", {
    cookie: owner,
    body: {
      kind: "org",
      name: "automation",
      expiresAt: null,
      projects: "*",
      permissions: ["analysis:execute"],
      admin: true,
    },
  });
  expect(token.status).toBe(201);
  adminToken = token.body.secret;
});

/** A token nobody used for 90 days, straight into D1 (the API cannot backdate). */
async function idleToken(id: string): Promise<void> {
  const made = Date.now() - 90 * DAY_MS;
  await env.DB.prepare(
    "INSERT INTO tokens (id, kind, org_id, name, all_projects, hash, hint, created_at, created_by, updated_at) VALUES (?1, 'org', ?2, ?1, 1, ?1 || '-hash', 'tso_…0000', ?3, 'system', ?3)",
  )
    .bind(id, orgId, made)
    .run();
}

describe("the jobs API", () => {
  it("lists every job, never run yet, for the owner", async () => {
    const res = await api("GET", "/api/jobs", { cookie: owner });
    expect(res.status).toBe(200);
    expect(res.body.next).toBeNull();
    expect(res.body.items.map((j: { name: string }) => j.name)).toEqual([...JOB_NAMES]);
    expect(res.body.items[0]).toEqual({ name: "expiry", lastRunAt: null, running: false, summary: null });
  });

  it("runs the jobs now for the owner, answers what they did, and shows it afterwards", async () => {
    await idleToken("api-idle-1");

    const run = await api("POST", "/api/jobs/run", { cookie: owner });
    expect(run.status).toBe(200);
    expect(run.body.trigger).toBe("manual");
    const purge = run.body.jobs.find((j: { name: string }) => j.name === "purge");
    expect(purge).toMatchObject({ done: true, counts: { purged: 1 }, errors: [] });
    expect(await countRows("SELECT count(*) AS n FROM tokens WHERE id = 'api-idle-1'")).toBe(0);

    const listed = await api("GET", "/api/jobs", { cookie: owner });
    const item = listed.body.items.find((j: { name: string }) => j.name === "purge");
    expect(item.lastRunAt).not.toBeNull();
    expect(item.summary).toMatchObject({ runId: run.body.runId, trigger: "manual", done: true, counts: { purged: 1 } });

    const audit = await env.DB.prepare("SELECT actor_type, detail FROM audit_events WHERE action = 'jobs.run'").first<{
      actor_type: string;
      detail: string;
    }>();
    expect(audit?.actor_type).toBe("user");
    expect(JSON.parse(audit!.detail).runId).toBe(run.body.runId);
  });

  it("refuses an organization admin, an admin token and a caller with no credentials", async () => {
    await idleToken("api-idle-2");
    for (const [who, opts, status] of [
      ["org admin", { cookie: orgAdmin }, 403],
      ["admin token", { token: adminToken }, 403],
      ["nobody", {}, 401],
    ] as const) {
      expect((await api("GET", "/api/jobs", opts)).status, who).toBe(status);
      const run = await api("POST", "/api/jobs/run", opts);
      expect(run.status, who).toBe(status);
      expect(run.body.error.code, who).toBe(status === 401 ? "unauthenticated" : "forbidden");
    }
    expect(await countRows("SELECT count(*) AS n FROM tokens WHERE id = 'api-idle-2'")).toBe(1);
  });

  it("refuses a cross-site run made with the owner's cookie", async () => {
    const res = await api("POST", "/api/jobs/run", { cookie: owner, origin: "https://evil.example" });
    expect(res.status).toBe(403);
    expect(await countRows("SELECT count(*) AS n FROM tokens WHERE id = 'api-idle-2'")).toBe(1);
  });
});

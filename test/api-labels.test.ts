import { env } from "cloudflare:workers";
import { eq, like } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { type AuditAction, writeAudit } from "../worker/audit/events";
import { DEAD_TOKEN_RETENTION_DAYS } from "../worker/cron/schedule";
import { database } from "../worker/db/client";
import { tokens } from "../worker/db/schema";
import { primarySession } from "../worker/db/session";
import { D1_MAX_BOUND_PARAMETERS, DAY_MS, MINUTE_MS } from "../worker/limits";
import { listAudit } from "../worker/orgs/audit";
import { tokenViews } from "../worker/tokens/views";
import { api, OWNER, setupOwner, sudoSession } from "./support/api-client";
import { bulkTokens } from "./support/bulk-tokens";
import { recordingD1, runCronAt } from "./support/cron";
import { addPerson } from "./support/people";

/** A made-up action, so the probe's events are told apart from the real ones. */
const PROBE = "label.probe" as AuditAction;

// Display labels: audit events name their actor and target (an email, a token's name, a slug...),
// token answers name their creator, and no label ever comes from another organization.

const NOW = Date.UTC(2026, 10, 22, 9, 0, 0);
const DEV = { email: "dev@example.com", password: "developer password 2026" };
let cookie: string;
let ownerId: string;
let acmeId: string;
/** The admin token that acts on its own, and the token it made. */
const bot = { id: "", hint: "", secret: "" };
let madeByBotId = "";
let doomedId = "";
const kept = { groupId: "", projectId: "" };
const globex = { orgId: "", tokenId: "", groupId: "", projectId: "", memberId: "" };

async function call(
  method: string,
  path: string,
  body?: unknown,
  as: { cookie?: string; token?: string } = { cookie },
) {
  const res = await api(method, path, { ...as, body });
  if (res.status >= 400) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}

async function events(path = "/api/orgs/acme/audit"): Promise<any[]> {
  const items: any[] = [];
  let cursor: string | null = null;
  do {
    const page: any = await call("GET", `${path}?limit=100${cursor ? `&cursor=${cursor}` : ""}`);
    items.push(...page.items);
    cursor = page.next;
  } while (cursor);
  return items;
}

const find = (list: any[], action: string, targetId?: string) => {
  const found = list.find((e) => e.action === action && (targetId === undefined || e.target?.id === targetId));
  if (!found) throw new Error(`no ${action} event${targetId ? ` about ${targetId}` : ""}`);
  return found;
};

beforeAll(async () => {
  vi.useFakeTimers({ toFake: ["Date"] });
  vi.setSystemTime(NOW);
  const setup = await setupOwner({ slug: "acme", name: "Acme" });
  ownerId = setup.userId;
  acmeId = setup.orgId;
  cookie = await sudoSession(OWNER.email, OWNER.password);

  await call("PATCH", "/api/orgs/acme", { name: "Acme Inc" });
  kept.groupId = (await call("POST", "/api/orgs/acme/groups", { slug: "backend", name: "Backend" })).id;
  await call("POST", "/api/orgs/acme/groups", { slug: "gone-group", name: "Gone" });
  await call("DELETE", "/api/orgs/acme/groups/gone-group");
  kept.projectId = (await call("POST", "/api/orgs/acme/projects", { key: "api", name: "API" })).id;
  await call("POST", "/api/orgs/acme/projects", { key: "gone-project", name: "Gone" });
  await call("DELETE", "/api/orgs/acme/projects/gone-project");
  const dev = await addPerson({ cookie }, "acme", { email: DEV.email, role: "org_member", password: DEV.password });
  await call("PATCH", `/api/orgs/acme/members/${dev.id}`, { role: "org_admin" });
  await call("DELETE", `/api/orgs/acme/members/${dev.id}`);

  const made = await call("POST", "/api/orgs/acme/tokens", {
    kind: "org",
    name: "CI bot",
    expiresAt: null,
    projects: "*",
    permissions: ["analysis:execute", "manage:tokens"],
    admin: true,
  });
  Object.assign(bot, { id: made.token.id, hint: made.token.hint, secret: made.secret });
  const byBot = await call(
    "POST",
    "/api/orgs/acme/tokens",
    { kind: "org", name: "made by bot", expiresAt: null, projects: ["api"], permissions: ["analysis:execute"] },
    { token: bot.secret },
  );
  madeByBotId = byBot.token.id;
  await call("POST", `/api/orgs/acme/tokens/${madeByBotId}/disable`, undefined, { token: bot.secret });
  const doomed = await call("POST", "/api/orgs/acme/tokens", {
    kind: "org",
    name: "doomed token",
    expiresAt: null,
    projects: ["api"],
    permissions: ["analysis:execute"],
  });
  doomedId = doomed.token.id;
  await call("POST", `/api/orgs/acme/tokens/${doomedId}/revoke`);
  await call("POST", "/api/permission-sets", { name: "Label set", permissions: ["analysis:execute"] });

  // Another organization, whose names must never show in Acme's answers.
  const g = await call("POST", "/api/orgs", { slug: "globex", name: "Globex" });
  globex.orgId = g.id;
  globex.groupId = (await call("POST", "/api/orgs/globex/groups", { slug: "globex-secret-group", name: "Secret" })).id;
  globex.projectId = (
    await call("POST", "/api/orgs/globex/projects", { key: "globex-secret-project", name: "Secret" })
  ).id;
  globex.memberId = (
    await addPerson({ cookie }, "globex", { email: "spy@globex.test", role: "org_member", password: DEV.password })
  ).id;
  const gt = await call("POST", "/api/orgs/globex/tokens", {
    kind: "org",
    name: "globex secret token",
    expiresAt: null,
    projects: "*",
    permissions: ["analysis:execute"],
    admin: true,
  });
  globex.tokenId = gt.token.id;
});

afterAll(() => {
  vi.useRealTimers();
});

describe("audit labels", () => {
  it("labels a person by email, an admin token by name and hint, and Tessera itself", async () => {
    const list = await events();
    expect(find(list, "group.created").actor).toEqual({
      type: "user",
      id: ownerId,
      label: OWNER.email,
      deleted: false,
    });
    expect(find(list, "token.created", madeByBotId).actor).toEqual({
      type: "token",
      id: bot.id,
      label: `CI bot (${bot.hint})`,
      deleted: false,
    });
    expect(find(list, "token.disabled", madeByBotId).actor.label).toBe(`CI bot (${bot.hint})`);
    expect(bot.hint).toMatch(/^tso_…[0-9A-Za-z]{4}$/);
  });

  it("labels the main targets: token name, group slug, project key, member and user email, organization slug", async () => {
    const list = await events();
    expect(find(list, "token.created", bot.id).target).toEqual({
      type: "token",
      id: bot.id,
      label: "CI bot",
      deleted: false,
    });
    expect(find(list, "token.disabled", madeByBotId).target.label).toBe("made by bot");
    expect(find(list, "group.created", kept.groupId).target).toEqual({
      type: "group",
      id: kept.groupId,
      label: "backend",
      deleted: false,
    });
    expect(find(list, "project.created", kept.projectId).target).toEqual({
      type: "project",
      id: kept.projectId,
      label: "api",
      deleted: false,
    });
    expect(find(list, "user.created").target).toMatchObject({ type: "user", label: DEV.email });
    expect(find(list, "org.updated").target).toEqual({ type: "org", id: acmeId, label: "acme", deleted: false });
  });

  it("still labels what has since been deleted, from what the event recorded", async () => {
    const list = await events();
    const groupEvents = list
      .filter((e) => e.target?.type === "group" && e.target.label === "gone-group")
      .map((e) => e.action);
    expect(groupEvents.sort()).toEqual(["group.created", "group.deleted"]);
    const projectEvents = list
      .filter((e) => e.target?.type === "project" && e.target.label === "gone-project")
      .map((e) => e.action);
    expect(projectEvents.sort()).toEqual(["project.created", "project.deleted"]);
    // The membership is gone; the person it was is still named.
    for (const action of ["member.updated", "member.removed"]) {
      expect(find(list, action).target, action).toMatchObject({ type: "member", label: DEV.email });
    }
    // The invitation that brought them in is named by the email it was for.
    for (const action of ["member.invited", "invitation.accepted"]) {
      expect(find(list, action).target, action).toMatchObject({ type: "invitation", label: DEV.email });
    }
  });

  it("labels the instance log's sign-ins and catalog changes for the owner", async () => {
    const list = await events("/api/audit");
    expect(find(list, "session.login").target).toEqual({
      type: "user",
      id: ownerId,
      label: OWNER.email,
      deleted: false,
    });
    expect(find(list, "permission_set.created").target).toMatchObject({ type: "permission_set", label: "Label set" });
  });
});

describe("creator labels on tokens", () => {
  it("names the person or the admin token that made each token, in the list and the details", async () => {
    const bySomeone = { type: "user", id: ownerId, label: OWNER.email };
    const byBot = { type: "token", id: bot.id, label: "CI bot" };
    const details = await call("GET", `/api/orgs/acme/tokens/${madeByBotId}`);
    expect(details.creator).toEqual(byBot);
    expect(details.createdBy).toBe(`token:${bot.id}`);
    const list = (await call("GET", "/api/orgs/acme/tokens?limit=100")).items;
    expect(list.find((t: any) => t.id === madeByBotId).creator).toEqual(byBot);
    expect(list.find((t: any) => t.id === bot.id).creator).toEqual(bySomeone);
  });

  it("names Tessera for tokens it made itself", async () => {
    await database(primarySession(env.DB)).update(tokens).set({ createdBy: "system" }).where(eq(tokens.id, doomedId));
    const details = await call("GET", `/api/orgs/acme/tokens/${doomedId}`);
    expect(details.creator).toEqual({ type: "system", id: null, label: "Tessera" });
  });
});

describe("no label crosses organizations", () => {
  it("leaves a label empty when the id belongs to another organization", async () => {
    // Events (and a creator) that name Globex's records inside Acme: the API never writes such a
    // thing, so they go straight to D1, to prove the lookups are confined to the event's organization.
    const db = database(primarySession(env.DB));
    const actor = { type: "token" as const, id: globex.tokenId, ip: null };
    const crafted: [string, string][] = [
      ["token", globex.tokenId],
      ["group", globex.groupId],
      ["project", globex.projectId],
      ["member", globex.memberId],
      ["org", globex.orgId],
    ];
    for (const [targetType, targetId] of crafted) {
      await writeAudit(db, actor, { orgId: acmeId, action: PROBE, targetType, targetId }, Date.now());
    }
    await db
      .update(tokens)
      .set({ createdBy: `token:${globex.tokenId}` })
      .where(eq(tokens.id, bot.id));

    for (const path of ["/api/orgs/acme/audit", "/api/audit"]) {
      const probes = (await events(path)).filter((e) => e.action === "label.probe");
      expect(probes).toHaveLength(crafted.length);
      for (const e of probes) {
        expect(e.actor.label, `${path} ${e.target.type} actor`).toBeNull();
        expect(e.target.label, `${path} ${e.target.type}`).toBeNull();
      }
    }
    const answers = JSON.stringify([await events(), await call("GET", "/api/orgs/acme/tokens?limit=100")]);
    for (const word of [
      "globex secret token",
      "globex-secret-group",
      "globex-secret-project",
      "spy@globex.test",
      "globex",
    ]) {
      expect(answers).not.toContain(word);
    }
    expect((await call("GET", `/api/orgs/acme/tokens/${bot.id}`)).creator).toEqual({
      type: "token",
      id: globex.tokenId,
      label: null,
    });
    // The same ids in Globex's own log are labelled: the lookups work, the scope is what stopped them.
    await writeAudit(
      db,
      actor,
      { orgId: globex.orgId, action: PROBE, targetType: "group", targetId: globex.groupId },
      Date.now(),
    );
    const own = find(await events("/api/orgs/globex/audit"), "label.probe");
    expect(own.actor.label).toMatch(/^globex secret token \(tso_…/);
    expect(own.target.label).toBe("globex-secret-group");
    await db
      .update(tokens)
      .set({ createdBy: `user:${ownerId}` })
      .where(eq(tokens.id, bot.id));
  });
});

describe("batched lookups", () => {
  it("labels a full page of 100 events about 100 tokens with one extra batch, within D1's parameter cap", async () => {
    const org = {
      orgId: acmeId,
      orgSlug: "acme",
      groupId: "",
      groupSlug: "",
      projectKeys: { alpha: "", beta: "", grouped: "" },
    };
    await bulkTokens(org, 100, Date.now());
    await env.DB.prepare(
      `INSERT INTO audit_events (org_id, at, actor_type, actor_id, action, target_type, target_id, ip, detail)
       SELECT org_id, ?2, 'token', id, 'label.bulk', 'token', id, NULL, '{}' FROM tokens WHERE org_id = ?1 AND name LIKE 'bulk %'`,
    )
      .bind(acmeId, Date.now())
      .run();
    const recorder = recordingD1(env.DB);
    const small = await listAudit(
      database(primarySession(recorder.db)),
      { orgId: acmeId, action: "label.bulk" },
      { limit: 5 },
    );
    const smallQueries = recorder.usage.queries;
    recorder.reset();
    const page = await listAudit(
      database(primarySession(recorder.db)),
      { orgId: acmeId, action: "label.bulk" },
      { limit: 100 },
    );
    expect(small.items).toHaveLength(5);
    expect(page.items).toHaveLength(100);
    // The listing, then one batch for every label of the page, whatever its length.
    expect(smallQueries).toBe(2);
    expect(recorder.usage.queries).toBe(2);
    expect(recorder.usage.maxBoundParameters).toBeLessThanOrEqual(D1_MAX_BOUND_PARAMETERS);
    const bulk = await database(primarySession(env.DB)).select().from(tokens).where(like(tokens.name, "bulk %"));
    const byId = new Map(bulk.map((t) => [t.id, t]));
    expect(new Set(page.items.map((e) => e.target!.id)).size).toBe(100);
    for (const e of page.items) {
      const token = byId.get(e.target!.id!)!;
      expect(e.target!.label).toBe(token.name);
      expect(e.actor.label).toBe(`${token.name} (${token.hint})`);
    }
  });

  it("labels the creators of 100 tokens without a query per token", async () => {
    const rows = await database(primarySession(env.DB)).select().from(tokens).where(like(tokens.name, "bulk %"));
    expect(rows).toHaveLength(100);
    // Half made by a person, half by the admin token.
    for (const [i, row] of rows.entries()) row.createdBy = i % 2 ? `user:${ownerId}` : `token:${bot.id}`;
    const recorder = recordingD1(env.DB);
    const views = await tokenViews(database(primarySession(recorder.db)), rows, Date.now());
    expect(views.map((v) => v.creator.label)).toEqual(rows.map((_, i) => (i % 2 ? OWNER.email : "CI bot")));
    expect(recorder.usage.queries).toBeLessThanOrEqual(8);
    expect(recorder.usage.maxBoundParameters).toBeLessThanOrEqual(D1_MAX_BOUND_PARAMETERS);
  });
});

describe("erased tokens", () => {
  it("keeps their events labelled after the retention job erased them, by Tessera", async () => {
    await runCronAt(NOW + (DEAD_TOKEN_RETENTION_DAYS + 1) * DAY_MS);
    expect(await env.DB.prepare("SELECT id FROM tokens WHERE id = ?1").bind(doomedId).first()).toBeNull();
    vi.setSystemTime(Date.now() + MINUTE_MS);
    cookie = await sudoSession(OWNER.email, OWNER.password);
    const list = await events();
    const about = list.filter((e) => e.target?.id === doomedId);
    expect(about.map((e) => e.action).sort()).toEqual(["token.created", "token.erased", "token.revoked"]);
    // Named as the events recorded it, and said to be gone: the console shows no link to it.
    for (const e of about) expect(e.target, e.action).toMatchObject({ label: "doomed token", deleted: true });
    expect(find(list, "token.erased", doomedId).actor).toEqual({
      type: "system",
      id: null,
      label: "Tessera",
      deleted: false,
    });
  });
});

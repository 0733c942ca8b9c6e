import { env } from "cloudflare:workers";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { DAY_MS } from "../worker/limits";
import { api, confirm, OWNER, setupOwner } from "./support/api-client";
import { addPerson } from "./support/people";

// Organization token policies over HTTP: who may set them, the refusals at create, copy and regenerate,
// and the lifetime's cut at use, which reaches tokens made before the policy, cached ones included.

let cookie: string;
let member: string;
const MEMBER = { email: "dev@acme.test", password: "member password 123", role: "org_member" as const };

const open = { maxLifetimeDays: null, expiryRequired: false };
const policies = (over: Record<string, unknown> = {}) => ({
  lifetime: { org: open, group: open, personal: open },
  personalPermissionSets: null,
  expiryNoticeDays: [30, 7, 1],
  ...over,
});
const orgToken = (over: Record<string, unknown> = {}) => ({
  kind: "org",
  name: `t ${crypto.randomUUID()}`,
  expiresAt: null,
  projects: "*",
  permissions: ["analysis:execute"],
  ...over,
});
const inDays = (days: number, from = Date.now()) => new Date(from + days * DAY_MS).toISOString();
const verify = (secret: string) => api("GET", `/v1/verify?session=${secret}`);
const setPolicies = (body: unknown, as = cookie) => api("PUT", "/api/orgs/acme/policies", { cookie: as, body });
const backdate = (id: string, at: number) =>
  env.DB.prepare("UPDATE tokens SET created_at = ?2 WHERE id = ?1").bind(id, at).run();

beforeAll(async () => {
  const setup = await setupOwner({ slug: "acme", name: "Acme" });
  cookie = setup.cookie;
  await confirm(cookie, OWNER.password);
  await api("POST", "/api/orgs/acme/projects", { cookie, body: { key: "api", name: "API" } });
  member = (await addPerson({ cookie }, "acme", MEMBER)).cookie!;
  await confirm(member, MEMBER.password);
});

afterEach(async () => {
  vi.useRealTimers();
  await setPolicies(policies());
});

describe("setting the policies", () => {
  it("answers the defaults to every member, with the instance's limits", async () => {
    const res = await api("GET", "/api/orgs/acme/policies", { cookie: member });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      ...policies(),
      instance: { maxLifetimeDays: 3650, purgeUnusedAfterDays: 60, purgeWarningDays: 7 },
    });
  });

  it("is for organization admins with sudo; a member gets 403 and nothing changes", async () => {
    const strict = policies({
      lifetime: { org: { maxLifetimeDays: 1, expiryRequired: true }, group: open, personal: open },
    });
    expect((await setPolicies(strict, member)).status).toBe(403);
    const fresh = await api("POST", "/api/session", { body: OWNER });
    const noSudo = await setPolicies(strict, fresh.setCookie!);
    expect(noSudo.status).toBe(403);
    expect(noSudo.body.error.code).toBe("sudo_required");
    expect((await api("GET", "/api/orgs/acme/policies", { cookie })).body.lifetime.org).toEqual(open);
  });

  it("refuses bad input field by field: beyond the instance's ceiling, unknown sets, too many lead times", async () => {
    const res = await setPolicies(
      policies({
        lifetime: { org: { maxLifetimeDays: 3651, expiryRequired: true }, group: open, personal: open },
        expiryNoticeDays: [60, 30, 14, 7, 3, 1],
      }),
    );
    expect(res.status).toBe(422);
    expect(Object.keys(res.body.error.details.fields).sort()).toEqual([
      "expiryNoticeDays",
      "lifetime.org.maxLifetimeDays",
    ]);
    const sets = await setPolicies(policies({ personalPermissionSets: ["pset_nope"] }));
    expect(sets.status).toBe(422);
    expect(sets.body.error.details.fields.personalPermissionSets).toContain("pset_nope");
  });

  it("implies an expiry where a maximum is set, sorts the lead times, and is audited", async () => {
    const res = await setPolicies(
      policies({
        lifetime: { org: { maxLifetimeDays: 90, expiryRequired: false }, group: open, personal: open },
        expiryNoticeDays: [1, 14, 14],
      }),
    );
    expect(res.status).toBe(200);
    expect(res.body.lifetime.org).toEqual({ maxLifetimeDays: 90, expiryRequired: true });
    expect(res.body.expiryNoticeDays).toEqual([14, 1]);
    const audit = await api("GET", "/api/orgs/acme/audit?action=org.policies_updated&limit=1", { cookie });
    expect(audit.body.items[0]).toMatchObject({ action: "org.policies_updated", target: { type: "org" } });
  });
});

describe("refusals where a secret is issued", () => {
  const thirtyDays = () =>
    setPolicies(
      policies({ lifetime: { org: { maxLifetimeDays: 30, expiryRequired: true }, group: open, personal: open } }),
    );

  it("create: beyond the maximum, or without an expiry, is 422 policy_violation naming the policy and its limit", async () => {
    await thirtyDays();
    const late = await api("POST", "/api/orgs/acme/tokens", { cookie, body: orgToken({ expiresAt: inDays(31) }) });
    expect(late.status).toBe(422);
    expect(late.body.error).toMatchObject({
      code: "policy_violation",
      details: { policy: "lifetime.org.maxLifetimeDays", limit: 30 },
    });
    const never = await api("POST", "/api/orgs/acme/tokens", { cookie, body: orgToken() });
    expect(never.body.error).toMatchObject({
      code: "policy_violation",
      details: { policy: "lifetime.org.expiryRequired", limit: 30 },
    });
    const ok = await api("POST", "/api/orgs/acme/tokens", { cookie, body: orgToken({ expiresAt: inDays(29) }) });
    expect(ok.status).toBe(201);
    // Group tokens have their own rule, and none is set.
    await api("POST", "/api/orgs/acme/groups", { cookie, body: { slug: "ops", name: "Ops" } });
    const group = await api("POST", "/api/orgs/acme/tokens", {
      cookie,
      body: orgToken({ kind: "group", group: "ops" }),
    });
    expect(group.status).toBe(201);
  });

  it("regenerate and copy: the token's expiry must fit the policy counted from now", async () => {
    const made = await api("POST", "/api/orgs/acme/tokens", { cookie, body: orgToken() });
    await thirtyDays();
    const id = made.body.token.id;
    const renewLate = await api("POST", `/api/orgs/acme/tokens/${id}/regenerate`, {
      cookie,
      body: { expiresAt: inDays(45) },
    });
    expect(renewLate.body.error?.details).toEqual({ policy: "lifetime.org.maxLifetimeDays", limit: 30 });
    const copyNever = await api("POST", `/api/orgs/acme/tokens/${id}/copy`, { cookie, body: { expiresAt: null } });
    expect(copyNever.body.error?.details).toEqual({ policy: "lifetime.org.expiryRequired", limit: 30 });
    // The policy cut the token on save; a renewal within it replaces the cut with its own expiry.
    expect((await api("GET", `/api/orgs/acme/tokens/${id}`, { cookie })).body.expiryCut).toBe(true);
    const expiresAt = inDays(20);
    const renew = await api("POST", `/api/orgs/acme/tokens/${id}/regenerate`, { cookie, body: { expiresAt } });
    expect(renew.status).toBe(200);
    expect(renew.body.token).toMatchObject({ expiryCut: false, expiresAt, ownExpiresAt: expiresAt });
  });

  it("personal tokens: only the chosen permission sets", async () => {
    await setPolicies(policies({ personalPermissionSets: ["pset_execute_analysis"] }));
    const body = { org: "acme", name: "mine", expiresAt: null, projects: "*" };
    const custom = await api("POST", "/api/me/tokens", {
      cookie: member,
      body: { ...body, permissions: ["analysis:execute"] },
    });
    expect(custom.status).toBe(422);
    expect(custom.body.error).toMatchObject({
      code: "policy_violation",
      details: { policy: "personalPermissionSets", limit: ["pset_execute_analysis"] },
    });
    const set = await api("POST", "/api/me/tokens", {
      cookie: member,
      body: { ...body, permissionSet: "pset_execute_analysis" },
    });
    expect(set.status).toBe(201);
  });
});

describe("the lifetime at use", () => {
  it("cuts tokens made before it from the moment the policy says, cached entries included, and gives them back when relaxed", async () => {
    const now = Date.now();
    const old = await api("POST", "/api/orgs/acme/tokens", { cookie, body: orgToken() });
    const young = await api("POST", "/api/orgs/acme/tokens", { cookie, body: orgToken({ expiresAt: inDays(300) }) });
    await backdate(old.body.token.id, now - 40 * DAY_MS);
    await backdate(young.body.token.id, now - 10 * DAY_MS);
    // Both cached as valid first: the cut must overwrite what the tiers hold.
    expect((await verify(old.body.secret)).body.result).toBe(0);
    expect((await verify(young.body.secret)).body.result).toBe(0);

    const saved = await setPolicies(
      policies({ lifetime: { org: { maxLifetimeDays: 30, expiryRequired: true }, group: open, personal: open } }),
    );
    expect(saved.body.tokensMoved).toBeGreaterThanOrEqual(2);
    expect((await verify(old.body.secret)).body).toMatchObject({ result: 4, error: "token_expired" });
    const cutAt = now - 10 * DAY_MS + 30 * DAY_MS;
    const view = await api("GET", `/api/orgs/acme/tokens/${young.body.token.id}`, { cookie });
    expect(view.body).toMatchObject({
      expiryCut: true,
      expiresAt: new Date(cutAt).toISOString(),
      ownExpiresAt: young.body.token.expiresAt,
      status: "active",
    });
    expect((await verify(young.body.secret)).body.result).toBe(0);

    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(cutAt - 1000);
    expect((await verify(young.body.secret)).body.result).toBe(0);
    vi.setSystemTime(cutAt);
    expect((await verify(young.body.secret)).body.error).toBe("token_expired");
    vi.useRealTimers();

    // Relaxed: the young token is still alive, so it gets its own expiry back; the old one stays expired.
    await setPolicies(policies());
    const back = await api("GET", `/api/orgs/acme/tokens/${young.body.token.id}`, { cookie });
    expect(back.body).toMatchObject({ expiryCut: false, expiresAt: young.body.token.expiresAt });
    expect((await verify(young.body.secret)).body.result).toBe(0);
    expect((await verify(old.body.secret)).body.error).toBe("token_expired");
  });

  it("counts from the last regenerate, not the creation", async () => {
    const made = await api("POST", "/api/orgs/acme/tokens", { cookie, body: orgToken() });
    await backdate(made.body.token.id, Date.now() - 400 * DAY_MS);
    const again = await api("POST", `/api/orgs/acme/tokens/${made.body.token.id}/regenerate`, { cookie, body: {} });
    await setPolicies(
      policies({ lifetime: { org: { maxLifetimeDays: 30, expiryRequired: true }, group: open, personal: open } }),
    );
    const view = await api("GET", `/api/orgs/acme/tokens/${made.body.token.id}`, { cookie });
    expect(view.body.expiryCut).toBe(true);
    expect(Date.parse(view.body.expiresAt)).toBeGreaterThan(Date.now() + 29 * DAY_MS);
    expect((await verify(again.body.secret)).body.result).toBe(0);
  });

  it("leaves other organizations' tokens alone", async () => {
    await api("POST", "/api/orgs", { cookie, body: { slug: "other", name: "Other" } });
    const theirs = await api("POST", "/api/orgs/other/tokens", { cookie, body: orgToken() });
    await backdate(theirs.body.token.id, Date.now() - 400 * DAY_MS);
    await setPolicies(
      policies({ lifetime: { org: { maxLifetimeDays: 1, expiryRequired: true }, group: open, personal: open } }),
    );
    expect((await verify(theirs.body.secret)).body.result).toBe(0);
  });
});

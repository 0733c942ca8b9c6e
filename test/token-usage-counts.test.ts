import { env } from "cloudflare:workers";
import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { DAY_MS, LAST_USED_WRITE_INTERVAL_MS, MINUTE_MS, USAGE_WINDOW_DAYS } from "../worker/limits";
import { api, confirm, OWNER, setupOwner, sudoSession } from "./support/api-client";
import { countRows, runCronAt } from "./support/cron";
import { countingEnv, type IoCall, type IoLog } from "./support/io";
import { resetIsolateCaches } from "./support/isolate";
import { addPerson } from "./support/people";
import { bearer, readVerify, verifyUrl, viaHandler } from "./support/verify-client";

// Issue 15.6 and 16.10: verifications counted per token, day and result in the isolate, written with the
// usage write (never a D1 call of their own); attempts on dead tokens shown on the token without moving
// lastUsedAt; the usage chart's and the organization overview's numbers.

const T0 = Date.UTC(2026, 10, 22, 9, 0, 0);
const DAY0 = "2026-11-22";
const IP = "198.51.100.20";
const HOUR = 60 * MINUTE_MS;
let cookie: string;
let counted: Env;
let log: IoLog;
let seq = 0;
const PW = "usage counts password 1";

const isBatch = (c: IoCall) => c.binding === "DB" && c.op === "batch";
const iso = (ms: number) => new Date(ms).toISOString();

beforeAll(async () => {
  vi.useFakeTimers({ toFake: ["Date"] });
  vi.setSystemTime(T0 - 60 * DAY_MS);
  cookie = (await setupOwner({ slug: "acme", name: "Acme" })).cookie;
  await confirm(cookie, OWNER.password);
  for (const key of ["web", "api"]) await api("POST", "/api/orgs/acme/projects", { cookie, body: { key, name: key } });
  await api("POST", "/api/orgs/acme/groups", { cookie, body: { slug: "ops", name: "Ops" } });
  vi.useRealTimers();
});

beforeEach(async () => {
  resetIsolateCaches();
  ({ env: counted, log } = countingEnv());
  vi.useFakeTimers({ toFake: ["Date"] });
  await at(T0);
});
afterEach(() => vi.useRealTimers());

/** Moves the clock, signed in afresh with the password confirmed, for the changes a test makes. */
async function at(ms: number) {
  vi.setSystemTime(ms);
  cookie = await sudoSession(OWNER.email, OWNER.password);
}

async function make(over: Record<string, unknown> = {}) {
  const res = await api("POST", "/api/orgs/acme/tokens", {
    cookie,
    body: {
      kind: "org",
      name: `usage ${++seq}`,
      expiresAt: null,
      projects: ["web"],
      permissions: ["analysis:execute"],
      ...over,
    },
  });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body as { token: { id: string }; secret: string };
}

/** Through the worker's fetch with watched bindings, waiting for the usage write it started. */
async function verify(secret: string, query: { permission?: string[]; project?: string } = {}, ip = IP) {
  return readVerify(await viaHandler(bearer(secret, ip, verifyUrl(query)), counted));
}

const tokenOf = async (id: string) => (await api("GET", `/api/orgs/acme/tokens/${id}`, { cookie })).body;
const usageOf = async (id: string) => (await api("GET", `/api/orgs/acme/tokens/${id}/usage`, { cookie })).body;
const dayRow = async (id: string, day: string) => (await usageOf(id)).days.find((d: { day: string }) => d.day === day);
const lastUsedAt = (id: string) =>
  env.DB.prepare("SELECT last_used_at AS at FROM tokens WHERE id = ?1")
    .bind(id)
    .first<{ at: number | null }>()
    .then((r) => r!.at);

describe("counts per result, written with the usage write", () => {
  it("splits valid, denied by permission or project, and dead; no D1 call beyond the due usage writes", async () => {
    const { token, secret } = await make();
    await verify(secret); // due: lastUsedAt, the address and this count, in one batch
    log.reset();
    for (let i = 0; i < 5; i++) expect(await verify(secret, { project: "web" })).toMatchObject({ result: 0 });
    expect(await verify(secret, { permission: ["project:admin"] })).toMatchObject({ result: 7 });
    expect(await verify(secret, { project: "api" })).toMatchObject({ result: 8 });
    expect(await verify(secret, { project: "api" })).toMatchObject({ result: 8 });
    // Eight verifications within the interval: not one D1 call (the cache answers, counters move).
    expect(log.count("DB")).toBe(0);
    expect(await dayRow(token.id, DAY0)).toEqual({ day: DAY0, valid: 1, denied: 0, dead: 0 });

    await at(T0 + LAST_USED_WRITE_INTERVAL_MS);
    log.reset();
    await verify(secret);
    // The next due write carries them: still one batch, the usage write's own statements plus the counts.
    expect(log.count(undefined, isBatch)).toBe(1);
    expect(log.calls.find(isBatch)?.detail).toBe("4 statements");
    expect(await dayRow(token.id, DAY0)).toEqual({ day: DAY0, valid: 7, denied: 3, dead: 0 });
    expect((await usageOf(token.id)).totals).toEqual({ valid: 7, denied: 3, dead: 0 });
  });

  it("counts each UTC day on its own, over a 30-day window ending today", async () => {
    const { token, secret } = await make();
    const midnight = Date.UTC(2026, 10, 23);
    await at(midnight - 2 * MINUTE_MS);
    await verify(secret); // due, day 22
    await verify(secret); // counted on day 22, not written yet
    await at(midnight + MINUTE_MS);
    await verify(secret); // day 23, not due: both days wait in the isolate
    await verify(secret, { permission: ["project:admin"] });
    await at(midnight + LAST_USED_WRITE_INTERVAL_MS);
    await verify(secret); // due: writes day 22's last count and day 23's
    const usage = await usageOf(token.id);
    expect(usage.days).toHaveLength(USAGE_WINDOW_DAYS);
    expect(usage.days.at(-1)).toEqual({ day: "2026-11-23", valid: 2, denied: 1, dead: 0 });
    expect(usage.days.at(-2)).toEqual({ day: DAY0, valid: 2, denied: 0, dead: 0 });
    expect(usage.days[0].day).toBe("2026-10-25");
    expect(usage.addresses).toEqual([{ ip: IP, lastSeenAt: iso(midnight + LAST_USED_WRITE_INTERVAL_MS) }]);
  });

  it("a token no longer verified has its counts written by another token's due write", async () => {
    const a = await make();
    const b = await make();
    await verify(a.secret);
    await verify(a.secret);
    await verify(a.secret);
    expect((await dayRow(a.token.id, DAY0)).valid).toBe(1);
    log.reset();
    await at(T0 + MINUTE_MS);
    await verify(b.secret); // b's first use is due: its batch takes a's two waiting counts along
    expect(log.count(undefined, isBatch)).toBe(1);
    expect((await dayRow(a.token.id, DAY0)).valid).toBe(3);
    expect((await dayRow(b.token.id, DAY0)).valid).toBe(1);
  });

  it("never writes a count twice, and a deleted token's counts are dropped without failing the batch", async () => {
    const a = await make();
    const b = await make();
    await verify(a.secret);
    await verify(a.secret);
    expect((await api("DELETE", `/api/orgs/acme/tokens/${a.token.id}`, { cookie })).status).toBe(204);
    expect(await verify(a.secret)).toMatchObject({ result: 6 }); // its tombstone still names it
    await at(T0 + LAST_USED_WRITE_INTERVAL_MS);
    await verify(b.secret);
    await at(T0 + 2 * LAST_USED_WRITE_INTERVAL_MS);
    await verify(b.secret);
    expect(await dayRow(b.token.id, DAY0)).toEqual({ day: DAY0, valid: 2, denied: 0, dead: 0 });
    expect(await lastUsedAt(b.token.id)).toBe(T0 + 2 * LAST_USED_WRITE_INTERVAL_MS);
    expect(await countRows("SELECT count(*) AS n FROM token_daily_counts WHERE token_id = ?1", a.token.id)).toBe(0);
  });

  it("introspection is not a use and counts nothing", async () => {
    const { token, secret } = await make();
    const caller = await make({ admin: true, permissions: ["tokens:introspect"] });
    const res = await api("POST", "/oauth/introspect", {
      token: caller.secret,
      rawBody: new URLSearchParams({ token: secret }).toString(),
      headers: { "content-type": "application/x-www-form-urlencoded" },
      bindings: counted,
    });
    expect(res.body.active).toBe(true);
    expect(await dayRow(token.id, DAY0)).toEqual({ day: DAY0, valid: 0, denied: 0, dead: 0 });
  });
});

describe("attempts on dead tokens", () => {
  it("are counted on the token with their last address, and never move lastUsedAt", async () => {
    const { token, secret } = await make();
    await verify(secret);
    expect(await lastUsedAt(token.id)).toBe(T0);
    await at(T0 + HOUR);
    expect((await api("POST", `/api/orgs/acme/tokens/${token.id}/revoke`, { cookie })).status).toBe(200);
    expect((await tokenOf(token.id)).deadAttempts).toBeNull();
    await at(T0 + 2 * HOUR);
    expect(await verify(secret, {}, "203.0.113.9")).toMatchObject({ result: 6 }); // due: written at once
    for (let i = 0; i < 12; i++) await verify(secret, {}, "203.0.113.9");
    await at(T0 + 2 * HOUR + MINUTE_MS);
    // Another address within the interval writes nothing: a dead secret from many addresses costs no more.
    log.reset();
    await verify(secret, {}, "192.0.2.44");
    expect(log.count("DB")).toBe(0);
    expect((await tokenOf(token.id)).deadAttempts).toMatchObject({ count: 1, lastIp: "203.0.113.9" });
    await at(T0 + 2 * HOUR + LAST_USED_WRITE_INTERVAL_MS);
    await verify(secret, {}, "192.0.2.45"); // due again: the 13 waiting go with it
    expect(await lastUsedAt(token.id)).toBe(T0);
    expect((await tokenOf(token.id)).deadAttempts).toEqual({
      count: 15,
      since: iso(T0 + HOUR),
      lastAt: iso(T0 + 2 * HOUR + LAST_USED_WRITE_INTERVAL_MS),
      lastIp: "192.0.2.45",
    });
    expect(await dayRow(token.id, DAY0)).toEqual({ day: DAY0, valid: 1, denied: 0, dead: 15 });
    expect((await usageOf(token.id)).addresses.map((a: { ip: string }) => a.ip)).toEqual([IP]);
  });

  it("counts expired and disabled tokens too, starting over when the token dies again", async () => {
    const expiring = await make({ expiresAt: iso(T0 + HOUR) });
    await at(T0 + 2 * HOUR);
    expect(await verify(expiring.secret)).toMatchObject({ result: 4 });
    expect((await tokenOf(expiring.token.id)).deadAttempts).toMatchObject({ count: 1, since: iso(T0 + HOUR) });

    const { token, secret } = await make();
    expect((await api("POST", `/api/orgs/acme/tokens/${token.id}/disable`, { cookie })).status).toBe(200);
    expect(await verify(secret)).toMatchObject({ result: 5 });
    expect((await tokenOf(token.id)).deadAttempts).toMatchObject({ count: 1, since: iso(T0 + 2 * HOUR) });
    await at(T0 + 3 * HOUR);
    expect((await api("POST", `/api/orgs/acme/tokens/${token.id}/enable`, { cookie })).status).toBe(200);
    expect((await tokenOf(token.id)).deadAttempts).toBeNull();
    expect(await verify(secret)).toMatchObject({ result: 0 });
    await at(T0 + 4 * HOUR);
    expect((await api("POST", `/api/orgs/acme/tokens/${token.id}/disable`, { cookie })).status).toBe(200);
    // The attempts of the earlier disabling are not "since it was disabled" now.
    expect((await tokenOf(token.id)).deadAttempts).toBeNull();
    await at(T0 + 5 * HOUR);
    expect(await verify(secret)).toMatchObject({ result: 5 });
    expect((await tokenOf(token.id)).deadAttempts).toEqual({
      count: 1,
      since: iso(T0 + 4 * HOUR),
      lastAt: iso(T0 + 5 * HOUR),
      lastIp: IP,
    });
  });
});

describe("the usage endpoints answer only callers who may see the token", () => {
  it("another organization's admin and a plain member get 404 or 403", async () => {
    const { token } = await make();
    await api("POST", "/api/orgs", { cookie, body: { slug: "other", name: "Other" } });
    expect((await api("GET", `/api/orgs/other/tokens/${token.id}/usage`, { cookie })).status).toBe(404);
    expect((await api("GET", `/api/me/tokens/${token.id}/usage`, { cookie })).status).toBe(404);
    expect((await api("GET", `/api/orgs/acme/tokens/${token.id}/usage`)).status).toBe(401);
  });
});

describe("the organization overview", () => {
  it("counts tokens by status, expiring soon and unused, and ranks this week's refusals", async () => {
    await api("POST", "/api/orgs", { cookie, body: { slug: "glance", name: "Glance" } });
    const where = "/api/orgs/glance";
    const mk = async (name: string, over: Record<string, unknown> = {}) => {
      const res = await api("POST", `${where}/tokens`, {
        cookie,
        body: { kind: "org", name, expiresAt: null, projects: "*", permissions: ["analysis:execute"], ...over },
      });
      expect(res.status, JSON.stringify(res.body)).toBe(201);
      return res.body as { token: { id: string }; secret: string };
    };
    await at(T0 - 40 * DAY_MS);
    const idle = await mk("idle since long");
    await at(T0);
    const soon = await mk("expires in 3 days", { expiresAt: iso(T0 + 3 * DAY_MS) });
    const later = await mk("expires in 20 days", { expiresAt: iso(T0 + 20 * DAY_MS) });
    const noisy = await mk("noisy");
    const dead = await mk("dead");
    expect((await api("POST", `${where}/tokens/${dead.token.id}/revoke`, { cookie })).status).toBe(200);
    await verify(soon.secret);
    await verify(later.secret);
    for (let i = 0; i < 3; i++) await verify(noisy.secret, { permission: ["project:admin"] });
    for (let i = 0; i < 2; i++) await verify(dead.secret);
    // Eight days ago: outside this week's ranking.
    await env.DB.prepare(
      "INSERT INTO token_daily_counts (token_id, day, valid, denied, dead) VALUES (?1, ?2, 0, 50, 0)",
    )
      .bind(later.token.id, Date.UTC(2026, 10, 14))
      .run();
    await at(T0 + LAST_USED_WRITE_INTERVAL_MS);
    await verify(noisy.secret); // flushes what waits
    const res = await api("GET", `${where}/overview`, { cookie });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      statuses: { active: 3, expiring: 1, expired: 0, disabled: 0, revoked: 1 },
      expiring: { days7: 1, days30: 2 },
      unused: 1,
      week: { valid: 3, denied: 3, dead: 2 },
      refused: [
        { id: noisy.token.id, name: "noisy", kind: "org", status: "active", denied: 3, dead: 0 },
        { id: dead.token.id, name: "dead", kind: "org", status: "revoked", denied: 0, dead: 2 },
      ],
    });
    expect(idle.token.id).toBeTruthy();
  });

  it("is refused to plain members and to strangers", async () => {
    expect((await api("GET", "/api/orgs/acme/overview")).status).toBe(401);
    await addPerson({ cookie }, "acme", { email: "plain@acme.test", role: "org_member", password: PW });
    const member = await sudoSession("plain@acme.test", PW);
    expect((await api("GET", "/api/orgs/acme/overview", { cookie: member })).status).toBe(403);
    await api("POST", "/api/orgs", { cookie, body: { slug: "stranger", name: "Stranger" } });
    await addPerson({ cookie }, "stranger", { email: "admin@stranger.test", role: "org_admin", password: PW });
    const stranger = await sudoSession("admin@stranger.test", PW);
    expect((await api("GET", "/api/orgs/acme/overview", { cookie: stranger })).status).toBe(404);
    expect((await api("GET", "/api/orgs/stranger/overview", { cookie: stranger })).status).toBe(200);
  });
});

describe("retention", () => {
  it("drops days older than the usage window and keeps the window", async () => {
    const { token } = await make();
    const insert = (day: number) =>
      env.DB.prepare("INSERT INTO token_daily_counts (token_id, day, valid, denied, dead) VALUES (?1, ?2, 1, 0, 0)")
        .bind(token.id, day)
        .run();
    const today = Date.UTC(2026, 10, 22);
    await insert(today - USAGE_WINDOW_DAYS * DAY_MS);
    await insert(today - (USAGE_WINDOW_DAYS - 1) * DAY_MS);
    await insert(today);
    await runCronAt(T0);
    const left = await env.DB.prepare("SELECT day FROM token_daily_counts WHERE token_id = ?1 ORDER BY day")
      .bind(token.id)
      .all<{ day: number }>();
    expect(left.results.map((r) => r.day)).toEqual([today - (USAGE_WINDOW_DAYS - 1) * DAY_MS, today]);
  });
});

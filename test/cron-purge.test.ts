import { env } from "cloudflare:workers";
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { RunBudget } from "../worker/cron/budget";
import { CRON_CHUNK_ROWS, PURGE_UNUSED_AFTER_DAYS } from "../worker/cron/schedule";
import { runCronJobs } from "../worker/cron/scheduled";
import { DAY_MS, HOUR_MS } from "../worker/limits";
import { disableToken, revokeToken } from "../worker/tokens/store";
import { cachedEntry, countRows, jobStatus, resetJobState, runCronAt, tokenExists, verifyBearer } from "./support/cron";
import { storeEnv } from "./support/d1";
import { makeOrg, makeToken, testActor } from "./support/fixtures";

const NOW = Date.UTC(2026, 10, 22, 12, 0, 0);
const PURGE_MS = PURGE_UNUSED_AFTER_DAYS * DAY_MS;

beforeAll(() => {
  vi.useFakeTimers({ toFake: ["Date"] });
});
afterAll(() => {
  vi.useRealTimers();
});
beforeEach(resetJobState);

const purgedEvents = (id: string) =>
  countRows("SELECT count(*) AS n FROM audit_events WHERE action = 'token.purged' AND target_id = ?1", id);
const setLastUsed = (id: string, at: number) =>
  env.DB.prepare("UPDATE tokens SET last_used_at = ?2 WHERE id = ?1").bind(id, at).run();

describe("the 60-day purge", () => {
  it("keeps a token used 59 days 23 hours ago and deletes one used 60 days ago, with one event each", async () => {
    const org = await makeOrg(NOW - 400 * DAY_MS);
    const recent = await makeToken(org, { name: "used 59d23h ago" }, NOW - 200 * DAY_MS);
    const stale = await makeToken(org, { name: "used 60d ago" }, NOW - 200 * DAY_MS);
    await setLastUsed(recent.token.id, NOW - PURGE_MS + HOUR_MS);
    await setLastUsed(stale.token.id, NOW - PURGE_MS);

    await runCronAt(NOW);

    expect(await tokenExists(recent.token.id)).toBe(true);
    expect(await tokenExists(stale.token.id)).toBe(false);
    expect(await purgedEvents(stale.token.id)).toBe(1);
    expect(await purgedEvents(recent.token.id)).toBe(0);
    const event = await env.DB.prepare(
      "SELECT org_id, actor_type, detail FROM audit_events WHERE action = 'token.purged' AND target_id = ?1",
    )
      .bind(stale.token.id)
      .first<{ org_id: string; actor_type: string; detail: string }>();
    expect(event).toMatchObject({ org_id: org.orgId, actor_type: "system" });
    expect(JSON.parse(event!.detail)).toMatchObject({
      name: "used 60d ago",
      lastUsedAt: NOW - PURGE_MS,
      unusedDays: PURGE_UNUSED_AFTER_DAYS,
    });

    // Idempotent: a rerun finds nothing more and writes no second event.
    await runCronAt(NOW + 60_000);
    expect(await purgedEvents(stale.token.id)).toBe(1);
    expect(await tokenExists(recent.token.id)).toBe(true);
  });

  it("counts from creation for a token never used: 60 days goes, 59 days 23 hours stays", async () => {
    const org = await makeOrg(NOW - 400 * DAY_MS);
    const old = await makeToken(org, { name: "never used, made 60d ago" }, NOW - PURGE_MS);
    const younger = await makeToken(org, { name: "never used, made 59d23h ago" }, NOW - PURGE_MS + HOUR_MS);

    await runCronAt(NOW);

    expect(await tokenExists(old.token.id)).toBe(false);
    expect(await purgedEvents(old.token.id)).toBe(1);
    expect(await tokenExists(younger.token.id)).toBe(true);
  });

  it("never purges a token that has an expiry, however long unused", async () => {
    const org = await makeOrg(NOW - 400 * DAY_MS);
    const made = NOW - 300 * DAY_MS;
    const withExpiry = await makeToken(org, { name: "expires next year", expiresAt: NOW + 60 * DAY_MS }, made);
    await setLastUsed(withExpiry.token.id, made + DAY_MS);

    await runCronAt(NOW);

    expect(await tokenExists(withExpiry.token.id)).toBe(true);
    expect(await purgedEvents(withExpiry.token.id)).toBe(0);
  });

  it("purges disabled tokens too, but leaves revoked ones to the 30-day retention", async () => {
    const org = await makeOrg(NOW - 400 * DAY_MS);
    const made = NOW - 100 * DAY_MS;
    const disabled = await makeToken(org, { name: "disabled" }, made);
    const revoked = await makeToken(org, { name: "revoked last week" }, made);
    await disableToken(storeEnv(env), org.orgId, disabled.token.id, testActor, made + DAY_MS);
    await revokeToken(storeEnv(env), org.orgId, revoked.token.id, testActor, NOW - 7 * DAY_MS);

    await runCronAt(NOW);

    expect(await tokenExists(disabled.token.id)).toBe(false);
    expect(await tokenExists(revoked.token.id)).toBe(true);
    expect(await purgedEvents(revoked.token.id)).toBe(0);
  });

  it("overwrites the cache entry of a purged token, so it stops verifying where it is cached", async () => {
    const org = await makeOrg(NOW - 400 * DAY_MS);
    const cached = await makeToken(org, { name: "cached" }, NOW - 100 * DAY_MS);
    // The entry a verification in the last minutes would have left in KV.
    const before = await cachedEntry(cached.secret);
    expect(before?.token?.revokedAt).toBeNull();

    await runCronAt(NOW);

    const after = await cachedEntry(cached.secret);
    expect(after!.v).toBeGreaterThan(before!.v);
    expect(after!.token?.revokedAt).toBe(NOW);
    const answer = await verifyBearer(cached.secret);
    expect(answer.status).toBe(401);
  });

  it("reads the age from PURGE_UNUSED_AFTER_DAYS, and falls back to 60 days when it is not a whole number", async () => {
    const org = await makeOrg(NOW - 400 * DAY_MS);
    const thirtyOne = await makeToken(org, { name: "unused 31 days" }, NOW - 31 * DAY_MS);

    await runCronAt(NOW, { ...env, PURGE_UNUSED_AFTER_DAYS: "not a number" as "60" });
    expect(await tokenExists(thirtyOne.token.id)).toBe(true);

    await runCronAt(NOW + 60_000, { ...env, PURGE_UNUSED_AFTER_DAYS: "30" as "60" });
    expect(await tokenExists(thirtyOne.token.id)).toBe(false);
  });

  it("stops when the run's budget is spent, says so, and the next run resumes", async () => {
    const org = await makeOrg(NOW - 400 * DAY_MS);
    const made = NOW - 90 * DAY_MS;
    await env.DB.prepare(
      `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 120)
       INSERT INTO tokens (id, kind, org_id, name, all_projects, hash, hint, created_at, created_by, updated_at)
       SELECT printf('budget-%03d', i), 'org', ?1, 'idle ' || i, 1, printf('budget-hash-%03d', i), 'tso_…0000', ?2 + i, 'system', ?2 FROM n`,
    )
      .bind(org.orgId, made)
      .run();
    const left = () => countRows("SELECT count(*) AS n FROM tokens WHERE id LIKE 'budget-%'");
    // Enough D1 queries for the other jobs' empty scans and one purge chunk (a select and a batch); KV is
    // not what runs short here.
    const small = () => new RunBudget({ d1: 5, kv: 1_000, webhooks: 10, timeMs: 30_000 });

    const first = await runCronJobs(env, { clock: () => NOW, budget: small() });
    expect(first.jobs.find((j) => j.name === "purge")).toMatchObject({
      done: false,
      counts: { purged: CRON_CHUNK_ROWS },
    });
    expect(await left()).toBe(120 - CRON_CHUNK_ROWS);

    await runCronJobs(env, { clock: () => NOW, budget: small() });
    const third = await runCronJobs(env, { clock: () => NOW, budget: small() });
    expect(await left()).toBe(0);
    expect(third.jobs.find((j) => j.name === "purge")).toMatchObject({ counts: { purged: 120 - 2 * CRON_CHUNK_ROWS } });
    // With room to look at everything, the job finds nothing left and says it is done.
    const full = await runCronJobs(env, { clock: () => NOW });
    expect(full.jobs.find((j) => j.name === "purge")).toMatchObject({ done: true, counts: { purged: 0 } });
    expect(
      await countRows(
        "SELECT count(*) AS n FROM audit_events WHERE action = 'token.purged' AND org_id = ?1",
        org.orgId,
      ),
    ).toBe(120);
  });

  it("reports what it did in the job's summary", async () => {
    const org = await makeOrg(NOW - 400 * DAY_MS);
    await makeToken(org, { name: "a" }, NOW - 90 * DAY_MS);
    await makeToken(org, { name: "b" }, NOW - 90 * DAY_MS);

    await runCronAt(NOW);

    const status = await jobStatus("purge");
    expect(status.running).toBe(false);
    expect(status.lastRunAt).toBe(new Date(NOW).toISOString());
    expect(status.summary).toMatchObject({ trigger: "cron", done: true, counts: { purged: 2 }, errors: [] });
  });
});

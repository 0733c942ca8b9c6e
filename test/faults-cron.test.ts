import { env } from "cloudflare:workers";
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { CRON_CHUNK_ROWS, CRON_LEASE_MS } from "../worker/cron/schedule";
import { DAY_MS, HOUR_MS, MINUTE_MS } from "../worker/limits";
import { countRows, jobStatus, resetJobState, runCronAt, verifyBearer } from "./support/cron";
import { makeOrg, makeToken, type OrgFixture } from "./support/fixtures";
import { resetIsolateCaches } from "./support/isolate";

// The cron trigger under injected faults: a D1 batch that fails half-way through a job, and a run
// that died holding its lease. The run must finish (the trigger never throws), the other jobs must
// still run, and the next run must finish the work with each effect exactly once.

const NOW = Date.UTC(2026, 10, 22, 12, 0, 0);
const INTERVAL = 15 * MINUTE_MS;
// These tests make over a hundred tokens through the real store: generous for a busy machine.
const SLOW = { timeout: 60_000 };

beforeAll(() => vi.useFakeTimers({ toFake: ["Date"] }));
afterAll(() => vi.useRealTimers());
beforeEach(async () => {
  await resetJobState();
  resetIsolateCaches();
});

/**
 * D1 whose `batch` fails the `nth` time (from 1) it carries a statement matching `pattern`; every other
 * call goes through. Statements remember their SQL through `bind`, as drizzle's and the jobs' do.
 */
function failingBatch(db: D1Database, pattern: RegExp, nth: number): { db: D1Database; failures: () => number } {
  const sqlOf = new WeakMap<D1PreparedStatement, string>();
  const remember = (stmt: D1PreparedStatement, sql: string): D1PreparedStatement => {
    sqlOf.set(stmt, sql);
    const bind = stmt.bind.bind(stmt);
    stmt.bind = (...values: unknown[]) => remember(bind(...values), sql);
    return stmt;
  };
  let seen = 0;
  let failed = 0;
  const wrapped = new Proxy(db, {
    get(target, prop) {
      if (prop === "prepare") return (sql: string) => remember(target.prepare(sql), sql);
      if (prop === "batch") {
        return (statements: D1PreparedStatement[]) => {
          if (statements.some((s) => pattern.test(sqlOf.get(s) ?? "")) && ++seen === nth) {
            failed++;
            return Promise.reject(new Error("D1 batch failed (test)"));
          }
          return target.batch(statements);
        };
      }
      const value = Reflect.get(target, prop, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  return { db: wrapped, failures: () => failed };
}

const events = (action: string, orgId: string) => countRows("SELECT count(*) AS n FROM audit_events WHERE action = ?1 AND org_id = ?2", action, orgId);
const perTokenMax = (action: string, orgId: string) =>
  countRows("SELECT coalesce(max(c), 0) AS n FROM (SELECT count(*) AS c FROM audit_events WHERE action = ?1 AND org_id = ?2 GROUP BY target_id)", action, orgId);

/** `count` tokens of a fresh organization that expired an hour before NOW. */
async function expiredTokens(count: number): Promise<{ org: OrgFixture; secrets: string[] }> {
  vi.setSystemTime(NOW - 10 * DAY_MS);
  const org = await makeOrg(NOW - 10 * DAY_MS);
  const secrets: string[] = [];
  for (let i = 0; i < count; i++) {
    secrets.push((await makeToken(org, { name: `expiring ${i}`, expiresAt: NOW - HOUR_MS }, NOW - 10 * DAY_MS)).secret);
  }
  return { org, secrets };
}

describe("a failed batch in the middle of a job", () => {
  it("expiry: the run finishes and the other jobs run; the next run completes with one event per token", SLOW, async () => {
    const total = 2 * CRON_CHUNK_ROWS + 10;
    const { org } = await expiredTokens(total);
    const faulty = failingBatch(env.DB, /'token\.expired'/, 2);

    await runCronAt(NOW, { ...env, DB: faulty.db });
    expect(faulty.failures()).toBe(1);
    const failed = await jobStatus("expiry");
    expect(failed.running).toBe(false);
    expect(failed.summary).toMatchObject({ done: false });
    expect(failed.summary!.errors.join(" ")).toMatch(/D1 batch failed/);
    // The chunk before the failure is committed, the failed one left no trace.
    expect(await events("token.expired", org.orgId)).toBe(CRON_CHUNK_ROWS);
    for (const name of ["notices", "purge", "retention"] as const) {
      expect((await jobStatus(name)).lastRunAt, name).toBe(new Date(NOW).toISOString());
    }

    await runCronAt(NOW + INTERVAL);
    expect(await events("token.expired", org.orgId)).toBe(total);
    expect(await perTokenMax("token.expired", org.orgId)).toBe(1);
    expect((await jobStatus("expiry")).summary).toMatchObject({ done: true, errors: [] });
  });

  it("purge: a failed delete batch deletes nothing of its chunk, and the next run purges the rest once", SLOW, async () => {
    vi.setSystemTime(NOW - 90 * DAY_MS);
    const org = await makeOrg(NOW - 90 * DAY_MS);
    const total = CRON_CHUNK_ROWS + 5;
    for (let i = 0; i < total; i++) await makeToken(org, { name: `idle ${i}` }, NOW - 90 * DAY_MS);
    const tokensLeft = () => countRows("SELECT count(*) AS n FROM tokens WHERE org_id = ?1", org.orgId);
    const faulty = failingBatch(env.DB, /'token\.purged'/, 1);

    await runCronAt(NOW, { ...env, DB: faulty.db });
    expect(faulty.failures()).toBe(1);
    expect(await tokensLeft()).toBe(total);
    expect(await events("token.purged", org.orgId)).toBe(0);
    expect((await jobStatus("retention")).lastRunAt).toBe(new Date(NOW).toISOString());

    await runCronAt(NOW + INTERVAL);
    expect(await tokensLeft()).toBe(0);
    expect(await events("token.purged", org.orgId)).toBe(total);
    expect(await perTokenMax("token.purged", org.orgId)).toBe(1);
  });

  it("a failing trigger never lets an expired token verify", async () => {
    const { secrets } = await expiredTokens(1);
    await runCronAt(NOW, { ...env, DB: failingBatch(env.DB, /'token\.expired'/, 1).db });
    resetIsolateCaches();
    expect(await verifyBearer(secrets[0]!)).toMatchObject({ status: 401, result: 4 });
  });
});

describe("a run that died holding a lease", () => {
  it("blocks its job until the lease ends, then the next run does the work", async () => {
    const { org } = await expiredTokens(3);
    await env.DB.prepare("INSERT INTO job_state (name, lease_until, lease_owner) VALUES ('expiry', ?1, 'a run that died')")
      .bind(NOW + CRON_LEASE_MS)
      .run();

    await runCronAt(NOW + MINUTE_MS);
    expect(await events("token.expired", org.orgId)).toBe(0);
    expect((await jobStatus("purge")).lastRunAt).toBe(new Date(NOW + MINUTE_MS).toISOString());

    await runCronAt(NOW + CRON_LEASE_MS);
    expect(await events("token.expired", org.orgId)).toBe(3);
    expect((await jobStatus("expiry")).running).toBe(false);
  });
});

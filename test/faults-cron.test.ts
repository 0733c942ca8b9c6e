import { env } from "cloudflare:workers";
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { CRON_CHUNK_ROWS, CRON_LEASE_MS } from "../worker/cron/schedule";
import { DAY_MS, HOUR_MS, KV_TOKEN_KEY_PREFIX, MINUTE_MS } from "../worker/limits";
import type { CachedToken, CacheEntry } from "../worker/tokens/cached";
import { hashToken } from "../worker/tokens/hash";
import { memoryCache } from "../worker/tokens/memory-cache";
import { tokenStatus } from "../worker/tokens/status";
import { deleteToken, editToken, revokeToken } from "../worker/tokens/store";
import { cachedEntry, countRows, jobStatus, resetJobState, runCronAt, tokenExists, verifyBearer } from "./support/cron";
import { hookD1, storeEnv } from "./support/d1";
import { BindingDown } from "./support/failing";
import { makeOrg, makeToken, type OrgFixture, testActor } from "./support/fixtures";
import { countingEnv, type IoCall } from "./support/io";
import { resetIsolateCaches } from "./support/isolate";
import { dropFromKv, kvKeyOf } from "./support/kv-entries";

// The cron trigger under injected faults: a D1 batch that fails half-way through a job, KV failing
// while tokens are deleted, and a run that died holding its lease. The run must finish (the trigger
// never throws), the other jobs must still run, the next run must finish the work with each effect
// exactly once, and no token D1 no longer has may verify from a cache at any moment.

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
 * D1 whose `batch`, each time it carries a statement matching `pattern`, first runs `intercept` with the
 * count of such batches so far (from 1); `intercept` throwing fails the batch. Every other call goes
 * through. Statements remember their SQL through `bind`, as drizzle's and the jobs' do.
 */
function interceptBatch(db: D1Database, pattern: RegExp, intercept: (nth: number) => Promise<void>): D1Database {
  const sqlOf = new WeakMap<D1PreparedStatement, string>();
  const remember = (stmt: D1PreparedStatement, sql: string): D1PreparedStatement => {
    sqlOf.set(stmt, sql);
    const bind = stmt.bind.bind(stmt);
    stmt.bind = (...values: unknown[]) => remember(bind(...values), sql);
    return stmt;
  };
  let seen = 0;
  return hookD1(db, {
    prepare: (target, sql) => remember(target.prepare(sql), sql),
    batch: async (target, statements) => {
      if (statements.some((s) => pattern.test(sqlOf.get(s) ?? ""))) await intercept(++seen);
      return target.batch(statements);
    },
  });
}

/** D1 whose `batch` fails the `nth` time (from 1) it carries a statement matching `pattern`. */
function failingBatch(db: D1Database, pattern: RegExp, nth: number): { db: D1Database; failures: () => number } {
  let failed = 0;
  const wrapped = interceptBatch(db, pattern, async (seen) => {
    if (seen !== nth) return;
    failed++;
    // As D1 words it; the log and the summary keep its codes, never the text between (it can quote values).
    throw new Error("D1_ERROR: D1 batch failed (test): SQLITE_BUSY");
  });
  return { db: wrapped, failures: () => failed };
}

const events = (action: string, orgId: string) =>
  countRows("SELECT count(*) AS n FROM audit_events WHERE action = ?1 AND org_id = ?2", action, orgId);
const perTokenMax = (action: string, orgId: string) =>
  countRows(
    "SELECT coalesce(max(c), 0) AS n FROM (SELECT count(*) AS c FROM audit_events WHERE action = ?1 AND org_id = ?2 GROUP BY target_id)",
    action,
    orgId,
  );

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
  it(
    "expiry: the run finishes and the other jobs run; the next run completes with one event per token",
    SLOW,
    async () => {
      const total = 2 * CRON_CHUNK_ROWS + 10;
      const { org } = await expiredTokens(total);
      const faulty = failingBatch(env.DB, /'token\.expired'/, 2);

      await runCronAt(NOW, { ...env, DB: faulty.db });
      expect(faulty.failures()).toBe(1);
      const failed = await jobStatus("expiry");
      expect(failed.running).toBe(false);
      expect(failed.summary).toMatchObject({ done: false });
      expect(failed.summary!.errors.join(" ")).toBe("the job stopped: Error (D1_ERROR, SQLITE_BUSY)");
      // The chunk before the failure is committed, the failed one left no trace.
      expect(await events("token.expired", org.orgId)).toBe(CRON_CHUNK_ROWS);
      for (const name of ["notices", "purge", "retention"] as const) {
        expect((await jobStatus(name)).lastRunAt, name).toBe(new Date(NOW).toISOString());
      }

      await runCronAt(NOW + INTERVAL);
      expect(await events("token.expired", org.orgId)).toBe(total);
      expect(await perTokenMax("token.expired", org.orgId)).toBe(1);
      expect((await jobStatus("expiry")).summary).toMatchObject({ done: true, errors: [] });
    },
  );

  it(
    "purge: a failed delete batch deletes nothing of its chunk, and the next run purges the rest once",
    SLOW,
    async () => {
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
    },
  );

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
    await env.DB.prepare(
      "INSERT INTO job_state (name, lease_until, lease_owner) VALUES ('expiry', ?1, 'a run that died')",
    )
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

/** Would a verification answer "valid" from this cached state? */
const verifiesFrom = (token: CachedToken, now: number) =>
  !token.ownerLeft && ["active", "expiring"].includes(tokenStatus(token, now));

interface Watched {
  id: string;
  secret: string;
}

/**
 * `base` seen through counting bindings: a KV call for which `kvFails` says so throws, and after every
 * call that goes through, the invariant is checked for `watched`: a token whose row is gone has neither a
 * KV entry nor an entry in this isolate's memory that would verify it. Breaches land in `violations`.
 */
function watchedEnv(watched: Watched[], kvFails: (call: IoCall) => boolean = () => false, base: Env = env) {
  const { env: bindings, log } = countingEnv(base);
  const violations: string[] = [];
  log.around = async (call, proceed) => {
    if (call.binding === "TOKEN_CACHE" && kvFails(call)) throw new BindingDown(call);
    const result = await proceed();
    for (const t of watched) {
      if (await tokenExists(t.id)) continue;
      const hash = await hashToken(env.TOKEN_PEPPER, t.secret);
      const kv = await env.TOKEN_CACHE.get<CacheEntry>(KV_TOKEN_KEY_PREFIX + hash, "json");
      const memory = memoryCache.get(hash, Date.now());
      for (const [tier, entry] of [
        ["KV", kv],
        ["memory", memory],
      ] as const) {
        if (entry?.token && verifiesFrom(entry.token, Date.now()))
          violations.push(`after ${call.binding}.${call.op}: ${t.id} is gone but ${tier} says valid`);
      }
    }
    return result;
  };
  return { env: bindings, violations };
}

/** A token with no expiry, unused for 90 days (due for the purge at NOW), cached in KV as `createToken` leaves it. */
async function idleToken(name: string): Promise<{ org: OrgFixture; watched: Watched; cached: CacheEntry }> {
  vi.setSystemTime(NOW - 90 * DAY_MS);
  const org = await makeOrg(NOW - 90 * DAY_MS);
  const { token, secret } = await makeToken(org, { name }, NOW - 90 * DAY_MS);
  const cached = await cachedEntry(secret);
  expect(cached?.token?.revokedAt).toBeNull();
  return { org, watched: { id: token.id, secret }, cached: cached! };
}

describe("KV failing while the cron deletes tokens", () => {
  it("purge: the token keeps its row and its entry, the next run purges it once, and a purged token never verifies", async () => {
    const { org, watched, cached } = await idleToken("idle, cached");

    const down = watchedEnv([watched], () => true);
    await runCronAt(NOW, down.env);
    expect(await tokenExists(watched.id)).toBe(true);
    expect(await events("token.purged", org.orgId)).toBe(0);
    expect(await cachedEntry(watched.secret)).toEqual(cached);
    const failed = (await jobStatus("purge")).summary!;
    expect(failed.done).toBe(false);
    expect(failed.errors.join(" ")).toMatch(/token cache could not be read/);

    const healthy = watchedEnv([watched]);
    await runCronAt(NOW + INTERVAL, healthy.env);
    expect(await tokenExists(watched.id)).toBe(false);
    expect(await events("token.purged", org.orgId)).toBe(1);
    expect((await cachedEntry(watched.secret))?.token?.revokedAt).toBe(NOW + INTERVAL);
    expect((await jobStatus("purge")).summary).toMatchObject({ done: true, errors: [] });

    expect([...down.violations, ...healthy.violations]).toEqual([]);
    expect(await verifyBearer(watched.secret)).toMatchObject({ status: 401, result: 6 });
    resetIsolateCaches();
    expect(await verifyBearer(watched.secret)).toMatchObject({ status: 401, result: 6 });
  });

  it("purge: when only KV writes fail, a token with no cached entry goes and a cached one stays for the next run", async () => {
    const cachedOne = await idleToken("cached");
    const uncached = await idleToken("not cached");
    await dropFromKv(uncached.watched.secret);
    const watched = [cachedOne.watched, uncached.watched];

    const writesDown = watchedEnv(watched, (call) => call.op === "put");
    await runCronAt(NOW, writesDown.env);
    expect(await tokenExists(uncached.watched.id)).toBe(false);
    expect(await tokenExists(cachedOne.watched.id)).toBe(true);
    expect(await cachedEntry(cachedOne.watched.secret)).toEqual(cachedOne.cached);
    // Not even this isolate's memory keeps the tombstone KV refused.
    expect(
      memoryCache.get(await hashToken(env.TOKEN_PEPPER, cachedOne.watched.secret), Date.now())?.token?.revokedAt ??
        null,
    ).toBeNull();
    expect((await jobStatus("purge")).summary!.errors.join(" ")).toMatch(/1 tombstone could not be written/);

    const healthy = watchedEnv(watched);
    await runCronAt(NOW + INTERVAL, healthy.env);
    expect(await tokenExists(cachedOne.watched.id)).toBe(false);
    for (const { org } of [cachedOne, uncached]) expect(await events("token.purged", org.orgId)).toBe(1);
    expect([...writesDown.violations, ...healthy.violations]).toEqual([]);
    resetIsolateCaches();
    for (const t of watched) expect((await verifyBearer(t.secret)).status).toBe(401);
  });

  it(
    "purge: a failure part-way stops the run at the chunk it hit, and the next run resumes there, each token purged once",
    SLOW,
    async () => {
      const org = await makeOrg(NOW - 400 * DAY_MS);
      const total = 2 * CRON_CHUNK_ROWS + 20;
      await env.DB.prepare(
        `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?3)
       INSERT INTO tokens (id, kind, org_id, name, all_projects, hash, hint, created_at, created_by, updated_at)
       SELECT printf('resume-%03d', i), 'org', ?1, 'idle ' || i, 1, printf('resume-hash-%03d', i), 'tso_…0000', ?2 + i, 'system', ?2 FROM n`,
      )
        .bind(org.orgId, NOW - 90 * DAY_MS, total)
        .run();
      // The read of the second chunk's entries fails once: its first token is the 51st.
      const secondChunk = `resume-hash-${String(CRON_CHUNK_ROWS + 1).padStart(3, "0")}`;
      let failed = 0;
      const flaky = watchedEnv([], (call) => call.op === "get" && call.detail.includes(secondChunk) && failed++ === 0);

      await runCronAt(NOW, flaky.env);
      expect(failed).toBeGreaterThan(0);
      expect(await events("token.purged", org.orgId)).toBe(CRON_CHUNK_ROWS);
      expect((await jobStatus("purge")).summary).toMatchObject({ done: false, counts: { purged: CRON_CHUNK_ROWS } });

      // One more run (not a fresh walk) finishes the job: it resumes at the chunk that failed.
      await runCronAt(NOW + INTERVAL);
      expect(await events("token.purged", org.orgId)).toBe(total);
      expect(await perTokenMax("token.purged", org.orgId)).toBe(1);
      expect(await countRows("SELECT count(*) AS n FROM tokens WHERE org_id = ?1", org.orgId)).toBe(0);
    },
  );

  it("purge: an entry that is there but does not read is overwritten, not taken for absent", async () => {
    const { watched } = await idleToken("unreadable entry");
    await env.TOKEN_CACHE.put(await kvKeyOf(watched.secret), "{not json");

    await runCronAt(NOW);
    expect(await tokenExists(watched.id)).toBe(false);
    const after = await cachedEntry(watched.secret);
    expect(after).toMatchObject({ v: expect.any(Number), token: null });
    resetIsolateCaches();
    expect((await verifyBearer(watched.secret)).status).toBe(401);
  });

  it("purge: a verification's fill landing between the tombstone and the delete is buried again", async () => {
    const { watched, cached } = await idleToken("raced by a fill");
    const key = await kvKeyOf(watched.secret);
    // A fill that re-read KV before the tombstone, then put what it read from D1 after it.
    const racing = interceptBatch(env.DB, /'token\.purged'/, async () => {
      await env.TOKEN_CACHE.put(key, JSON.stringify(cached));
    });

    await runCronAt(NOW, { ...env, DB: racing });
    expect(await tokenExists(watched.id)).toBe(false);
    expect((await cachedEntry(watched.secret))?.token?.revokedAt).toBe(NOW);
    resetIsolateCaches();
    expect(await verifyBearer(watched.secret)).toMatchObject({ status: 401, result: 6 });
  });

  it("purge: a token used between the scan and the delete stays, and its tombstone is withdrawn so it verifies", async () => {
    const { org, watched } = await idleToken("used at the last moment");
    const usedMeanwhile = interceptBatch(env.DB, /'token\.purged'/, async () => {
      await env.DB.prepare("UPDATE tokens SET last_used_at = ?2 WHERE id = ?1").bind(watched.id, NOW).run();
    });

    await runCronAt(NOW, { ...env, DB: usedMeanwhile });
    expect(await tokenExists(watched.id)).toBe(true);
    expect(await events("token.purged", org.orgId)).toBe(0);
    expect((await cachedEntry(watched.secret))?.token?.revokedAt ?? null).toBeNull();
    expect(await verifyBearer(watched.secret)).toMatchObject({ status: 200, result: 0 });
    resetIsolateCaches();
    expect(await verifyBearer(watched.secret)).toMatchObject({ status: 200, result: 0 });
  });

  it("retention: a dead token keeps its row while KV is down, and the next run erases it once; the sweeps still run", async () => {
    vi.setSystemTime(NOW - 90 * DAY_MS);
    const org = await makeOrg(NOW - 90 * DAY_MS);
    const { token, secret } = await makeToken(org, { name: "revoked long ago" }, NOW - 90 * DAY_MS);
    const revokedAt = NOW - 40 * DAY_MS;
    await revokeToken(storeEnv(env), org.orgId, token.id, testActor, revokedAt);
    const before = await cachedEntry(secret);
    const watched = [{ id: token.id, secret }];

    const down = watchedEnv(watched, () => true);
    await runCronAt(NOW, down.env);
    expect(await tokenExists(token.id)).toBe(true);
    expect(await events("token.erased", org.orgId)).toBe(0);
    const failed = (await jobStatus("retention")).summary!;
    expect(failed.done).toBe(false);
    expect(failed.errors.join(" ")).toMatch(/token cache could not be read/);
    expect(failed.counts).toHaveProperty("auditEventsDeleted");

    const healthy = watchedEnv(watched);
    await runCronAt(NOW + INTERVAL, healthy.env);
    expect(await tokenExists(token.id)).toBe(false);
    expect(await events("token.erased", org.orgId)).toBe(1);
    const after = await cachedEntry(secret);
    expect(after!.v).toBeGreaterThan(before!.v);
    expect(after!.token?.revokedAt).toBe(revokedAt);
    expect([...down.violations, ...healthy.violations]).toEqual([]);
    resetIsolateCaches();
    expect(await verifyBearer(secret)).toMatchObject({ status: 401, result: 6 });
  });

  it("expiry needs no retry: its event is written once, and the entry KV kept still cannot verify (its expiry is judged by the clock)", async () => {
    vi.setSystemTime(NOW - DAY_MS);
    const org = await makeOrg(NOW - DAY_MS);
    const { secret } = await makeToken(
      org,
      { name: "expires within the hour", expiresAt: NOW + HOUR_MS },
      NOW - DAY_MS,
    );
    vi.setSystemTime(NOW);
    expect(await verifyBearer(secret)).toMatchObject({ status: 200 });
    const warm = await cachedEntry(secret);

    await runCronAt(NOW + HOUR_MS + MINUTE_MS, watchedEnv([], () => true).env);
    expect(await events("token.expired", org.orgId)).toBe(1);
    expect((await jobStatus("expiry")).summary!.errors.join(" ")).toMatch(/the job stopped: BindingDown/);
    expect(await cachedEntry(secret)).toEqual(warm);
    resetIsolateCaches();
    expect(await verifyBearer(secret)).toMatchObject({ status: 401, result: 4 });

    await runCronAt(NOW + HOUR_MS + INTERVAL);
    expect(await events("token.expired", org.orgId)).toBe(1);
  });
});

describe("deleting a token by hand: the same tombstone, in the same order", () => {
  async function liveToken() {
    vi.setSystemTime(NOW);
    const org = await makeOrg(NOW - DAY_MS);
    const { token, secret } = await makeToken(org, { name: "deleted by hand" }, NOW - DAY_MS);
    expect(await verifyBearer(secret)).toMatchObject({ status: 200, result: 0 });
    return { org, watched: { id: token.id, secret } };
  }

  it("with KV down the delete answers an error and changes nothing; once KV is back it deletes, with one event", async () => {
    const { org, watched } = await liveToken();

    const down = watchedEnv([watched], () => true);
    await expect(deleteToken(storeEnv(down.env), org.orgId, watched.id, testActor, NOW)).rejects.toMatchObject({
      code: "unavailable",
    });
    expect(await tokenExists(watched.id)).toBe(true);
    expect(await events("token.deleted", org.orgId)).toBe(0);
    // Not half-done: this isolate's memory does not say "revoked" either.
    expect(await verifyBearer(watched.secret)).toMatchObject({ status: 200, result: 0 });

    const healthy = watchedEnv([watched]);
    await deleteToken(storeEnv(healthy.env), org.orgId, watched.id, testActor, NOW + MINUTE_MS);
    expect(await tokenExists(watched.id)).toBe(false);
    expect(await events("token.deleted", org.orgId)).toBe(1);
    expect([...down.violations, ...healthy.violations]).toEqual([]);
    expect(await verifyBearer(watched.secret)).toMatchObject({ status: 401, result: 6 });
    resetIsolateCaches();
    expect(await verifyBearer(watched.secret)).toMatchObject({ status: 401, result: 6 });
  });

  it("an edit landing between the tombstone and the delete: the delete starts over, with one event", async () => {
    const { org, watched } = await liveToken();
    const racing = interceptBatch(env.DB, /'token\.deleted'/, async (nth) => {
      if (nth === 1)
        await editToken(storeEnv(env), org.orgId, watched.id, { name: "renamed meanwhile" }, testActor, NOW);
    });
    const run = watchedEnv([watched], () => false, { ...env, DB: racing });

    await deleteToken(storeEnv(run.env), org.orgId, watched.id, testActor, NOW + MINUTE_MS);
    expect(await tokenExists(watched.id)).toBe(false);
    expect(await events("token.deleted", org.orgId)).toBe(1);
    expect(await events("token.updated", org.orgId)).toBe(1);
    expect(run.violations).toEqual([]);
    resetIsolateCaches();
    expect(await verifyBearer(watched.secret)).toMatchObject({ status: 401, result: 6 });
  });

  it("an edit landing between the tombstone and the delete, then KV failing: the token stays, valid in D1 and in KV alike", async () => {
    const { org, watched } = await liveToken();
    let kvDown = false;
    const racing = interceptBatch(env.DB, /'token\.deleted'/, async () => {
      // The edit's refresh puts the token's valid state over the tombstone; then KV goes down.
      await editToken(storeEnv(env), org.orgId, watched.id, { name: "renamed meanwhile" }, testActor, NOW);
      kvDown = true;
    });
    const run = watchedEnv([watched], () => kvDown, { ...env, DB: racing });

    await expect(
      deleteToken(storeEnv(run.env), org.orgId, watched.id, testActor, NOW + MINUTE_MS),
    ).rejects.toMatchObject({
      code: "unavailable",
    });
    expect(await tokenExists(watched.id)).toBe(true);
    expect(await events("token.deleted", org.orgId)).toBe(0);
    expect(run.violations).toEqual([]);
    resetIsolateCaches();
    expect(await verifyBearer(watched.secret)).toMatchObject({ status: 200, result: 0 });
  });
});

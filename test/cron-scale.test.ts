import { env } from "cloudflare:workers";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import {
  CRON_MAX_BATCH_STATEMENTS,
  CRON_MAX_D1_QUERIES,
  CRON_MAX_ROWS_PER_JOB,
  PURGE_UNUSED_AFTER_DAYS,
} from "../worker/cron/schedule";
import { D1_MAX_BOUND_PARAMETERS, DAY_MS, HOUR_MS, MINUTE_MS } from "../worker/limits";
import { countRows, jobStatus, recordingD1, runCronAt } from "./support/cron";
import { makeOrg } from "./support/fixtures";

const NOW = Date.UTC(2026, 10, 22, 12, 0, 0);
const PURGE_MS = PURGE_UNUSED_AFTER_DAYS * DAY_MS;
const TOTAL = 100_000;
const DUE = 30_000;
/** D1's per-invocation query limit on Workers Paid: what one run must stay under. */
const D1_QUERIES_PER_INVOCATION = 1_000;

beforeAll(() => {
  vi.useFakeTimers({ toFake: ["Date"] });
});
afterAll(() => {
  vi.useRealTimers();
});

/**
 * 100,000 tokens in one statement. `i` decides the kind of row:
 *   1-15,000       never used, made 61-75 days ago                      due
 *   15,001-30,000  last used 60-75 days ago                              due
 *   30,001-50,000  last used within the last 59 days                     kept
 *   50,001-70,000  an expiry 100 days ahead, made 300 days ago, unused   kept (has an expiry)
 *   70,001-80,000  never used, made within the last 59 days              kept
 *   80,001-90,000  revoked 10 days ago, last used 90 days ago            kept (retention waits 30 days)
 *   90,001-100,000 last used 60 days minus an hour ago                   kept (the boundary)
 */
async function seed(orgId: string): Promise<void> {
  await env.DB.prepare(
    `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?2)
     INSERT INTO tokens (id, kind, org_id, name, all_projects, hash, hint, expires_at, created_at, created_by, updated_at, last_used_at, revoked_at)
     SELECT printf('scale-%06d', i), 'org', ?1, 'scale ' || i, 1, printf('scale-hash-%06d', i), 'tso_…0000',
       CASE WHEN i BETWEEN 50001 AND 70000 THEN ?3 + 100 * ?4 END,
       CASE
         WHEN i <= 15000 THEN ?3 - 61 * ?4 - (i % 14) * ?4
         WHEN i BETWEEN 70001 AND 80000 THEN ?3 - (i % 59) * ?4 - ?5
         ELSE ?3 - 300 * ?4
       END,
       'system', ?3,
       CASE
         WHEN i <= 15000 OR i BETWEEN 50001 AND 80000 THEN NULL
         WHEN i <= 30000 THEN ?3 - ?6 - (i % 15) * ?4
         WHEN i <= 50000 THEN ?3 - (i % 59) * ?4 - ?5
         WHEN i <= 90000 THEN ?3 - 90 * ?4
         ELSE ?3 - ?6 + ?7
       END,
       CASE WHEN i BETWEEN 80001 AND 90000 THEN ?3 - 10 * ?4 END
     FROM n`,
  )
    .bind(orgId, TOTAL, NOW, DAY_MS, MINUTE_MS, PURGE_MS, HOUR_MS)
    .run();
}

const KEPT = "SELECT count(*) AS n FROM tokens WHERE id > 'scale-030000' AND id LIKE 'scale-%'";

describe("at scale", () => {
  it("purges 30,000 of 100,000 tokens over repeated runs within D1's limits, deleting nothing else", {
    timeout: 180_000,
  }, async () => {
    const org = await makeOrg(NOW - 400 * DAY_MS);
    const seedStarted = performance.now();
    await seed(org.orgId);
    const seedMs = performance.now() - seedStarted;
    expect(await countRows("SELECT count(*) AS n FROM tokens WHERE id LIKE 'scale-%'")).toBe(TOTAL);
    expect(await countRows(KEPT)).toBe(TOTAL - DUE);

    const recorder = recordingD1(env.DB);
    const runEnv = { ...env, DB: recorder.db };
    let runs = 0;
    let mostQueriesInARun = 0;
    const started = performance.now();
    do {
      recorder.usage.queries = 0;
      await runCronAt(NOW, runEnv);
      runs++;
      mostQueriesInARun = Math.max(mostQueriesInARun, recorder.usage.queries);
      expect(runs).toBeLessThan(20);
    } while (!(await jobStatus("purge")).summary!.done);
    const purgeMs = performance.now() - started;

    expect(await countRows("SELECT count(*) AS n FROM tokens WHERE id LIKE 'scale-%'")).toBe(TOTAL - DUE);
    expect(await countRows(KEPT)).toBe(TOTAL - DUE);
    expect(
      await countRows(
        "SELECT count(*) AS n FROM audit_events WHERE action = 'token.purged' AND org_id = ?1",
        org.orgId,
      ),
    ).toBe(DUE);
    expect(
      await countRows(
        "SELECT count(DISTINCT target_id) AS n FROM audit_events WHERE action = 'token.purged' AND org_id = ?1",
        org.orgId,
      ),
    ).toBe(DUE);

    expect(recorder.usage.maxBoundParameters).toBeLessThanOrEqual(D1_MAX_BOUND_PARAMETERS);
    expect(recorder.usage.maxBatchStatements).toBeLessThanOrEqual(CRON_MAX_BATCH_STATEMENTS);
    expect(mostQueriesInARun).toBeLessThanOrEqual(Math.min(D1_QUERIES_PER_INVOCATION, CRON_MAX_D1_QUERIES + 8));
    // Bounded per run: the 30,000 took several runs, each doing at most its share.
    expect(runs).toBeGreaterThanOrEqual(Math.ceil(DUE / CRON_MAX_ROWS_PER_JOB));

    console.log(
      `scale: seeded ${TOTAL} tokens in ${Math.round(seedMs)} ms; purged ${DUE} in ${runs} runs, ${Math.round(purgeMs)} ms; ` +
        `at most ${mostQueriesInARun} D1 queries in a run, ${recorder.usage.maxBoundParameters} bound parameters in a statement, ` +
        `${recorder.usage.maxBatchStatements} statements in a batch`,
    );
  });
});

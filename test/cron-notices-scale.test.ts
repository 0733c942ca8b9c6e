import { env } from "cloudflare:workers";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { CRON_MAX_BATCH_STATEMENTS, CRON_MAX_D1_QUERIES, CRON_MAX_WEBHOOKS } from "../worker/cron/schedule";
import { D1_MAX_BOUND_PARAMETERS, DAY_MS, HOUR_MS } from "../worker/limits";
import { countRows, jobStatus, recordingD1, runCronAt } from "./support/cron";
import { makeOrg } from "./support/fixtures";
import { webhookSecret } from "./support/webhooks";

// Expiry notices and purge warnings among 100,000 tokens: the scans stay within one run's budget, resume,
// and send each due notice once, and nothing to anyone else.

const NOW = Date.UTC(2026, 11, 2, 12, 0, 0);
const TOTAL = 100_000;
const WARN = 400;
const EXPIRING = 200;
const D1_QUERIES_PER_INVOCATION = 1_000;

beforeAll(() => {
  vi.useFakeTimers({ toFake: ["Date"] });
});
afterAll(() => {
  vi.useRealTimers();
});

/**
 * `i` decides the row:
 *   1-400          never used, no expiry, made 54-59 days ago      a purge warning due
 *   401-600        expiring in 1-29 days                           an expiry notice due
 *   601-50,000     no expiry, made 10 days ago                     nothing
 *   50,001-100,000 expiring in 40-89 days                          nothing (beyond the 30-day lead time)
 */
async function seed(orgId: string): Promise<void> {
  await env.DB.prepare(
    `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?2)
     INSERT INTO tokens (id, kind, org_id, name, all_projects, hash, hint, expires_at, created_at, created_by, updated_at)
     SELECT printf('ns-%06d', i), 'org', ?1, 'ns ' || i, 1, printf('ns-hash-%06d', i), 'tso_…0000',
       CASE WHEN i BETWEEN 401 AND 600 THEN ?3 + (1 + i % 29) * ?4 - ?5
            WHEN i > 50000 THEN ?3 + (40 + i % 50) * ?4 END,
       CASE WHEN i <= 400 THEN ?3 - (54 + i % 6) * ?4 ELSE ?3 - 10 * ?4 END,
       'system', ?3
     FROM n`,
  )
    .bind(orgId, TOTAL, NOW, DAY_MS, HOUR_MS)
    .run();
}

describe("notices at scale", () => {
  it("warns 400 idle tokens and notifies 200 expiring ones among 100,000, once each, within every run's budget", {
    timeout: 180_000,
  }, async () => {
    const org = await makeOrg(NOW - 400 * DAY_MS);
    await env.DB.prepare(
      "UPDATE organizations SET webhook_url = 'https://hooks.scale.test/t', webhook_secret = ?2 WHERE id = ?1",
    )
      .bind(org.orgId, webhookSecret("scale"))
      .run();
    await seed(org.orgId);
    const ids: string[] = [];
    vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
      ids.push(JSON.parse(await new Request(input, init).text()).id);
      return new Response(null, { status: 204 });
    });

    const recorder = recordingD1(env.DB);
    let runs = 0;
    let mostQueries = 0;
    do {
      recorder.usage.queries = 0;
      await runCronAt(NOW + runs * 15 * 60_000, { ...env, DB: recorder.db });
      runs++;
      mostQueries = Math.max(mostQueries, recorder.usage.queries);
      expect(runs).toBeLessThan(10);
    } while (!(await jobStatus("notices")).summary!.done);
    vi.restoreAllMocks();

    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.filter((id) => id.startsWith("msg_purge_warning_ns-"))).toHaveLength(WARN);
    expect(ids.filter((id) => id.startsWith("msg_notice_"))).toHaveLength(EXPIRING);
    expect(ids).toHaveLength(WARN + EXPIRING);
    expect(
      await countRows("SELECT count(DISTINCT target_id) AS n FROM audit_events WHERE action = 'token.purge_warning'"),
    ).toBe(WARN);
    expect(
      await countRows(
        "SELECT count(*) AS n FROM tokens WHERE id > 'ns-000600' AND (notified_days IS NOT NULL OR purge_warned_for IS NOT NULL)",
      ),
    ).toBe(0);
    // 200 webhooks a run: the 600 notices took at least three.
    expect(runs).toBeGreaterThanOrEqual(Math.ceil((WARN + EXPIRING) / CRON_MAX_WEBHOOKS));
    expect(recorder.usage.maxBoundParameters).toBeLessThanOrEqual(D1_MAX_BOUND_PARAMETERS);
    expect(recorder.usage.maxBatchStatements).toBeLessThanOrEqual(CRON_MAX_BATCH_STATEMENTS);
    expect(mostQueries).toBeLessThanOrEqual(Math.min(D1_QUERIES_PER_INVOCATION, CRON_MAX_D1_QUERIES + 8));
    console.log(
      `notices at scale: ${ids.length} notices among ${TOTAL} tokens in ${runs} runs, at most ${mostQueries} D1 queries a run`,
    );
  });
});

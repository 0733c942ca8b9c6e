import { env } from "cloudflare:workers";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { RunBudget } from "../worker/cron/budget";
import { expiryJob } from "../worker/cron/expiry";
import type { JobRun } from "../worker/cron/job";
import { noticesJob } from "../worker/cron/notices";
import { purgeJob } from "../worker/cron/purge";
import { DAY_MS } from "../worker/limits";
import { countRows, resetJobState, runCronAt } from "./support/cron";
import { makeOrg, type OrgFixture } from "./support/fixtures";
import { verifiedPayload, webhookSecret } from "./support/webhooks";

const NOW = Date.UTC(2026, 10, 22, 12, 0, 0);
const OVERLAP_SECRET = webhookSecret("overlap");
const TOKENS_PER_KIND = 60;

let posts: string[] = [];

beforeAll(() => {
  vi.useFakeTimers({ toFake: ["Date"] });
});
afterAll(() => {
  vi.useRealTimers();
});
beforeEach(async () => {
  await resetJobState();
  posts = [];
  // A receiver slow enough that two runs are sending at the same time.
  vi.spyOn(globalThis, "fetch").mockImplementation(async (_input, init) => {
    // The receiver checks each delivery with the standardwebhooks library; one it refuses throws here.
    const body = verifiedPayload(OVERLAP_SECRET, new Headers(init?.headers), String(init?.body)) as {
      data: { token: { id: string } };
    };
    await new Promise((resolve) => setTimeout(resolve, 5));
    posts.push(body.data.token.id);
    return new Response(null, { status: 204 });
  });
});
afterEach(() => {
  vi.restoreAllMocks();
});

let batchNo = 0;

/**
 * An organization with a webhook and, in it, tokens due for every job: purge, expiry and a 7-day notice.
 * Inserted in one statement each (the data layer's createToken would take seconds for this many).
 */
async function dueWork(): Promise<{ org: OrgFixture; purge: string[]; expire: string[]; notify: string[] }> {
  const org = await makeOrg(NOW - 200 * DAY_MS);
  await env.DB.prepare(
    "UPDATE organizations SET webhook_url = 'https://hooks.overlap.test/in', webhook_secret = ?2 WHERE id = ?1",
  )
    .bind(org.orgId, OVERLAP_SECRET)
    .run();
  const prefix = `ov${++batchNo}`;
  const insert = (kind: string, expiresAt: string) =>
    env.DB.prepare(
      `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?3)
       INSERT INTO tokens (id, kind, org_id, name, all_projects, hash, hint, expires_at, created_at, created_by, updated_at)
       SELECT printf('%s-%s-%03d', ?1, ?4, i), 'org', ?2, ?4 || ' ' || i, 1, printf('%s-%s-hash-%03d', ?1, ?4, i), 'tso_…0000',
              ${expiresAt}, ?5 - 100 * ?6, 'system', ?5 FROM n`,
    )
      .bind(prefix, org.orgId, TOKENS_PER_KIND, kind, NOW, DAY_MS)
      .run();
  await insert("idle", "NULL");
  await insert("expired", "?5 - 3600000 - i");
  await insert("expiring", "?5 + 3 * ?6 + i");
  const ids = (kind: string) =>
    Array.from({ length: TOKENS_PER_KIND }, (_, i) => `${prefix}-${kind}-${String(i + 1).padStart(3, "0")}`);
  return { org, purge: ids("idle"), expire: ids("expired"), notify: ids("expiring") };
}

const eventsPerTarget = (action: string, orgId: string) =>
  env.DB.prepare(
    "SELECT target_id, count(*) AS n FROM audit_events WHERE action = ?1 AND org_id = ?2 GROUP BY target_id",
  )
    .bind(action, orgId)
    .all<{ target_id: string; n: number }>()
    .then((r) => r.results);

async function expectEachOnce(work: Awaited<ReturnType<typeof dueWork>>): Promise<void> {
  for (const [action, ids] of [
    ["token.purged", work.purge],
    ["token.expired", work.expire],
    ["token.expiry_notice", work.notify],
  ] as const) {
    const events = await eventsPerTarget(action, work.org.orgId);
    expect(events.map((e) => e.target_id).sort(), action).toEqual([...ids].sort());
    expect(
      events.every((e) => e.n === 1),
      action,
    ).toBe(true);
  }
  expect([...posts].sort()).toEqual([...work.notify].sort());
  expect(
    await countRows(
      `SELECT count(*) AS n FROM tokens WHERE id IN (${work.purge.map(() => "?").join(",")})`,
      ...work.purge,
    ),
  ).toBe(0);
}

describe("overlapping runs", () => {
  it("two scheduled invocations at once delete, expire and notify each token exactly once", async () => {
    const work = await dueWork();

    await Promise.all([runCronAt(NOW), runCronAt(NOW)]);

    await expectEachOnce(work);
  });

  it("stays exact without the lease: the jobs' own conditional statements refuse double work", async () => {
    const work = await dueWork();
    const run = (): JobRun => ({ env, now: NOW, budget: new RunBudget(), cursor: null });

    // Straight to the jobs, two at a time, as if both runs held the lease.
    await Promise.all([purgeJob.run(run()), purgeJob.run(run())]);
    await Promise.all([expiryJob.run(run()), expiryJob.run(run())]);
    const [a, b] = await Promise.all([noticesJob.run(run()), noticesJob.run(run())]);

    await expectEachOnce(work);
    expect((a.counts.sent ?? 0) + (b.counts.sent ?? 0)).toBe(TOKENS_PER_KIND);
  });

  it("a second run while a lease is held skips the job and says so", async () => {
    const work = await dueWork();
    await env.DB.prepare("INSERT INTO job_state (name, lease_until, lease_owner) VALUES ('purge', ?1, 'another run')")
      .bind(NOW + 60_000)
      .run();

    await runCronAt(NOW);
    expect(await countRows("SELECT count(*) AS n FROM tokens WHERE id = ?1", work.purge[0])).toBe(1);

    // A lease past its time belongs to a run that died: the next run takes it.
    await runCronAt(NOW + 2 * 60_000);
    expect(await countRows("SELECT count(*) AS n FROM tokens WHERE id = ?1", work.purge[0])).toBe(0);
  });
});

import { env } from "cloudflare:workers";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { RunBudget } from "../worker/cron/budget";
import { graceJob } from "../worker/cron/grace";
import { CRON_CHUNK_ROWS } from "../worker/cron/schedule";
import { primarySession } from "../worker/db/session";
import { DAY_MS, HOUR_MS, MINUTE_MS, SECOND_MS } from "../worker/limits";
import { hashToken } from "../worker/tokens/hash";
import { lookupTokenByHash } from "../worker/tokens/lookup";
import { regenerateToken, revokeToken } from "../worker/tokens/store";
import { auditRows } from "./support/audit";
import { countRows, jobStatus, resetJobState, runCronAt } from "./support/cron";
import { storeEnv } from "./support/d1";
import { makeOrg, makeToken, type OrgFixture, testActor } from "./support/fixtures";
import { resetIsolateCaches } from "./support/isolate";
import { dropFromKv, kvEntryOf } from "./support/kv-entries";
import { bearer, readVerify, viaHandler } from "./support/verify-client";
import { verifiedPayload, webhookSecret } from "./support/webhooks";

// The end of a rotation's grace by the clock (docs/DESIGN.md §2, §3.1.6; docs/CRON.md, job `grace`):
// verify refuses the old secret from `until` on whatever is cached, and the cron then clears the dead
// hash from the row, with one `token.grace_ended` event for an old secret that was still working.

const NOW = Date.UTC(2026, 11, 2, 12, 0, 0);
const HOOK_HOST = "hooks.grace.test";
const HOOK_SECRET = webhookSecret("grace sweep");

let org: OrgFixture;
/** Bodies the organization's webhook receiver got, verified as a receiver would. */
let received: { type: string; data: { detail: Record<string, unknown>; token: { id: string } } }[] = [];

beforeAll(async () => {
  vi.useFakeTimers({ toFake: ["Date"] });
  vi.setSystemTime(NOW - DAY_MS);
  org = await makeOrg(NOW - DAY_MS);
  await env.DB.prepare("UPDATE organizations SET webhook_url = ?2, webhook_secret = ?3 WHERE id = ?1")
    .bind(org.orgId, `https://${HOOK_HOST}/in`, HOOK_SECRET)
    .run();
  await env.DB.prepare("INSERT INTO webhook_settings (org_id, events, updated_at) VALUES (?1, ?2, ?3)")
    .bind(org.orgId, JSON.stringify(["token.grace_ended"]), NOW - DAY_MS)
    .run();
});
afterAll(() => vi.useRealTimers());
beforeEach(async () => {
  await resetJobState();
  resetIsolateCaches();
  received = [];
  vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
    const request = new Request(input, init);
    if (new URL(request.url).host !== HOOK_HOST) throw new Error(`unexpected fetch to ${request.url}`);
    received.push(verifiedPayload(HOOK_SECRET, request.headers, await request.text()) as (typeof received)[number]);
    return new Response(null, { status: 204 });
  });
});
afterEach(() => vi.restoreAllMocks());

const verify = async (secret: string, ip = "198.51.100.7") => readVerify(await viaHandler(bearer(secret, ip)));

/** A token made a day ago and regenerated at NOW with a grace of `graceMs`: its old and new secrets. */
async function rotated(graceMs = HOUR_MS, expiresAt: number | null = null) {
  vi.setSystemTime(NOW);
  const made = await makeToken(org, { expiresAt }, NOW - DAY_MS);
  const regen = await regenerateToken(storeEnv(env), org.orgId, made.token.id, testActor, NOW, { graceMs });
  return {
    id: made.token.id,
    name: made.token.name,
    oldSecret: made.secret,
    newSecret: regen.secret,
    oldHash: await hashToken(env.TOKEN_PEPPER, made.secret),
    until: NOW + graceMs,
  };
}

const rotationColumns = (id: string) =>
  env.DB.prepare("SELECT old_hash, old_hash_until, old_secret_used_at, old_secret_ips FROM tokens WHERE id = ?1")
    .bind(id)
    .first<Record<string, unknown>>();
const CLEARED = { old_hash: null, old_hash_until: null, old_secret_used_at: null, old_secret_ips: null };
const graceEndedFor = async (id: string) => (await auditRows("token.grace_ended")).filter((r) => r.target_id === id);

describe("the old secret after its grace", () => {
  it("is refused at until+1s from memory and KV, and after the sweep D1 no longer knows its hash", async () => {
    const r = await rotated();
    const running = await rotated(DAY_MS);
    expect(await verify(r.oldSecret)).toMatchObject({ result: 0, token: { rotation: { oldSecret: true } } });
    expect((await kvEntryOf(r.oldSecret))?.token).toMatchObject({ oldSecretUntil: r.until });

    // Warm this isolate's memory just before the end, so the first answer after it comes from there.
    vi.setSystemTime(r.until - SECOND_MS);
    expect(await verify(r.oldSecret)).toMatchObject({ result: 0 });
    const after = r.until + SECOND_MS;
    vi.setSystemTime(after);
    const ended = { result: 3, error: "token_unknown", message: expect.stringMatching(/grace period has ended/) };
    expect(await verify(r.oldSecret)).toMatchObject(ended);
    resetIsolateCaches();
    expect(await verify(r.oldSecret)).toMatchObject(ended);

    await runCronAt(after);
    expect(await lookupTokenByHash(primarySession(env.DB), r.oldHash)).toEqual({ v: 0, token: null });
    expect(await countRows("SELECT count(*) AS n FROM tokens WHERE old_hash = ?1", r.oldHash)).toBe(0);
    expect(await rotationColumns(r.id)).toEqual(CLEARED);

    // The entry KV may still hold says its own end, and still answers so; without it, D1 knows no such token.
    resetIsolateCaches();
    expect(await verify(r.oldSecret)).toMatchObject(ended);
    await dropFromKv(r.oldSecret);
    resetIsolateCaches();
    expect(await verify(r.oldSecret)).toMatchObject({ result: 3, error: "token_unknown" });
    const fresh = await verify(r.newSecret);
    expect(fresh).toMatchObject({ result: 0, token: { id: r.id } });
    expect(fresh.valid && fresh.token).not.toHaveProperty("rotation");
    // A grace that has not ended is left alone: its old secret still verifies, and nothing is recorded.
    expect(await rotationColumns(running.id)).toMatchObject({
      old_hash: running.oldHash,
      old_hash_until: running.until,
    });
    expect(await verify(running.oldSecret)).toMatchObject({ result: 0, token: { rotation: { oldSecret: true } } });
    expect(await graceEndedFor(running.id)).toHaveLength(0);
  });
});

describe("token.grace_ended by the clock", () => {
  it("is recorded once, as the system, with reason expired and the old secret's last use, and reaches the webhook", async () => {
    const r = await rotated();
    const usedAt = NOW + 10 * MINUTE_MS;
    vi.setSystemTime(usedAt);
    expect(await verify(r.oldSecret, "203.0.113.44")).toMatchObject({ result: 0 });
    expect(await rotationColumns(r.id)).toMatchObject({ old_secret_used_at: usedAt });

    const sweptAt = r.until + 5 * MINUTE_MS;
    for (let i = 0; i < 3; i++) await runCronAt(sweptAt + i * 15 * MINUTE_MS);

    const events = await graceEndedFor(r.id);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ org_id: org.orgId, at: sweptAt, actor_type: "system", actor_id: null, ip: null });
    expect(JSON.parse(events[0]!.detail as string)).toEqual({
      name: r.name,
      until: r.until,
      oldSecretUsedAt: usedAt,
      reason: "expired",
    });
    // The addresses are not kept: like End grace now, the event keeps the last use only.
    expect(await rotationColumns(r.id)).toEqual(CLEARED);
    // Swept before the webhooks job in the same run, so the subscriber heard it at once.
    expect(received.filter((d) => d.type === "token.grace_ended" && d.data.token.id === r.id)).toEqual([
      expect.objectContaining({
        data: expect.objectContaining({ detail: expect.objectContaining({ reason: "expired" }) }),
      }),
    ]);
    expect((await jobStatus("grace")).summary).toMatchObject({ done: true, errors: [] });
  });

  it("is not recorded for an old secret that died with its token first (revoked, expired); the hash is cleared all the same", async () => {
    const revoked = await rotated();
    await revokeToken(storeEnv(env), org.orgId, revoked.id, testActor, NOW + MINUTE_MS);
    const expired = await rotated(HOUR_MS, NOW + 30 * MINUTE_MS);
    // Revoked after its grace ran out but before the sweep: the old secret did run out by the clock.
    const late = await rotated();
    await revokeToken(storeEnv(env), org.orgId, late.id, testActor, late.until + MINUTE_MS);

    await runCronAt(NOW + HOUR_MS + 2 * MINUTE_MS);

    for (const r of [revoked, expired, late]) expect(await rotationColumns(r.id)).toEqual(CLEARED);
    expect(await graceEndedFor(revoked.id)).toHaveLength(0);
    expect(await graceEndedFor(expired.id)).toHaveLength(0);
    expect(await graceEndedFor(late.id)).toHaveLength(1);
  });
});

describe("in batches", () => {
  it("stops on its budget with work left, resumes from its cursor, and passes over graces still running", async () => {
    // 150 rotated tokens straight in D1, their old hashes in random order; every fifth is still in its grace.
    await env.DB.prepare(
      `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 150)
       INSERT INTO tokens (id, kind, org_id, name, all_projects, hash, hint, created_at, created_by, updated_at,
                           old_hash, old_hash_until)
       SELECT printf('grace-%03d', i), 'org', ?1, 'rotated ' || i, 1, lower(hex(randomblob(32))), 'tso_…0000', ?2,
              'system', ?2, lower(hex(randomblob(32))), CASE WHEN i % 5 = 0 THEN ?3 ELSE ?4 END FROM n`,
    )
      .bind(org.orgId, NOW - DAY_MS, NOW + HOUR_MS, NOW - MINUTE_MS)
      .run();
    const left = () =>
      countRows(
        "SELECT count(*) AS n FROM tokens WHERE id LIKE 'grace-%' AND old_hash IS NOT NULL AND old_hash_until <= ?1",
        NOW,
      );
    const running = () =>
      countRows(
        "SELECT count(*) AS n FROM tokens WHERE id LIKE 'grace-%' AND old_hash IS NOT NULL AND old_hash_until > ?1",
        NOW,
      );
    expect(await left()).toBe(120);
    // One chunk's worth of D1: its select and its batch.
    const run = (cursor: string | null) =>
      graceJob.run({
        env: storeEnv(env),
        now: NOW,
        budget: new RunBudget({ d1: 2, kv: 0, webhooks: 0, timeMs: 30_000 }),
        cursor,
      });

    const first = await run(null);
    expect(first).toMatchObject({ done: false, counts: { cleared: CRON_CHUNK_ROWS, graceEnded: CRON_CHUNK_ROWS } });
    expect(first.cursor).not.toBeNull();
    // The cursor places the walk without keeping a whole hash of a secret that is gone.
    expect(first.cursor).not.toMatch(/[0-9a-f]{64}/);
    expect(await left()).toBe(120 - CRON_CHUNK_ROWS);

    // A due hash that sorts before the cursor waits for the next pass: the walk does not reread what it passed.
    await env.DB.prepare(
      `INSERT INTO tokens (id, kind, org_id, name, all_projects, hash, hint, created_at, created_by, updated_at,
                           old_hash, old_hash_until)
       VALUES ('grace-behind', 'org', ?1, 'behind', 1, lower(hex(randomblob(32))), 'tso_…0000', ?2, 'system', ?2, '0000', ?3)`,
    )
      .bind(org.orgId, NOW - DAY_MS, NOW - MINUTE_MS)
      .run();

    const second = await run(first.cursor);
    expect(second).toMatchObject({ done: false, counts: { cleared: CRON_CHUNK_ROWS } });
    const third = await run(second.cursor);
    expect(third).toMatchObject({ done: true, cursor: null, counts: { cleared: 120 - 2 * CRON_CHUNK_ROWS } });
    expect(await left()).toBe(1);
    expect(await running()).toBe(30);

    const fourth = await run(third.cursor);
    expect(fourth).toMatchObject({ done: true, counts: { cleared: 1, graceEnded: 1 } });
    expect(await left()).toBe(0);
    expect(await running()).toBe(30);
    expect(
      await countRows(
        "SELECT count(*) AS n FROM audit_events WHERE action = 'token.grace_ended' AND target_id LIKE 'grace-%'",
      ),
    ).toBe(121);
  });

  it("two runs at once, as if both held the lease, end each grace once", async () => {
    await env.DB.prepare(
      `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 60)
       INSERT INTO tokens (id, kind, org_id, name, all_projects, hash, hint, created_at, created_by, updated_at,
                           old_hash, old_hash_until)
       SELECT printf('twice-%03d', i), 'org', ?1, 'twice ' || i, 1, lower(hex(randomblob(32))), 'tso_…0000', ?2,
              'system', ?2, lower(hex(randomblob(32))), ?3 FROM n`,
    )
      .bind(org.orgId, NOW - DAY_MS, NOW - MINUTE_MS)
      .run();
    const run = () => graceJob.run({ env: storeEnv(env), now: NOW, budget: new RunBudget(), cursor: null });

    const [a, b] = await Promise.all([run(), run()]);

    expect((a.counts.graceEnded ?? 0) + (b.counts.graceEnded ?? 0)).toBe(60);
    expect(
      await countRows(
        `SELECT coalesce(max(c), 0) AS n FROM (SELECT count(*) AS c FROM audit_events
           WHERE action = 'token.grace_ended' AND target_id LIKE 'twice-%' GROUP BY target_id)`,
      ),
    ).toBe(1);
    expect(await countRows("SELECT count(*) AS n FROM tokens WHERE id LIKE 'twice-%' AND old_hash IS NOT NULL")).toBe(
      0,
    );
  });
});

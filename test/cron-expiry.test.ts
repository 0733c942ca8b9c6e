import { env } from "cloudflare:workers";
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { DAY_MS, HOUR_MS, MINUTE_MS } from "../worker/limits";
import { DEFAULT_POLICIES } from "../worker/orgs/policies";
import { savePolicies } from "../worker/orgs/policy-cut";
import { memoryCache } from "../worker/tokens/memory-cache";
import { revokeToken } from "../worker/tokens/store";
import { cachedEntry, countRows, jobStatus, resetJobState, runCronAt, verifyBearer } from "./support/cron";
import { storeEnv } from "./support/d1";
import { makeOrg, makeToken, testActor } from "./support/fixtures";

const NOW = Date.UTC(2026, 10, 22, 12, 0, 0);

beforeAll(() => {
  vi.useFakeTimers({ toFake: ["Date"] });
});
afterAll(() => {
  vi.useRealTimers();
});
beforeEach(async () => {
  await resetJobState();
  memoryCache.clear();
});

const expiredEvents = (id: string) =>
  countRows("SELECT count(*) AS n FROM audit_events WHERE action = 'token.expired' AND target_id = ?1", id);
const versionOf = (id: string) => countRows("SELECT version AS n FROM tokens WHERE id = ?1", id);

describe("expiry", () => {
  it("stops a token verifying from a warm KV entry, rewriting the entry as expired with a newer version", async () => {
    vi.setSystemTime(NOW - DAY_MS);
    const org = await makeOrg(NOW - DAY_MS);
    const { token, secret } = await makeToken(
      org,
      { name: "expires in an hour", expiresAt: NOW + HOUR_MS },
      NOW - DAY_MS,
    );

    vi.setSystemTime(NOW);
    expect(await verifyBearer(secret)).toMatchObject({ status: 200, result: 0 });
    const warm = await cachedEntry(secret);
    expect(warm?.token?.expiresAt).toBe(NOW + HOUR_MS);

    const after = NOW + HOUR_MS + MINUTE_MS;
    await runCronAt(after);
    memoryCache.clear();

    const rewritten = await cachedEntry(secret);
    expect(rewritten!.v).toBe(await versionOf(token.id));
    expect(rewritten!.v).toBeGreaterThan(warm!.v);
    expect(rewritten!.token?.expiresAt).toBe(NOW + HOUR_MS);
    expect(await verifyBearer(secret)).toMatchObject({ status: 401, result: 4, error: "token_expired" });
    expect(await expiredEvents(token.id)).toBe(1);
  });

  it("writes one token.expired event per token however often it runs", async () => {
    const org = await makeOrg(NOW - 10 * DAY_MS);
    const made = NOW - 10 * DAY_MS;
    const a = await makeToken(org, { name: "a", expiresAt: NOW - 2 * DAY_MS }, made);
    const b = await makeToken(org, { name: "b", expiresAt: NOW - HOUR_MS }, made);
    const alive = await makeToken(org, { name: "alive", expiresAt: NOW + DAY_MS }, made);

    for (let i = 0; i < 5; i++) await runCronAt(NOW + i * 15 * MINUTE_MS);

    expect(await expiredEvents(a.token.id)).toBe(1);
    expect(await expiredEvents(b.token.id)).toBe(1);
    expect(await expiredEvents(alive.token.id)).toBe(0);
    const detail = await env.DB.prepare(
      "SELECT detail FROM audit_events WHERE action = 'token.expired' AND target_id = ?1",
    )
      .bind(a.token.id)
      .first<{ detail: string }>();
    expect(JSON.parse(detail!.detail)).toEqual({ name: "a", kind: "org", expiresAt: NOW - 2 * DAY_MS });
  });

  it("gives a revoked token no expiry event: it is dead already", async () => {
    const org = await makeOrg(NOW - 10 * DAY_MS);
    const t = await makeToken(org, { name: "revoked", expiresAt: NOW - DAY_MS }, NOW - 10 * DAY_MS);
    await revokeToken(storeEnv(env), org.orgId, t.token.id, testActor, NOW - 2 * DAY_MS);

    await runCronAt(NOW);

    expect(await expiredEvents(t.token.id)).toBe(0);
  });

  it("reaches, within a day, an expired token that was written behind its cursor (a restore, a script)", async () => {
    const org = await makeOrg(NOW - 10 * DAY_MS);
    await makeToken(org, { name: "moves the cursor", expiresAt: NOW - MINUTE_MS }, NOW - DAY_MS);
    await runCronAt(NOW);
    await env.DB.prepare(
      "INSERT INTO tokens (id, kind, org_id, name, all_projects, hash, hint, expires_at, created_at, created_by, updated_at) VALUES ('restored', 'org', ?1, 'restored', 1, 'restored-hash', 'tso_…0000', ?2, ?3, 'system', ?3)",
    )
      .bind(org.orgId, NOW - 3 * DAY_MS, NOW - 10 * DAY_MS)
      .run();

    // The next run resumes from the cursor, past this token; the daily fresh scan finds it.
    await runCronAt(NOW + 15 * MINUTE_MS);
    expect(await expiredEvents("restored")).toBe(0);
    await runCronAt(NOW + DAY_MS);
    expect(await expiredEvents("restored")).toBe(1);
  });

  it("reaches at once a token a lifetime policy cut behind its cursor", async () => {
    const org = await makeOrg(NOW - 30 * DAY_MS);
    await makeToken(org, { name: "moves the cursor too", expiresAt: NOW - MINUTE_MS }, NOW - DAY_MS);
    await runCronAt(NOW);
    const { token } = await makeToken(org, { name: "made 20 days ago" }, NOW - 20 * DAY_MS);
    const capped = {
      ...DEFAULT_POLICIES,
      lifetime: { ...DEFAULT_POLICIES.lifetime, org: { maxLifetimeDays: 10, expiryRequired: true } },
    };
    await savePolicies(storeEnv(env), org.orgId, capped, testActor, NOW + MINUTE_MS);

    await runCronAt(NOW + 15 * MINUTE_MS);
    expect(await expiredEvents(token.id)).toBe(1);
  });

  it("resumes from its cursor, and still reaches tokens that expire later", async () => {
    const org = await makeOrg(NOW - 10 * DAY_MS);
    const later = await makeToken(org, { name: "expires tomorrow", expiresAt: NOW + DAY_MS }, NOW - DAY_MS);

    await runCronAt(NOW);
    expect(
      JSON.parse(
        (await env.DB.prepare("SELECT cursor FROM job_state WHERE name = 'expiry'").first<{ cursor: string }>())!
          .cursor,
      ),
    ).toHaveProperty("at");
    expect(await expiredEvents(later.token.id)).toBe(0);

    await runCronAt(NOW + DAY_MS + MINUTE_MS);
    expect(await expiredEvents(later.token.id)).toBe(1);
    expect((await jobStatus("expiry")).summary).toMatchObject({ done: true, errors: [] });
  });
});

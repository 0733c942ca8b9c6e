import { env } from "cloudflare:workers";
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { SESSION_IDLE_MS } from "../worker/accounts/limits";
import {
  AUDIT_RETENTION_DAYS,
  DEAD_TOKEN_RETENTION_DAYS,
  LOGIN_THROTTLE_ROW_MAX_AGE_MS,
} from "../worker/cron/schedule";
import { DAY_MS, MINUTE_MS } from "../worker/limits";
import { DEFAULT_POLICIES } from "../worker/orgs/policies";
import { savePolicies } from "../worker/orgs/policy-cut";
import { revokeToken } from "../worker/tokens/store";
import { cachedEntry, countRows, jobStatus, resetJobState, runCronAt, tokenExists, verifyBearer } from "./support/cron";
import { storeEnv } from "./support/d1";
import { makeMember, makeOrg, makeToken, testActor } from "./support/fixtures";

const NOW = Date.UTC(2026, 10, 22, 12, 0, 0);
const RETENTION_MS = DEAD_TOKEN_RETENTION_DAYS * DAY_MS;

beforeAll(() => {
  vi.useFakeTimers({ toFake: ["Date"] });
});
afterAll(() => {
  vi.useRealTimers();
});
beforeEach(resetJobState);

const erasedEvents = (id: string) =>
  countRows("SELECT count(*) AS n FROM audit_events WHERE action = 'token.erased' AND target_id = ?1", id);

describe("retention", () => {
  it("erases a revoked token 30 days after its revocation, not a day before", async () => {
    const org = await makeOrg(NOW - 100 * DAY_MS);
    const made = NOW - 90 * DAY_MS;
    const old = await makeToken(org, { name: "revoked 30 days ago", expiresAt: NOW + 300 * DAY_MS }, made);
    const recent = await makeToken(org, { name: "revoked 29 days ago", expiresAt: NOW + 300 * DAY_MS }, made);
    await revokeToken(storeEnv(env), org.orgId, old.token.id, testActor, NOW - RETENTION_MS);
    await revokeToken(storeEnv(env), org.orgId, recent.token.id, testActor, NOW - RETENTION_MS + DAY_MS);

    await runCronAt(NOW);

    expect(await tokenExists(old.token.id)).toBe(false);
    expect(await tokenExists(recent.token.id)).toBe(true);
    const event = await env.DB.prepare(
      "SELECT detail FROM audit_events WHERE action = 'token.erased' AND target_id = ?1",
    )
      .bind(old.token.id)
      .first<{ detail: string }>();
    expect(JSON.parse(event!.detail)).toEqual({ name: "revoked 30 days ago", kind: "org", reason: "revoked" });
    // The revocation is still in the audit log after the token is gone.
    expect(
      await countRows(
        "SELECT count(*) AS n FROM audit_events WHERE action = 'token.revoked' AND target_id = ?1",
        old.token.id,
      ),
    ).toBe(1);
  });

  it("erases an expired token 30 days after expiry, once its expiry event is written", async () => {
    const org = await makeOrg(NOW - 100 * DAY_MS);
    const made = NOW - 90 * DAY_MS;
    const old = await makeToken(org, { name: "expired 31 days ago", expiresAt: NOW - RETENTION_MS - DAY_MS }, made);
    const recent = await makeToken(org, { name: "expired 29 days ago", expiresAt: NOW - RETENTION_MS + DAY_MS }, made);

    await runCronAt(NOW);

    expect(await tokenExists(old.token.id)).toBe(false);
    expect(await tokenExists(recent.token.id)).toBe(true);
    // The expiry job ran first, so the token's history holds both events, once each.
    expect(
      await countRows(
        "SELECT count(*) AS n FROM audit_events WHERE action = 'token.expired' AND target_id = ?1",
        old.token.id,
      ),
    ).toBe(1);
    expect(await erasedEvents(old.token.id)).toBe(1);

    await runCronAt(NOW + 2 * DAY_MS);
    expect(await tokenExists(recent.token.id)).toBe(false);
    expect(await erasedEvents(old.token.id)).toBe(1);
  });

  it("counts the 30 days of a token a lifetime policy cut from the cut, not from the past date it set", async () => {
    const org = await makeOrg(NOW - 500 * DAY_MS);
    const t = await makeToken(org, { name: "made 400 days ago" }, NOW - 400 * DAY_MS);
    const capped = {
      ...DEFAULT_POLICIES,
      lifetime: { ...DEFAULT_POLICIES.lifetime, org: { maxLifetimeDays: 90, expiryRequired: true } },
    };
    await savePolicies(storeEnv(env), org.orgId, capped, testActor, NOW);

    await runCronAt(NOW + 15 * MINUTE_MS);
    // Stopped by the cut (its expiry is 310 days back), and kept: a mistyped limit must not erase it.
    expect(await verifyBearer(t.secret)).toMatchObject({ status: 401, error: "token_expired" });
    expect(await tokenExists(t.token.id)).toBe(true);
    await runCronAt(NOW + RETENTION_MS - DAY_MS);
    expect(await tokenExists(t.token.id)).toBe(true);
    await runCronAt(NOW + RETENTION_MS + DAY_MS);
    expect(await tokenExists(t.token.id)).toBe(false);
  });

  it("overwrites the erased token's cache entry with a newer version that still says revoked", async () => {
    const org = await makeOrg(NOW - 100 * DAY_MS);
    const t = await makeToken(org, { name: "revoked long ago" }, NOW - 90 * DAY_MS);
    const revokedAt = NOW - 40 * DAY_MS;
    await revokeToken(storeEnv(env), org.orgId, t.token.id, testActor, revokedAt);
    const before = await cachedEntry(t.secret);

    await runCronAt(NOW);

    const after = await cachedEntry(t.secret);
    expect(after!.v).toBeGreaterThan(before!.v);
    expect(after!.token?.revokedAt).toBe(revokedAt);
    expect(await verifyBearer(t.secret)).toMatchObject({ status: 401, error: "token_revoked" });
  });

  it("sweeps expired sessions, stale login counters and audit events past the retention period", async () => {
    const org = await makeOrg(NOW - 100 * DAY_MS);
    const userId = await makeMember(org.orgId, "org_member", {}, NOW - 100 * DAY_MS);
    const session = (id: string, lastSeenAt: number, expiresAt: number) =>
      env.DB.prepare(
        "INSERT INTO sessions (id, user_id, created_at, last_seen_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5)",
      )
        .bind(id, userId, NOW - 2 * DAY_MS, lastSeenAt, expiresAt)
        .run();
    await session("expired-session", NOW - 2 * MINUTE_MS, NOW - MINUTE_MS);
    await session("idle-session", NOW - SESSION_IDLE_MS - MINUTE_MS, NOW + DAY_MS);
    await session("live-session", NOW - MINUTE_MS, NOW + DAY_MS);
    const throttle = (key: string, windowStart: number) =>
      env.DB.prepare("INSERT INTO login_throttle (key, window_start, failures) VALUES (?1, ?2, 3)")
        .bind(key, windowStart)
        .run();
    await throttle("email:stale@example.com", NOW - LOGIN_THROTTLE_ROW_MAX_AGE_MS - MINUTE_MS);
    await throttle("email:fresh@example.com", NOW - MINUTE_MS);
    const audit = (action: string, at: number) =>
      env.DB.prepare(
        "INSERT INTO audit_events (org_id, at, actor_type, action, detail) VALUES (?1, ?2, 'system', ?3, '{}')",
      )
        .bind(org.orgId, at, action)
        .run();
    await audit("test.ancient", NOW - AUDIT_RETENTION_DAYS * DAY_MS - DAY_MS);
    await audit("test.recent", NOW - AUDIT_RETENTION_DAYS * DAY_MS + DAY_MS);

    await runCronAt(NOW);

    expect(await countRows("SELECT count(*) AS n FROM sessions WHERE id IN ('expired-session', 'idle-session')")).toBe(
      0,
    );
    expect(await countRows("SELECT count(*) AS n FROM sessions WHERE id = 'live-session'")).toBe(1);
    expect(await countRows("SELECT count(*) AS n FROM login_throttle WHERE key = 'email:stale@example.com'")).toBe(0);
    expect(await countRows("SELECT count(*) AS n FROM login_throttle WHERE key = 'email:fresh@example.com'")).toBe(1);
    expect(await countRows("SELECT count(*) AS n FROM audit_events WHERE action = 'test.ancient'")).toBe(0);
    expect(await countRows("SELECT count(*) AS n FROM audit_events WHERE action = 'test.recent'")).toBe(1);
    expect((await jobStatus("retention")).summary?.counts).toMatchObject({
      sessionsDeleted: 2,
      loginThrottleRowsDeleted: 1,
      auditEventsDeleted: 1,
    });
  });

  it("sweeps invitations 30 days after they ended and reset links once expired or used, keeping live ones", async () => {
    const org = await makeOrg(NOW - 100 * DAY_MS);
    const userId = await makeMember(org.orgId, "org_member", {}, NOW - 100 * DAY_MS);
    const invitation = (id: string, expiresAt: number, ended: { acceptedAt?: number; revokedAt?: number } = {}) =>
      env.DB.prepare(
        `INSERT INTO invitations (id, org_id, email, role, secret_hash, created_by, created_at, expires_at, accepted_at, revoked_at)
         VALUES (?1, ?2, ?1 || '@example.com', 'org_member', 'hash-' || ?1, 'user:x', ?3, ?4, ?5, ?6)`,
      )
        .bind(id, org.orgId, expiresAt - 7 * DAY_MS, expiresAt, ended.acceptedAt ?? null, ended.revokedAt ?? null)
        .run();
    await invitation("expired-long-ago", NOW - RETENTION_MS - DAY_MS);
    await invitation("expired-lately", NOW - RETENTION_MS + DAY_MS);
    await invitation("accepted-long-ago", NOW + DAY_MS, { acceptedAt: NOW - RETENTION_MS - DAY_MS });
    await invitation("revoked-long-ago", NOW + DAY_MS, { revokedAt: NOW - RETENTION_MS - DAY_MS });
    await invitation("pending", NOW + DAY_MS);
    const reset = (id: string, expiresAt: number, usedAt: number | null) =>
      env.DB.prepare(
        "INSERT INTO password_resets (id, user_id, secret_hash, created_by, created_at, expires_at, used_at) VALUES (?1, ?2, 'hash-' || ?1, 'user:x', ?3, ?4, ?5)",
      )
        .bind(id, userId, expiresAt - DAY_MS, expiresAt, usedAt)
        .run();
    await reset("reset-expired", NOW - MINUTE_MS, null);
    await reset("reset-used", NOW + DAY_MS, NOW - MINUTE_MS);
    await reset("reset-live", NOW + DAY_MS, null);

    await runCronAt(NOW);

    const left = await env.DB.prepare("SELECT id FROM invitations ORDER BY id").all<{ id: string }>();
    expect(left.results.map((r) => r.id)).toEqual(["expired-lately", "pending"]);
    const resets = await env.DB.prepare("SELECT id FROM password_resets ORDER BY id").all<{ id: string }>();
    expect(resets.results.map((r) => r.id)).toEqual(["reset-live"]);
    expect((await jobStatus("retention")).summary?.counts).toMatchObject({
      invitationsDeleted: 3,
      passwordResetsDeleted: 2,
    });
  });
});

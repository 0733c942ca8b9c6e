import { env } from "cloudflare:workers";
import { eq } from "drizzle-orm";
import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { database } from "../worker/db/client";
import { memberships } from "../worker/db/schema";
import { primarySession } from "../worker/db/session";
import { reportLeaks } from "../worker/leaks/report";
import { endGrace } from "../worker/tokens/rotation";
import { deleteToken, disableToken, regenerateToken, revokeToken, revokeTokens } from "../worker/tokens/store";
import { refreshOrgTokenCaches } from "../worker/tokens/structure-refresh";
import { api, confirm, OWNER, setupOwner } from "./support/api-client";
import { auditRows } from "./support/audit";
import { storeEnv } from "./support/d1";
import { makeMember, makeOrg, makeToken, type OrgFixture, testActor } from "./support/fixtures";
import { countingEnv } from "./support/io";
import { resetIsolateCaches } from "./support/isolate";
import { dropFromKv, kvEntryOf, kvKeyOf } from "./support/kv-entries";
import { bearer, readVerify, verifyUrl, viaHandler } from "./support/verify-client";

// Rotation with a grace period (docs/DESIGN.md §2, §3.1; docs/API.md "Regenerate"): both secrets verify
// until the grace ends, the old one's answers say so, and at the end (by the clock, End grace now, another
// regenerate, revoke or delete) the old secret fails everywhere, whatever a slow fill tries.

const HOUR = 3_600_000;
let org: OrgFixture;
let cookie: string;

beforeAll(async () => {
  cookie = (await setupOwner({ slug: "acme", name: "Acme" })).cookie;
  await confirm(cookie, OWNER.password);
  org = await makeOrg();
});
beforeEach(() => resetIsolateCaches());
afterEach(() => vi.useRealTimers());

const verify = async (secret: string, ip = "198.51.100.7", bindings: Env = env) =>
  readVerify(await viaHandler(bearer(secret, ip), bindings));

/** A token regenerated with a grace: its new secret and the old one. */
async function rotated(graceMs = HOUR, now = Date.now()) {
  const made = await makeToken(org, {}, now);
  const regen = await regenerateToken(storeEnv(env), org.orgId, made.token.id, testActor, now, { graceMs });
  return { id: made.token.id, oldSecret: made.secret, newSecret: regen.secret, view: regen.token };
}

describe("regenerate with graceSeconds over the API", () => {
  it("keeps both secrets verifying, says so on the old one, audits token.rotated and shows the old secret's use", async () => {
    const made = await api("POST", "/api/orgs/acme/tokens", {
      cookie,
      body: { kind: "org", name: "deploy", expiresAt: null, projects: "*", permissions: ["analysis:execute"] },
    });
    const id = made.body.token.id;
    const regen = await api("POST", `/api/orgs/acme/tokens/${id}/regenerate`, { cookie, body: { graceSeconds: 3600 } });
    expect(regen.status).toBe(200);
    const until = regen.body.token.rotation.oldSecretUntil;
    expect(Date.parse(until) - Date.now()).toBeGreaterThan(HOUR - 60_000);
    expect(regen.body.token.rotation).toEqual({
      oldSecretUntil: until,
      oldSecretLastUsedAt: null,
      oldSecretLastUsedIps: [],
    });

    const old = await verify(made.body.secret, "203.0.113.9");
    expect(old).toMatchObject({ result: 0, token: { id, rotation: { oldSecret: true, until } } });
    const fresh = await verify(regen.body.secret);
    expect(fresh).toMatchObject({ result: 0, token: { id } });
    expect(fresh.valid && fresh.token).not.toHaveProperty("rotation");

    const details = await api("GET", `/api/orgs/acme/tokens/${id}`, { cookie });
    expect(details.body.rotation).toMatchObject({ oldSecretLastUsedIps: ["203.0.113.9"] });
    expect(details.body.rotation.oldSecretLastUsedAt).toEqual(expect.any(String));
    expect((await auditRows("token.rotated")).map((r) => r.target_id)).toContain(id);
    expect((await auditRows("token.regenerated")).map((r) => r.target_id)).not.toContain(id);
  });

  it("refuses a grace over 7 days, a negative or fractional one, and any grace for an expired token (422)", async () => {
    const { token } = await makeToken(org);
    for (const graceSeconds of [7 * 86_400 + 1, -1, 1.5, "3600"]) {
      const res = await api("POST", `/api/orgs/${org.orgSlug}/tokens/${token.id}/regenerate`, {
        cookie,
        body: { graceSeconds },
      });
      expect(res.status).toBe(422);
      expect(res.body.error.details.fields).toHaveProperty("graceSeconds");
    }
    const expired = await makeToken(org, { expiresAt: Date.now() + 1000 }, Date.now());
    const later = Date.now() + 2000;
    await expect(
      regenerateToken(storeEnv(env), org.orgId, expired.token.id, testActor, later, { graceMs: HOUR }),
    ).rejects.toMatchObject({ code: "validation_failed" });
  });

  it("on a person's own token too (/api/me/tokens), with End grace now", async () => {
    const made = await api("POST", "/api/me/tokens", {
      cookie,
      body: { org: "acme", name: "mine", expiresAt: null, projects: "*", permissions: ["analysis:execute"] },
    });
    expect(made.status).toBe(201);
    const id = made.body.token.id;
    const regen = await api("POST", `/api/me/tokens/${id}/regenerate`, { cookie, body: { graceSeconds: 86_400 } });
    expect(regen.body.token.rotation).not.toBeNull();
    expect(await verify(made.body.secret)).toMatchObject({ result: 0, token: { rotation: { oldSecret: true } } });
    const ended = await api("POST", `/api/me/tokens/${id}/end-grace`, { cookie });
    expect(ended.status).toBe(200);
    expect(ended.body.rotation).toBeNull();
    expect(await verify(made.body.secret)).toMatchObject({ result: 3 });
    expect(await verify(regen.body.secret)).toMatchObject({ result: 0 });
  });
});

describe("the end of the grace", () => {
  it("by the clock: refused after `until` even while memory still holds the old secret's entry", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    const t0 = Date.now();
    const r = await rotated(2_000, t0);
    expect(await verify(r.oldSecret)).toMatchObject({ result: 0 });
    vi.setSystemTime(t0 + 1_999);
    expect(await verify(r.oldSecret)).toMatchObject({ result: 0 });
    vi.setSystemTime(t0 + 2_000);
    const { env: counted, log } = countingEnv();
    expect(await verify(r.oldSecret, "198.51.100.7", counted)).toMatchObject({
      result: 3,
      error: "token_unknown",
      message: expect.stringMatching(/grace period has ended/),
    });
    // Answered from memory: no tier was asked.
    expect(log.count()).toBe(0);
    expect(await verify(r.newSecret)).toMatchObject({ result: 0 });
  });

  it("by the clock: refused from a KV entry that still says the old secret, with no D1 read", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    const t0 = Date.now();
    const r = await rotated(HOUR, t0);
    expect((await kvEntryOf(r.oldSecret))?.token).toMatchObject({ id: r.id, oldSecretUntil: t0 + HOUR });
    vi.setSystemTime(t0 + HOUR);
    resetIsolateCaches();
    const { env: counted, log } = countingEnv();
    expect(await verify(r.oldSecret, "198.51.100.7", counted)).toMatchObject({ result: 3 });
    expect(log.count("DB")).toBe(0);
    // ...and the details no longer show a grace.
    const view = await api("GET", `/api/orgs/${org.orgSlug}/tokens/${r.id}`, { cookie });
    expect(view.body.rotation).toBeNull();
  });

  it("End grace now: the old secret fails at once here and from KV, once audited; a second end is 409", async () => {
    const r = await rotated();
    expect(await verify(r.oldSecret)).toMatchObject({ result: 0 });
    const ended = await api("POST", `/api/orgs/${org.orgSlug}/tokens/${r.id}/end-grace`, { cookie });
    expect(ended.status).toBe(200);
    expect(await verify(r.oldSecret)).toMatchObject({ result: 3 });
    expect(await kvEntryOf(r.oldSecret)).toMatchObject({ token: null });
    resetIsolateCaches();
    expect(await verify(r.oldSecret)).toMatchObject({ result: 3 });
    expect(await verify(r.newSecret)).toMatchObject({ result: 0 });
    expect((await auditRows("token.grace_ended")).filter((row) => row.target_id === r.id)).toHaveLength(1);
    const again = await api("POST", `/api/orgs/${org.orgSlug}/tokens/${r.id}/end-grace`, { cookie });
    expect(again.status).toBe(409);
  });

  it("another regenerate during the grace ends the earlier old secret: one grace at a time", async () => {
    const r = await rotated();
    const second = await regenerateToken(storeEnv(env), org.orgId, r.id, testActor, Date.now(), { graceMs: HOUR });
    expect(await verify(r.oldSecret)).toMatchObject({ result: 3 });
    expect(await verify(r.newSecret)).toMatchObject({ result: 0, token: { rotation: { oldSecret: true } } });
    expect(await verify(second.secret)).toMatchObject({ result: 0 });
    // A plain regenerate (grace 0) ends the grace too: only the newest secret verifies.
    const third = await regenerateToken(storeEnv(env), org.orgId, r.id, testActor, Date.now());
    resetIsolateCaches();
    expect(await verify(r.newSecret)).toMatchObject({ result: 3 });
    expect(await verify(second.secret)).toMatchObject({ result: 3 });
    expect(await verify(third.secret)).toMatchObject({ result: 0 });
    expect(third.token.rotation).toBeNull();
  });

  it("revoke, bulk revoke, disable and delete reach the old secret's entry in every tier", async () => {
    const cases = [
      { act: (id: string) => revokeToken(storeEnv(env), org.orgId, id, testActor, Date.now()), code: 6 },
      { act: (id: string) => revokeTokens(storeEnv(env), org.orgId, [id], testActor, Date.now()), code: 6 },
      { act: (id: string) => disableToken(storeEnv(env), org.orgId, id, testActor, Date.now()), code: 5 },
      { act: (id: string) => deleteToken(storeEnv(env), org.orgId, id, testActor, Date.now()), code: 6 },
    ];
    for (const { act, code } of cases) {
      const r = await rotated();
      expect(await verify(r.oldSecret)).toMatchObject({ result: 0 });
      await act(r.id);
      expect(await verify(r.oldSecret)).toMatchObject({ result: code });
      resetIsolateCaches();
      expect(await verify(r.oldSecret)).toMatchObject({ result: code });
    }
  });
});

describe("structure changes", () => {
  it("a member's narrowed rights and their leaving reach the old secret's entry too", async () => {
    const userId = await makeMember(org.orgId, "org_member");
    const made = await makeToken(org, { kind: "personal", userId });
    await regenerateToken(storeEnv(env), org.orgId, made.token.id, testActor, Date.now(), { graceMs: HOUR });
    const db = database(primarySession(env.DB));
    const ask = async (permission: string) =>
      readVerify(await viaHandler(bearer(made.secret, "198.51.100.7", `${verifyUrl()}?permission=${permission}`)));
    expect(await ask("project:browse")).toMatchObject({ result: 0, token: { rotation: { oldSecret: true } } });
    await db
      .update(memberships)
      .set({ permissions: ["analysis:execute"] })
      .where(eq(memberships.userId, userId));
    await refreshOrgTokenCaches(storeEnv(env), org.orgId, Date.now(), { personalOf: [userId] });
    expect(await ask("project:browse")).toMatchObject({ result: 7 });
    await db.delete(memberships).where(eq(memberships.userId, userId));
    await refreshOrgTokenCaches(storeEnv(env), org.orgId, Date.now(), { personalOf: [userId] });
    resetIsolateCaches();
    expect(await verify(made.secret)).toMatchObject({ result: 6 });
  });
});

describe("leak reports", () => {
  it("an old secret in its grace revokes the token; one past its grace is no threat and changes nothing", async () => {
    const t0 = Date.now();
    const live = await rotated(HOUR, t0);
    const inGrace = await reportLeaks(
      storeEnv(env),
      [{ token: live.oldSecret }],
      { kind: "github", actor: testActor },
      t0 + 1,
    );
    expect(inGrace.revoked.map((r) => r.tokenId)).toEqual([live.id]);

    const ended = await rotated(HOUR, t0);
    const after = await reportLeaks(
      storeEnv(env),
      [{ token: ended.oldSecret }],
      { kind: "github", actor: testActor },
      t0 + HOUR,
    );
    expect(after.revoked).toEqual([]);
    expect(await verify(ended.newSecret)).toMatchObject({ result: 0 });
  });
});

describe("a slow miss cannot revive the old secret after the grace ends", () => {
  it("End grace landing while the miss reads D1: neither memory nor KV keeps the old secret valid", async () => {
    const r = await rotated();
    resetIsolateCaches();
    await dropFromKv(r.oldSecret);
    const { env: counted, log } = countingEnv();
    let ended = false;
    log.around = async (call, proceed) => {
      const result = await proceed();
      if (!ended && call.binding === "DB" && call.detail.includes("FROM tokens t")) {
        ended = true;
        await endGrace(storeEnv(env), org.orgId, r.id, testActor, Date.now());
      }
      return result;
    };
    // The request began before the end, so its own answer may still say valid...
    await verify(r.oldSecret, "198.51.100.7", counted);
    expect(ended).toBe(true);
    // ...but nothing after it does.
    expect(await verify(r.oldSecret)).toMatchObject({ result: 3 });
    expect((await kvEntryOf(r.oldSecret))?.token ?? null).toBeNull();
    resetIsolateCaches();
    expect(await verify(r.oldSecret)).toMatchObject({ result: 3 });
  });

  it("End grace landing between the fill's KV re-read and its put: the fill's version check withdraws it", async () => {
    const r = await rotated();
    resetIsolateCaches();
    await dropFromKv(r.oldSecret);
    const key = await kvKeyOf(r.oldSecret);
    const { env: counted, log } = countingEnv();
    let gets = 0;
    let ended = false;
    log.around = async (call, proceed) => {
      const result = await proceed();
      // The first get is the read's KV miss, the second the fill's re-read, before its put.
      if (call.binding === "TOKEN_CACHE" && call.op === "get" && call.detail === key && ++gets === 2) {
        ended = true;
        await endGrace(storeEnv(env), org.orgId, r.id, testActor, Date.now());
      }
      return result;
    };
    await verify(r.oldSecret, "198.51.100.7", counted);
    expect(ended).toBe(true);
    // The stale put landed over the tombstone, then was withdrawn: KV holds no live old secret.
    expect((await kvEntryOf(r.oldSecret))?.token ?? null).toBeNull();
    resetIsolateCaches();
    expect(await verify(r.oldSecret)).toMatchObject({ result: 3 });
    expect(await verify(r.newSecret)).toMatchObject({ result: 0 });
  });
});

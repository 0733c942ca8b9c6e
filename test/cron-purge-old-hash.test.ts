import { env } from "cloudflare:workers";
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { PURGE_UNUSED_AFTER_DAYS } from "../worker/cron/schedule";
import { DAY_MS, HOUR_MS, MINUTE_MS } from "../worker/limits";
import { deleteTokensOfGroup } from "../worker/tokens/bulk-delete";
import { hashToken } from "../worker/tokens/hash";
import { memoryCache } from "../worker/tokens/memory-cache";
import { deleteToken, regenerateToken } from "../worker/tokens/store";
import { resetJobState, runCronAt, tokenExists } from "./support/cron";
import { storeEnv } from "./support/d1";
import { BindingDown } from "./support/failing";
import { makeOrg, makeToken, type OrgFixture, testActor } from "./support/fixtures";
import { countingEnv } from "./support/io";
import { resetIsolateCaches } from "./support/isolate";
import { kvEntryOf, kvKeyOf } from "./support/kv-entries";
import { bearer, readVerify, viaHandler } from "./support/verify-client";

// A rotation's replaced secret verifies from its own cache entry during its grace (worker/tokens/rotation.ts).
// Every deletion of a token buries that entry with the token's (docs/DESIGN.md §3.1, no token D1 no longer
// has verifies from the cache): the 60-day purge and a group's deletion included, not only `deleteToken`.

const NOW = Date.UTC(2026, 11, 2, 12, 0, 0);

let org: OrgFixture;

beforeAll(async () => {
  vi.useFakeTimers({ toFake: ["Date"] });
  org = await makeOrg(NOW - 400 * DAY_MS);
});
afterAll(() => vi.useRealTimers());
beforeEach(async () => {
  await resetJobState();
  resetIsolateCaches();
});

const verify = async (secret: string) => readVerify(await viaHandler(bearer(secret)));

/**
 * A token made `age` ago and never used, regenerated at NOW with an hour's grace. The regenerate leaves a
 * "valid" entry for the old secret in this isolate's memory and in KV, and is not a use: the token stays
 * idle (a verification of the old secret would be one, and would keep it from the purge).
 */
async function rotatedIdle(overrides: Parameters<typeof makeToken>[1] = {}, age = 100 * DAY_MS) {
  vi.setSystemTime(NOW);
  const made = await makeToken(org, overrides, NOW - age);
  const regen = await regenerateToken(storeEnv(env), org.orgId, made.token.id, testActor, NOW, { graceMs: HOUR_MS });
  const oldHash = await hashToken(env.TOKEN_PEPPER, made.secret);
  const cached = await kvEntryOf(made.secret);
  const valid = { revokedAt: null, oldSecretUntil: NOW + HOUR_MS };
  expect(cached?.token).toMatchObject(valid);
  expect(memoryCache.get(oldHash, NOW)?.token).toMatchObject(valid);
  return { id: made.token.id, oldSecret: made.secret, newSecret: regen.secret, cachedV: cached!.v };
}

/** The old secret answers "revoked" from memory, then from KV alone, whose entry is a tombstone newer than the one it held. */
async function expectBuried(r: Awaited<ReturnType<typeof rotatedIdle>>, at: number) {
  const revoked = { result: expect.any(Number), error: "token_revoked" };
  expect(await verify(r.oldSecret)).toMatchObject(revoked);
  resetIsolateCaches();
  expect(await verify(r.oldSecret)).toMatchObject(revoked);
  const entry = await kvEntryOf(r.oldSecret);
  expect(entry!.v).toBeGreaterThan(r.cachedV);
  expect(entry!.token?.revokedAt).toBe(at);
  expect((await verify(r.newSecret)).result).not.toBe(0);
}

describe("the 60-day purge of a token whose old secret is in its grace", () => {
  it("buries the old secret's entry too: it stops verifying from memory and from KV", async () => {
    const r = await rotatedIdle();
    // The regenerate is not a use: the token is still due, and the next run purges it.
    const at = NOW + MINUTE_MS;
    await runCronAt(at);
    expect(await tokenExists(r.id)).toBe(false);
    await expectBuried(r, at);
  });

  it("buries it from KV when this isolate never held it", async () => {
    const r = await rotatedIdle({}, PURGE_UNUSED_AFTER_DAYS * DAY_MS);
    resetIsolateCaches();
    const at = NOW + 2 * MINUTE_MS;
    await runCronAt(at);
    expect(await tokenExists(r.id)).toBe(false);
    const entry = await kvEntryOf(r.oldSecret);
    expect(entry!.v).toBeGreaterThan(r.cachedV);
    expect(entry!.token?.revokedAt).toBe(at);
    expect(await verify(r.oldSecret)).toMatchObject({ error: "token_revoked" });
  });
});

describe("a group's own tokens deleted with it", () => {
  it("bury the old secret of a token in its grace with the token", async () => {
    const r = await rotatedIdle({ kind: "group", groupId: org.groupId }, DAY_MS);
    const at = NOW + MINUTE_MS;
    vi.setSystemTime(at);
    expect(await deleteTokensOfGroup(storeEnv(env), org.orgId, org.groupId, testActor, at)).toBe(1);
    expect(await tokenExists(r.id)).toBe(false);
    await expectBuried(r, at);
  });
});

describe("a replaced secret whose tombstone KV refuses", () => {
  /** The bindings, with every KV put of the old secret's entry failing (the current secret's goes through). */
  async function oldSecretPutsFail(oldSecret: string): Promise<Env> {
    const key = await kvKeyOf(oldSecret);
    const { env: bindings, log } = countingEnv();
    log.around = async (call, proceed) => {
      if (call.binding === "TOKEN_CACHE" && call.op === "put" && call.detail === key) throw new BindingDown(call);
      return proceed();
    };
    return bindings;
  }

  it("keeps the token from the purge: its row stays, the next run purges it and buries both secrets", async () => {
    const r = await rotatedIdle();
    const at = NOW + MINUTE_MS;
    await runCronAt(at, await oldSecretPutsFail(r.oldSecret));
    expect(await tokenExists(r.id)).toBe(true);
    // The current secret's tombstone is withdrawn with it: the token is alive, and both secrets say so.
    expect((await verify(r.newSecret)).result).toBe(0);
    expect(await verify(r.oldSecret)).toMatchObject({ result: 0, token: { rotation: { oldSecret: true } } });

    // Those verifications were uses: make it idle again, as a token the next run finds due.
    await env.DB.prepare("UPDATE tokens SET last_used_at = ?2 WHERE id = ?1")
      .bind(r.id, NOW - 100 * DAY_MS)
      .run();
    const next = at + 15 * MINUTE_MS;
    r.cachedV = (await kvEntryOf(r.oldSecret))!.v;
    await runCronAt(next);
    expect(await tokenExists(r.id)).toBe(false);
    await expectBuried(r, next);
  });

  it("keeps the token from a delete by hand, which answers an error and changes nothing", async () => {
    const r = await rotatedIdle({}, DAY_MS);
    const at = NOW + MINUTE_MS;
    vi.setSystemTime(at);
    await expect(
      deleteToken(storeEnv(await oldSecretPutsFail(r.oldSecret)), org.orgId, r.id, testActor, at),
    ).rejects.toMatchObject({ code: "unavailable" });
    expect(await tokenExists(r.id)).toBe(true);
    expect(await verify(r.oldSecret)).toMatchObject({ result: 0, token: { rotation: { oldSecret: true } } });
    expect((await verify(r.newSecret)).result).toBe(0);
  });
});

import { env } from "cloudflare:workers";
import { beforeAll, beforeEach, describe, expect, it } from "vitest";
import { disableToken, regenerateToken, revokeToken } from "../worker/tokens/store";
import { storeEnv } from "./support/d1";
import { makeOrg, makeToken, type OrgFixture, testActor } from "./support/fixtures";
import { countingEnv, type IoCall } from "./support/io";
import { resetIsolateCaches } from "./support/isolate";
import { dropFromKv, kvEntryOf, kvKeyOf } from "./support/kv-entries";
import { bearer, readVerify, viaHandler } from "./support/verify-client";

let org: OrgFixture;
beforeAll(async () => {
  org = await makeOrg();
});
beforeEach(() => resetIsolateCaches());

const isLookup = (c: IoCall) => c.binding === "DB" && c.detail.includes("FROM tokens t");
/** Everything but the attempt's count, written in one batch (at most once per token in 5 minutes): the reads. */
const isRead = (c: IoCall) => !(c.binding === "DB" && c.op === "batch");

async function verify(secret: string, bindings: Env = env) {
  return readVerify(await viaHandler(bearer(secret), bindings));
}

/** A token whose next verification in this isolate is a miss of every tier (as in a cold isolate). */
async function coldToken() {
  const made = await makeToken(org);
  resetIsolateCaches();
  await dropFromKv(made.secret);
  return made;
}

describe("after revoke or disable, the next verification in the same isolate fails", () => {
  for (const [change, act, code] of [
    ["revoke", revokeToken, 6],
    ["disable", disableToken, 5],
  ] as const) {
    it(`${change}: answered from the overwritten memory tier, with no KV or D1 read`, async () => {
      const { secret, token } = await makeToken(org);
      const { env: counted, log } = countingEnv();
      expect(await verify(secret, counted)).toMatchObject({ result: 0 });
      await act(storeEnv(env), org.orgId, token.id, testActor, Date.now());
      log.reset();
      expect(await verify(secret, counted)).toMatchObject({ result: code });
      expect(log.count(undefined, isRead)).toBe(0);
    });

    it(`${change}: KV holds the new state (overwritten, not deleted), so other isolates learn it without D1`, async () => {
      const { secret, token } = await makeToken(org);
      const before = await kvEntryOf(secret);
      await act(storeEnv(env), org.orgId, token.id, testActor, Date.now());
      const after = await kvEntryOf(secret);
      expect(after?.v).toBeGreaterThan(before!.v);
      expect(after?.token).toMatchObject(
        change === "revoke" ? { revokedAt: expect.any(Number) } : { disabledAt: expect.any(Number) },
      );
      resetIsolateCaches();
      const { env: counted, log } = countingEnv();
      expect(await verify(secret, counted)).toMatchObject({ result: code });
      expect(log.count("DB", isRead)).toBe(0);
    });
  }
});

describe("a miss that started before the change cannot cache the old answer", () => {
  it("revoke landing while the miss reads D1: the old answer reaches neither memory nor KV", async () => {
    const { secret, token } = await coldToken();
    const { env: counted, log } = countingEnv();
    log.around = async (call, proceed) => {
      const result = await proceed();
      if (isLookup(call)) await revokeToken(storeEnv(env), org.orgId, token.id, testActor, Date.now());
      return result;
    };
    // The request began before the revoke, so its own answer may still say valid...
    expect(await verify(secret, counted)).toMatchObject({ result: 0 });
    // ...but nothing after it does: not this isolate, not KV, not a cold isolate.
    expect(await verify(secret)).toMatchObject({ result: 6 });
    expect((await kvEntryOf(secret))?.token?.revokedAt).toEqual(expect.any(Number));
    resetIsolateCaches();
    expect(await verify(secret)).toMatchObject({ result: 6 });
  });

  it("revoke landing between the fill's KV re-read and its put: the stale entry does not survive in KV", async () => {
    const { secret, token } = await coldToken();
    const key = await kvKeyOf(secret);
    const { env: counted, log } = countingEnv();
    log.around = async (call, proceed) => {
      if (call.binding === "TOKEN_CACHE" && call.op === "put" && call.detail === key) {
        await revokeToken(storeEnv(env), org.orgId, token.id, testActor, Date.now());
      }
      return proceed();
    };
    expect(await verify(secret, counted)).toMatchObject({ result: 0 });
    const entry = await kvEntryOf(secret);
    // Deleted (the next reader goes to D1) or the revoked state; never the valid entry the miss read.
    if (entry !== null) expect(entry.token?.revokedAt).toEqual(expect.any(Number));
    resetIsolateCaches();
    expect(await verify(secret)).toMatchObject({ result: 6 });
  });

  it("disable landing between the fill's re-read and its put, in another isolate: this isolate's memory forgets too", async () => {
    const { secret, token } = await coldToken();
    const key = await kvKeyOf(secret);
    const { env: counted, log } = countingEnv();
    log.around = async (call, proceed) => {
      if (call.binding === "TOKEN_CACHE" && call.op === "put" && call.detail === key) {
        await disableToken(storeEnv(env), org.orgId, token.id, testActor, Date.now());
        // The change happened elsewhere: this isolate's memory never saw it.
        resetIsolateCaches();
      }
      return proceed();
    };
    expect(await verify(secret, counted)).toMatchObject({ result: 0 });
    expect(await verify(secret)).toMatchObject({ result: 5 });
  });

  it("regenerate landing while a miss on the old secret reads D1: the old secret never verifies again", async () => {
    const { secret, token } = await coldToken();
    const { env: counted, log } = countingEnv();
    log.around = async (call, proceed) => {
      const result = await proceed();
      if (isLookup(call)) await regenerateToken(storeEnv(env), org.orgId, token.id, testActor, Date.now());
      return result;
    };
    await verify(secret, counted);
    expect(await verify(secret)).toMatchObject({ result: 3 });
    resetIsolateCaches();
    expect(await verify(secret)).toMatchObject({ result: 3 });
    expect((await kvEntryOf(secret))?.token ?? null).toBeNull();
  });

  it("a quiet miss keeps its KV entry: the version check only drops entries that raced a change", async () => {
    const { secret } = await coldToken();
    const { env: counted, log } = countingEnv();
    expect(await verify(secret, counted)).toMatchObject({ result: 0 });
    expect(log.count("TOKEN_CACHE", (c) => c.op === "delete")).toBe(0);
    expect((await kvEntryOf(secret))?.token?.revokedAt).toBeNull();
  });
});

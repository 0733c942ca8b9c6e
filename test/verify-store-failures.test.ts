import { env } from "cloudflare:workers";
import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { KV_READ_DEADLINE_MS, VERIFY_STORE_DEADLINE_MS } from "../worker/limits";
import { generateTokenSecret } from "../worker/tokens/format";
import { memoryCache } from "../worker/tokens/memory-cache";
import { revokeToken } from "../worker/tokens/store";
import { storeEnv } from "./support/d1";
import { envWithFailing } from "./support/failing";
import { makeOrg, makeToken, type OrgFixture, testActor } from "./support/fixtures";
import { countingEnv, type IoCall } from "./support/io";
import { resetIsolateCaches } from "./support/isolate";
import { dropFromKv, kvEntryOf } from "./support/kv-entries";
import { bearer, readVerify, viaHandler } from "./support/verify-client";

let org: OrgFixture;
beforeAll(async () => {
  org = await makeOrg();
});
beforeEach(() => resetIsolateCaches());
afterEach(() => vi.useRealTimers());

const isLookup = (c: IoCall) => c.binding === "DB" && c.detail.includes("FROM tokens t");

async function verify(secret: string, bindings: Env) {
  const res = await viaHandler(bearer(secret), bindings);
  return { status: res.status, body: await readVerify(res) };
}

/** Lets the worker reach its `setTimeout` (the deadline) without moving the fake clock. */
async function deadlineArmed() {
  for (let i = 0; i < 1000 && vi.getTimerCount() === 0; i++) await Promise.resolve();
  expect(vi.getTimerCount()).toBeGreaterThan(0);
}

/** A token known to D1 only: this isolate's memory and KV are empty for it. */
async function coldToken() {
  const made = await makeToken(org);
  resetIsolateCaches();
  await dropFromKv(made.secret);
  return made;
}

describe("KV trouble falls back to D1", () => {
  it("a failing KV read: the answer comes from D1", async () => {
    const { secret, token } = await makeToken(org);
    memoryCache.clear();
    const { env: failing, log } = envWithFailing("TOKEN_CACHE");
    expect(await verify(secret, failing)).toMatchObject({ status: 200, body: { result: 0, token: { id: token.id } } });
    expect(log.count(undefined, isLookup)).toBe(1);
  });

  it("a failing KV read also gives the right refusal from D1 (revoked stays revoked)", async () => {
    const { secret, token } = await makeToken(org);
    await revokeToken(storeEnv(env), org.orgId, token.id, testActor, Date.now());
    memoryCache.clear();
    expect(await verify(secret, envWithFailing("TOKEN_CACHE").env)).toMatchObject({ status: 401, body: { result: 6 } });
  });

  it("a KV read that hangs: after KV_READ_DEADLINE_MS the answer comes from D1", async () => {
    const { secret } = await coldToken();
    const { env: slow, log } = countingEnv();
    let release: () => void = () => {};
    let stalled: () => void = () => {};
    const stalledOnce = new Promise<void>((r) => (stalled = r));
    log.around = (call, proceed) => {
      if (call.binding === "TOKEN_CACHE" && call.op === "get" && log.count("TOKEN_CACHE") === 1) {
        stalled();
        return new Promise((r) => (release = () => r(proceed())));
      }
      return proceed();
    };
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    const pending = verify(secret, slow);
    await stalledOnce;
    await deadlineArmed();
    await vi.advanceTimersByTimeAsync(KV_READ_DEADLINE_MS - 1);
    expect(log.count(undefined, isLookup)).toBe(0);
    await vi.advanceTimersByTimeAsync(1);
    vi.useRealTimers();
    expect(await pending).toMatchObject({ status: 200, body: { result: 0 } });
    expect(log.count(undefined, isLookup)).toBe(1);
    release();
  });

  it("a failing KV fill does not change the answer", async () => {
    const { secret } = await coldToken();
    const { env: fillFails, log } = countingEnv();
    log.around = (call, proceed) =>
      call.binding === "TOKEN_CACHE" && call.op === "put" ? Promise.reject(new Error("KV put is down")) : proceed();
    expect(await verify(secret, fillFails)).toMatchObject({ status: 200, body: { result: 0 } });
  });
});

describe("D1 trouble fails closed", () => {
  it("a failing D1 with nothing cached answers 10, never valid", async () => {
    const { secret } = await coldToken();
    expect(await verify(secret, envWithFailing("DB").env)).toMatchObject({
      status: 503,
      body: { result: 10, error: "unavailable", valid: false },
    });
    // And nothing was cached from the failure: once D1 is back, the token verifies.
    expect(await kvEntryOf(secret)).toBeNull();
    expect(await verify(secret, env)).toMatchObject({ status: 200, body: { result: 0 } });
  });

  it("a failing D1 and a failing KV answer 10, for a real token and for an unknown one", async () => {
    const { secret } = await coldToken();
    const down = envWithFailing(["DB", "TOKEN_CACHE"]).env;
    expect(await verify(secret, down)).toMatchObject({ status: 503, body: { result: 10 } });
    expect(await verify(generateTokenSecret("org"), down)).toMatchObject({ status: 503, body: { result: 10 } });
  });

  it("a D1 lookup that hangs answers 10 after VERIFY_STORE_DEADLINE_MS", async () => {
    const { secret } = await coldToken();
    const { env: slow, log } = countingEnv();
    let stalled: () => void = () => {};
    const stalledOnce = new Promise<void>((r) => (stalled = r));
    log.around = (call, proceed) => {
      if (isLookup(call)) {
        stalled();
        return new Promise(() => {});
      }
      return proceed();
    };
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    const pending = verify(secret, slow);
    await stalledOnce;
    await deadlineArmed();
    await vi.advanceTimersByTimeAsync(VERIFY_STORE_DEADLINE_MS);
    vi.useRealTimers();
    expect(await pending).toMatchObject({ status: 503, body: { result: 10 } });
  });

  it("a failing D1 does not matter while KV or memory holds the token", async () => {
    const { secret } = await makeToken(org);
    const down = envWithFailing("DB");
    expect(await verify(secret, down.env)).toMatchObject({ status: 200, body: { result: 0 } });
    memoryCache.clear();
    expect(await verify(secret, down.env)).toMatchObject({ status: 200, body: { result: 0 } });
  });

  it("a missing or short TOKEN_PEPPER answers 10 rather than hashing with a weak key", async () => {
    const { secret } = await makeToken(org);
    for (const pepper of ["", "short"]) {
      expect(await verify(secret, { ...env, TOKEN_PEPPER: pepper })).toMatchObject({
        status: 503,
        body: { result: 10 },
      });
    }
  });
});

describe("the unknown-token limiter is protection, not a dependency", () => {
  it("a failing limiter answers an unknown token with 3, not an outage", async () => {
    const { env: down } = envWithFailing("UNKNOWN_TOKEN_LIMITER");
    expect(await verify(generateTokenSecret("personal"), down)).toMatchObject({ status: 401, body: { result: 3 } });
  });
});

import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { SYSTEM_ACTOR } from "../worker/audit/events";
import { forgetUpstream } from "../worker/gateway/registry";
import { type UpstreamEntry, upstreamKvKey } from "../worker/gateway/upstream-cache";
import { createUpstream, deleteUpstream } from "../worker/gateway/upstreams";
import worker from "../worker/index";
import { KV_UPSTREAM_FRESH_MS, UPSTREAM_MEMORY_TTL_MS, VERIFY_STORE_DEADLINE_MS } from "../worker/limits";
import { TesseraRpc } from "../worker/rpc";
import { generateTokenSecret } from "../worker/tokens/format";
import { storeEnv } from "./support/d1";
import { envWithFailing } from "./support/failing";
import { makeOrg, makeToken, type OrgFixture } from "./support/fixtures";
import { countingEnv, type IoCall } from "./support/io";
import { resetIsolateCaches } from "./support/isolate";
import { dropFromKv } from "./support/kv-entries";
import { bearer, readVerify, viaHandler } from "./support/verify-client";

// Fault injection on every way in that is not /v1/verify's GET (test/verify-store-failures.test.ts
// covers that one): the gateway, the RPC entrypoint and the POST form, with bindings that throw or
// hang. Each must keep the hot path's promises: KV trouble is answered from D1, D1 trouble with
// nothing cached is code 10 and never "valid", and no answer waits on D1 past the deadline.

const TESSERA = "https://tessera.test";
const UPSTREAM = "https://faults-upstream.test";
const UPSTREAM_NAME = "faults";
const PERMISSION = "analysis:execute";

let upstreamCalls: Request[] = [];
const realFetch = globalThis.fetch;

let org: OrgFixture;
beforeAll(async () => {
  vi.spyOn(globalThis, "fetch").mockImplementation((input: RequestInfo | URL, init?: RequestInit) => {
    const request = input instanceof Request && init === undefined ? input : new Request(input, init);
    if (new URL(request.url).origin !== UPSTREAM) return realFetch(input, init);
    upstreamCalls.push(request);
    return Promise.resolve(Response.json({ reached: true, tokenId: request.headers.get("x-tessera-token-id") }));
  });
  org = await makeOrg();
  await addUpstream(UPSTREAM_NAME);
});
afterAll(() => vi.restoreAllMocks());
beforeEach(() => {
  resetIsolateCaches();
  forgetUpstream(UPSTREAM_NAME);
  upstreamCalls = [];
});
afterEach(() => vi.useRealTimers());

/** A token that D1 knows and no cache tier holds. */
async function coldToken() {
  const made = await makeToken(org);
  resetIsolateCaches();
  await dropFromKv(made.secret);
  return made;
}

/** A token held by the memory tier (and KV), through one verification with healthy bindings. */
async function warmToken() {
  const made = await makeToken(org);
  expect((await viaHandler(bearer(made.secret))).status).toBe(200);
  return made;
}

function addUpstream(name: string) {
  const rules = [{ method: "*", pathPrefix: "/", permission: PERMISSION }];
  return createUpstream(
    storeEnv(env),
    org.orgId,
    { name, origin: UPSTREAM, rules, projectFromPath: false },
    SYSTEM_ACTOR,
    Date.now(),
  );
}

const gatewayRequest = (secret: string, name = UPSTREAM_NAME) =>
  new Request(`${TESSERA}/gw/${name}/items`, { headers: { Authorization: `Bearer ${secret}` } });

/**
 * Warms the gateway's upstream tiers (isolate memory, and KV, which the upstream's creation already
 * wrote) and a token with healthy bindings, so that a failure meets them cached.
 */
async function warmGateway(name = UPSTREAM_NAME) {
  const made = await warmToken();
  expect((await viaHandler(gatewayRequest(made.secret, name))).status).toBe(200);
  upstreamCalls = [];
  return made;
}

/** The upstream as another isolate would first meet it: in no memory; and, with `kv`, in no KV either. */
async function coldUpstream(name = UPSTREAM_NAME, { kv = false } = {}) {
  forgetUpstream(name);
  if (kv) await env.TOKEN_CACHE.delete(upstreamKvKey(name));
}

const kvUpstream = (name: string) => env.TOKEN_CACHE.get<UpstreamEntry>(upstreamKvKey(name), "json");

function rpc(bindings: Env) {
  const ctx = createExecutionContext();
  return { rpc: new TesseraRpc(ctx, bindings), done: () => waitOnExecutionContext(ctx) };
}

const isLookup = (c: IoCall) => c.binding === "DB" && c.detail.includes("FROM tokens t");
const isUpstreamRead = (c: IoCall) => c.binding === "DB" && c.detail.includes('from "upstreams"');

/** A D1 whose calls that `hangs` picks never answer (token lookups by default); everything else works. */
function hangingLookups(hangs: (c: IoCall) => boolean = isLookup) {
  const counted = countingEnv();
  let reached: () => void = () => {};
  const lookupStarted = new Promise<void>((r) => (reached = r));
  counted.log.around = (call, proceed) => {
    if (!hangs(call)) return proceed();
    reached();
    return new Promise(() => {});
  };
  return { env: counted.env, log: counted.log, lookupStarted };
}

/** Lets the worker arm its deadline timer without moving the fake clock. */
async function timerArmed() {
  for (let i = 0; i < 1000 && vi.getTimerCount() === 0; i++) await Promise.resolve();
  expect(vi.getTimerCount()).toBeGreaterThan(0);
}

describe("KV down: answers come from D1", () => {
  it("the gateway verifies from D1 and forwards with the token's identity", async () => {
    const { secret, token } = await coldToken();
    const res = await viaHandler(gatewayRequest(secret), envWithFailing("TOKEN_CACHE").env);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ reached: true, tokenId: token.id });
  });

  it("the RPC entrypoint verifies from D1", async () => {
    const { secret, token } = await coldToken();
    const { rpc: entry, done } = rpc(envWithFailing("TOKEN_CACHE").env);
    expect(await entry.verify(secret, { permission: PERMISSION })).toMatchObject({
      status: 200,
      result: 0,
      valid: true,
      token: { id: token.id },
    });
    await done();
  });

  it("POST /v1/verify with a JSON body verifies from D1", async () => {
    const { secret } = await coldToken();
    const req = new Request(`${TESSERA}/v1/verify`, {
      method: "POST",
      headers: { Authorization: `Bearer ${secret}`, "Content-Type": "application/json" },
      body: JSON.stringify({ permission: [PERMISSION], project: org.projectKeys.alpha }),
    });
    const res = await viaHandler(req, envWithFailing("TOKEN_CACHE").env);
    expect(res.status).toBe(200);
    expect(await readVerify(res)).toMatchObject({ result: 0, valid: true });
  });
});

describe("D1 down: cached tokens keep working, nothing uncached is ever valid", () => {
  it("the gateway forwards a token held in memory or KV", async () => {
    const { secret, token } = await warmToken();
    await warmGateway();
    const down = envWithFailing("DB").env;
    const fromMemory = await viaHandler(gatewayRequest(secret), down);
    expect(fromMemory.status).toBe(200);
    resetIsolateCaches(); // the memory tier is gone; KV still holds the token
    const fromKv = await viaHandler(gatewayRequest(secret), down);
    expect(fromKv.status).toBe(200);
    expect(await fromKv.json()).toEqual({ reached: true, tokenId: token.id });
  });

  it("the gateway answers an uncached token with 10 and forwards nothing", async () => {
    const { secret } = await coldToken();
    await warmGateway();
    const res = await viaHandler(gatewayRequest(secret), envWithFailing("DB").env);
    expect(res.status).toBe(503);
    expect(await readVerify(res)).toMatchObject({ result: 10, valid: false, error: "unavailable" });
    expect(upstreamCalls).toHaveLength(0);
  });

  it("the gateway with its upstream in no cache tier answers 10 in the verify envelope and forwards nothing", async () => {
    const { secret } = await warmToken();
    await coldUpstream(UPSTREAM_NAME, { kv: true });
    const res = await viaHandler(gatewayRequest(secret), envWithFailing("DB").env);
    expect(res.status).toBe(503);
    expect(await readVerify(res)).toMatchObject({ result: 10, valid: false, error: "unavailable" });
    expect(upstreamCalls).toHaveLength(0);
  });

  it("the gateway keeps proxying past every memory TTL: the upstream and the token come from KV", async () => {
    const { secret, token } = await warmGateway();
    vi.useFakeTimers({ toFake: ["Date"] });
    // Past the memory tiers, and past the KV copy's freshness: D1 would be asked, and is down.
    vi.setSystemTime(Date.now() + KV_UPSTREAM_FRESH_MS + 1);
    const { env: down, log } = envWithFailing("DB");
    const res = await viaHandler(gatewayRequest(secret), down);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ reached: true, tokenId: token.id });
    expect(log.count("DB", isUpstreamRead)).toBe(1); // the background re-read, which failed
    expect(await kvUpstream(UPSTREAM_NAME)).toMatchObject({ upstream: { name: UPSTREAM_NAME, origin: UPSTREAM } });
  });

  it("with KV down too, the gateway serves the last configuration this isolate knew", async () => {
    const { secret, token } = await warmGateway();
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(Date.now() + UPSTREAM_MEMORY_TTL_MS + 1);
    expect((await viaHandler(bearer(secret))).status).toBe(200); // the token back in memory; the upstream's entry stays expired
    const res = await viaHandler(gatewayRequest(secret), envWithFailing(["DB", "TOKEN_CACHE"]).env);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ reached: true, tokenId: token.id });
  });

  it("a deleted upstream stops at once, here and from KV's tombstone, with D1 down", async () => {
    const name = "faults-deleted";
    await addUpstream(name);
    const { secret } = await warmGateway(name);
    await deleteUpstream(storeEnv(env), org.orgId, name, SYSTEM_ACTOR, Date.now());
    const down = envWithFailing("DB").env;

    const here = await viaHandler(gatewayRequest(secret, name), down);
    expect(here.status).toBe(403);
    expect(await readVerify(here)).toMatchObject({ result: 7, valid: false }); // as any name that is not the caller's upstream
    // Another isolate: nothing in memory, and KV's copy was overwritten, not merely deleted.
    await coldUpstream(name);
    expect(await kvUpstream(name)).toMatchObject({ upstream: null });
    expect((await viaHandler(gatewayRequest(secret, name), down)).status).toBe(403);
    expect(upstreamCalls).toHaveLength(0);
  });

  it("a gateway read in flight when its upstream is deleted does not bring it back", async () => {
    const name = "faults-raced";
    await addUpstream(name);
    const { secret } = await warmGateway(name);
    await coldUpstream(name, { kv: true });
    const { env: racing, log } = countingEnv();
    let deleted = false;
    log.around = async (call, proceed) => {
      const result = await proceed();
      if (isUpstreamRead(call) && !deleted) {
        deleted = true; // D1 has answered with the upstream; the deletion lands before the gateway uses it
        await deleteUpstream(storeEnv(env), org.orgId, name, SYSTEM_ACTOR, Date.now());
      }
      return result;
    };
    // The deletion landed before the gateway used what it read, and wins: memory keeps the newer version.
    expect((await viaHandler(gatewayRequest(secret, name), racing)).status).toBe(403);
    expect(deleted).toBe(true);
    expect(upstreamCalls).toHaveLength(0);

    const down = envWithFailing("DB").env;
    expect((await viaHandler(gatewayRequest(secret, name), down)).status).toBe(403);
    await coldUpstream(name);
    expect(await kvUpstream(name)).toMatchObject({ upstream: null });
    expect((await viaHandler(gatewayRequest(secret, name), down)).status).toBe(403);
  });

  it("the RPC entrypoint: a cached token is valid, an uncached or unknown one is 10", async () => {
    const warm = await warmToken();
    const cold = await coldToken();
    expect((await viaHandler(bearer(warm.secret))).status).toBe(200);
    const { rpc: entry, done } = rpc(envWithFailing("DB").env);
    expect(await entry.verify(warm.secret)).toMatchObject({ status: 200, valid: true });
    expect(await entry.verify(cold.secret)).toMatchObject({ status: 503, result: 10, valid: false });
    expect(await entry.verify(generateTokenSecret("group"))).toMatchObject({ status: 503, result: 10, valid: false });
    await done();
  });

  it("a failing usage write leaves the answer valid", async () => {
    const { secret } = await makeToken(org);
    resetIsolateCaches(); // KV holds it, and this isolate has not written its usage yet
    const { env: writesFail, log } = countingEnv();
    log.around = (call, proceed) =>
      call.binding === "DB" && call.op === "batch" ? Promise.reject(new Error("D1 write is down (test)")) : proceed();
    const res = await viaHandler(bearer(secret), writesFail);
    expect(res.status).toBe(200);
    expect(log.count("DB", (c) => c.op === "batch")).toBe(1);
  });
});

describe("D1 slow: no answer waits past VERIFY_STORE_DEADLINE_MS", () => {
  it("the RPC entrypoint answers 10 at the deadline, not before", async () => {
    const { secret } = await coldToken();
    const { env: slow, lookupStarted } = hangingLookups();
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    let settled = false;
    const pending = new TesseraRpc(createExecutionContext(), slow).verify(secret).finally(() => (settled = true));
    await lookupStarted;
    await timerArmed();
    await vi.advanceTimersByTimeAsync(VERIFY_STORE_DEADLINE_MS - 1);
    expect(settled).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(await pending).toMatchObject({ status: 503, result: 10, valid: false });
  });

  it("the gateway whose upstream no cache tier holds answers 10 at the deadline, not before", async () => {
    const { secret } = await warmToken();
    await coldUpstream(UPSTREAM_NAME, { kv: true });
    const { env: slow, lookupStarted } = hangingLookups(isUpstreamRead);
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    let settled = false;
    const pending = Promise.resolve(worker.fetch(gatewayRequest(secret), slow, createExecutionContext())).finally(
      () => (settled = true),
    );
    await lookupStarted;
    await timerArmed();
    await vi.advanceTimersByTimeAsync(VERIFY_STORE_DEADLINE_MS - 1);
    expect(settled).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    const res = await pending;
    expect(res.status).toBe(503);
    expect(await readVerify(res)).toMatchObject({ result: 10, valid: false, error: "unavailable" });
    expect(upstreamCalls).toHaveLength(0);
  });

  it("the gateway does not wait on D1 to re-read an upstream whose KV copy is past its freshness", async () => {
    const { secret } = await warmGateway();
    const { env: slow, log, lookupStarted } = hangingLookups(isUpstreamRead);
    vi.useFakeTimers({ toFake: ["Date", "setTimeout", "clearTimeout"] });
    vi.setSystemTime(Date.now() + KV_UPSTREAM_FRESH_MS + 1);
    // No timer is moved: the answer must not need the re-read, which hangs in the background.
    const res = await worker.fetch(gatewayRequest(secret), slow, createExecutionContext());
    expect(res.status).toBe(200);
    await lookupStarted;
    expect(log.count("DB", isUpstreamRead)).toBe(1);
  });

  it("the gateway answers 10 at the deadline and forwards nothing", async () => {
    const { secret } = await coldToken();
    await warmGateway();
    const { env: slow, lookupStarted } = hangingLookups();
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    const pending = worker.fetch(gatewayRequest(secret), slow, createExecutionContext());
    await lookupStarted;
    await timerArmed();
    await vi.advanceTimersByTimeAsync(VERIFY_STORE_DEADLINE_MS);
    const res = await pending;
    expect(res.status).toBe(503);
    expect(await readVerify(res)).toMatchObject({ result: 10 });
    expect(upstreamCalls).toHaveLength(0);
  });

  it("a usage write that never finishes does not hold the answer", async () => {
    const { secret } = await makeToken(org);
    resetIsolateCaches();
    const { env: writesHang, log } = countingEnv();
    log.around = (call, proceed) => (call.binding === "DB" && call.op === "batch" ? new Promise(() => {}) : proceed());
    // No wait on the execution context: the write is background work, the answer must not need it.
    const res = await worker.fetch(bearer(secret), writesHang, createExecutionContext());
    expect(res.status).toBe(200);
    // The write starts once the answer has been handed back (worker/util/after-answer.ts), and still starts.
    expect(log.count("DB", (c) => c.op === "batch")).toBe(0);
    await vi.waitFor(() => expect(log.count("DB", (c) => c.op === "batch")).toBe(1));
  });
});

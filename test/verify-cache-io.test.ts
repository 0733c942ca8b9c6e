import { env } from "cloudflare:workers";
import { eq } from "drizzle-orm";
import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { database } from "../worker/db/client";
import { tokens, tokenUsage } from "../worker/db/schema";
import { primarySession } from "../worker/db/session";
import {
  KV_NEGATIVE_TTL_S,
  KV_TOKEN_TTL_S,
  LAST_USED_IPS_KEPT,
  LAST_USED_WRITE_INTERVAL_MS,
  MEMORY_CACHE_TTL_MS,
} from "../worker/limits";
import { generateTokenSecret } from "../worker/tokens/format";
import { memoryCache } from "../worker/tokens/memory-cache";
import { forgetUsageWrites } from "../worker/tokens/usage";
import { makeOrg, makeToken, type OrgFixture } from "./support/fixtures";
import { countingEnv, type IoCall, type IoLog } from "./support/io";
import { resetIsolateCaches } from "./support/isolate";
import { dropFromKv, kvKeyOf } from "./support/kv-entries";
import { bearer, readVerify, verifyUrl, viaHandler } from "./support/verify-client";

const T0 = Date.UTC(2026, 10, 22, 9, 0, 0);
const IP = "198.51.100.20";
let org: OrgFixture;
let counted: Env;
let log: IoLog;

const isLookup = (c: IoCall) => c.binding === "DB" && c.detail.includes("FROM tokens t");
const isUsageWrite = (c: IoCall) => c.binding === "DB" && c.op === "batch";
const kvOps = (op: string) => (c: IoCall) => c.op === op;

beforeAll(async () => {
  org = await makeOrg(T0);
});
beforeEach(() => {
  resetIsolateCaches();
  ({ env: counted, log } = countingEnv());
  vi.useFakeTimers({ toFake: ["Date"] });
  vi.setSystemTime(T0);
});
afterEach(() => vi.useRealTimers());

async function verify(secret: string, ip = IP) {
  return readVerify(await viaHandler(bearer(secret, ip), counted));
}

describe("each tier costs only its own I/O", () => {
  it("a memory hit makes no KV and no D1 call", async () => {
    const { secret } = await makeToken(org, {}, T0);
    await verify(secret); // records usage once
    log.reset();
    for (let i = 0; i < 10; i++) expect(await verify(secret)).toMatchObject({ result: 0 });
    expect(log.calls).toEqual([]);
  });

  it("a KV hit makes one KV read and no D1 call", async () => {
    const { secret } = await makeToken(org, {}, T0);
    await verify(secret);
    memoryCache.clear(); // a fresh isolate's memory, same usage memo
    log.reset();
    expect(await verify(secret)).toMatchObject({ result: 0 });
    expect(log.calls).toEqual([{ binding: "TOKEN_CACHE", op: "get", detail: await kvKeyOf(secret) }]);
    // The hit is kept in memory for the next requests.
    log.reset();
    await verify(secret);
    expect(log.calls).toEqual([]);
  });

  it("a miss of every tier reads D1 once, then fills KV and memory", async () => {
    const { secret } = await makeToken(org, {}, T0);
    resetIsolateCaches();
    await dropFromKv(secret);
    expect(await verify(secret)).toMatchObject({ result: 0 });
    expect(log.count(undefined, isLookup)).toBe(1);
    expect(log.count("TOKEN_CACHE", kvOps("put"))).toBe(1);
    expect(log.count("UNKNOWN_TOKEN_LIMITER")).toBe(0);
    log.reset();
    await verify(secret);
    expect(log.calls).toEqual([]);
    memoryCache.clear();
    log.reset();
    await verify(secret);
    expect(log.count("DB")).toBe(0);
  });

  it("memory entries live for the short memory TTL, then KV answers", async () => {
    const { secret } = await makeToken(org, {}, T0);
    await verify(secret);
    log.reset();
    vi.setSystemTime(T0 + MEMORY_CACHE_TTL_MS - 1);
    await verify(secret);
    expect(log.calls).toEqual([]);
    vi.setSystemTime(T0 + MEMORY_CACHE_TTL_MS);
    await verify(secret);
    expect(log.count("TOKEN_CACHE", kvOps("get"))).toBe(1);
    expect(log.count(undefined, isLookup)).toBe(0);
  });

  it("a malformed token makes no call of any kind, on any carrier", async () => {
    const good = generateTokenSecret("org");
    const broken = `${good.slice(0, -1)}${good.endsWith("A") ? "B" : "A"}`;
    const requests = [
      bearer(broken),
      bearer("tso_short"),
      bearer("x".repeat(5000)),
      new Request(verifyUrl({ session: broken })),
      new Request(verifyUrl({ accessToken: `${good}0` })),
      new Request(verifyUrl(), { headers: { "X-Api-Key": good.toUpperCase() } }),
      new Request(verifyUrl(), { headers: { Authorization: `Basic ${btoa(`${broken}:`)}` } }),
    ];
    for (const request of requests) {
      const body = await readVerify(await viaHandler(request, counted));
      expect(body).toMatchObject({ result: 2 });
    }
    expect(log.calls).toEqual([]);
  });

  it("a missing token and a refused request shape make no call either", async () => {
    const { secret } = await makeToken(org, {}, T0);
    log.reset();
    await verify("");
    await viaHandler(new Request(verifyUrl({ session: secret, permission: ["has space"] })), counted);
    await viaHandler(
      new Request(verifyUrl({ session: secret }), { headers: { "X-Api-Key": generateTokenSecret("org") } }),
      counted,
    );
    expect(log.calls).toEqual([]);
  });
});

describe("unknown tokens are cached negatively", () => {
  it("one D1 lookup, then memory, then KV for 60 s; D1 is not asked again", async () => {
    const unknown = generateTokenSecret("group");
    expect(await verify(unknown)).toMatchObject({ result: 3 });
    expect(log.count(undefined, isLookup)).toBe(1);
    expect(log.count("UNKNOWN_TOKEN_LIMITER")).toBe(1);
    log.reset();
    expect(await verify(unknown)).toMatchObject({ result: 3 });
    expect(log.calls).toEqual([]);
    memoryCache.clear();
    expect(await verify(unknown)).toMatchObject({ result: 3 });
    expect(log.count("DB")).toBe(0);
    expect(log.count("UNKNOWN_TOKEN_LIMITER")).toBe(0);
  });

  it("KV keeps a negative entry for 60 s and a known token for 5 minutes", async () => {
    vi.useRealTimers(); // KV computes expirations on its own (real) clock
    const unknown = generateTokenSecret("org");
    const { secret } = await makeToken(org);
    resetIsolateCaches();
    await dropFromKv(secret);
    await verify(unknown);
    await verify(secret);
    const { keys } = await env.TOKEN_CACHE.list();
    const expiresIn = async (s: string) => {
      const name = await kvKeyOf(s);
      return (keys.find((k) => k.name === name)?.expiration ?? 0) - Date.now() / 1000;
    };
    expect(await expiresIn(unknown)).toBeGreaterThan(KV_NEGATIVE_TTL_S - 5);
    expect(await expiresIn(unknown)).toBeLessThanOrEqual(KV_NEGATIVE_TTL_S + 1);
    expect(await expiresIn(secret)).toBeGreaterThan(KV_TOKEN_TTL_S - 5);
    expect(await expiresIn(secret)).toBeLessThanOrEqual(KV_TOKEN_TTL_S + 1);
  });
});

describe("lastUsedAt is written off the response path, at most once per 5 minutes", () => {
  async function lastUsedAt(tokenId: string) {
    return (
      await database(primarySession(env.DB))
        .select({ at: tokens.lastUsedAt })
        .from(tokens)
        .where(eq(tokens.id, tokenId))
        .get()
    )?.at;
  }

  it("100 verifications within 5 minutes write once; the next interval writes once more", async () => {
    const { secret, token } = await makeToken(org, {}, T0);
    const step = Math.floor((LAST_USED_WRITE_INTERVAL_MS - 1) / 99);
    for (let i = 0; i < 100; i++) {
      vi.setSystemTime(T0 + i * step);
      expect(await verify(secret)).toMatchObject({ result: 0 });
    }
    expect(log.count(undefined, isUsageWrite)).toBe(1);
    expect(await lastUsedAt(token.id)).toBe(T0);
    vi.setSystemTime(T0 + LAST_USED_WRITE_INTERVAL_MS);
    for (let i = 0; i < 100; i++) await verify(secret);
    expect(log.count(undefined, isUsageWrite)).toBe(2);
    expect(await lastUsedAt(token.id)).toBe(T0 + LAST_USED_WRITE_INTERVAL_MS);
  });

  it("another isolate's write within the interval leaves lastUsedAt alone", async () => {
    const { secret, token } = await makeToken(org, {}, T0);
    await verify(secret);
    forgetUsageWrites(); // a second isolate, which has not written yet
    vi.setSystemTime(T0 + 60_000);
    await verify(secret);
    expect(await lastUsedAt(token.id)).toBe(T0);
  });

  it("keeps the last 5 distinct client addresses, newest first", async () => {
    const { secret, token } = await makeToken(org, {}, T0);
    for (let i = 1; i <= LAST_USED_IPS_KEPT + 2; i++) {
      vi.setSystemTime(T0 + i * 1000);
      await verify(secret, `192.0.2.${i}`);
    }
    const rows = await database(primarySession(env.DB))
      .select()
      .from(tokenUsage)
      .where(eq(tokenUsage.tokenId, token.id));
    const ips = rows.sort((a, b) => b.lastSeenAt - a.lastSeenAt).map((r) => r.ip);
    expect(ips).toEqual([7, 6, 5, 4, 3].map((i) => `192.0.2.${i}`));
  });

  it("records no use for a token that is dead", async () => {
    const { secret, token } = await makeToken(org, { expiresAt: T0 + 1000 }, T0);
    vi.setSystemTime(T0 + 1000);
    expect(await verify(secret)).toMatchObject({ result: 4 });
    // The attempt is counted (test/token-usage-counts.test.ts), in a batch that moves no use.
    expect(log.count(undefined, isUsageWrite)).toBe(1);
    expect(await lastUsedAt(token.id)).toBeNull();
    expect(
      await database(primarySession(env.DB)).select().from(tokenUsage).where(eq(tokenUsage.tokenId, token.id)),
    ).toEqual([]);
  });
});

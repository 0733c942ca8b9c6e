import { env } from "cloudflare:workers";
import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { UNKNOWN_TOKEN_BLOCK_MS } from "../worker/limits";
import { generateTokenSecret } from "../worker/tokens/format";
import { bulkTokens } from "./support/bulk-tokens";
import { configuredUnknownTokenLimit } from "./support/configured-limits";
import { makeOrg, makeToken, type OrgFixture } from "./support/fixtures";
import { countingEnv, type IoCall, type IoLog } from "./support/io";
import { resetIsolateCaches } from "./support/isolate";
import { dropFromKv } from "./support/kv-entries";
import { bearer, readVerify, viaHandler } from "./support/verify-client";

const { limit: RATE, periodSeconds } = configuredUnknownTokenLimit();
/** The two volume tests make a few hundred verifications each: seconds on a busy machine. */
const VOLUME = { timeout: 60_000 };
let org: OrgFixture;
let counted: Env;
let log: IoLog;
let nextIp = 0;
/** A client address no other test used: the real limiter keeps its counts for the whole file. */
const freshIp = () => `203.0.113.${++nextIp}`;

const isLookup = (c: IoCall) => c.binding === "DB" && c.detail.includes("FROM tokens t");

beforeAll(async () => {
  org = await makeOrg();
});
beforeEach(() => {
  resetIsolateCaches();
  ({ env: counted, log } = countingEnv());
});
afterEach(() => vi.useRealTimers());

async function resultFor(token: string, ip: string, bindings: Env = counted): Promise<number> {
  return (await readVerify(await viaHandler(bearer(token, ip), bindings))).result;
}

describe("code 9 with the limiter configured in wrangler.toml", () => {
  it(
    `engages after ${RATE} unknown tokens a ${periodSeconds}s from one address, and blocks only that client's cache misses`,
    VOLUME,
    async () => {
      const ip = freshIp();
      const { secret: cachedReal } = await makeToken(org);
      const { secret: coldReal } = await makeToken(org);
      resetIsolateCaches();
      await dropFromKv(coldReal);
      expect(await resultFor(cachedReal, ip)).toBe(0); // now in this isolate's memory

      // The limiter's windows follow the wall clock; a run that straddles a window edge may go further.
      const windowAtStart = Math.floor(Date.now() / (periodSeconds * 1000));
      const results: number[] = [];
      for (let i = 0; i < 2 * RATE + 1 && !results.includes(9); i++)
        results.push(await resultFor(generateTokenSecret("org"), ip));
      const sameWindow = Math.floor(Date.now() / (periodSeconds * 1000)) === windowAtStart;
      if (sameWindow) expect(results.length).toBe(RATE + 1);
      else expect(results.length).toBeGreaterThan(RATE);
      expect(results.slice(0, -1).every((r) => r === 3)).toBe(true);
      expect(results.at(-1)).toBe(9);

      log.reset();
      // Blocked: another unknown token and a real one that is not cached are refused before D1...
      expect(await resultFor(generateTokenSecret("group"), ip)).toBe(9);
      expect(await resultFor(coldReal, ip)).toBe(9);
      expect(log.count(undefined, isLookup)).toBe(0);
      // ...while a cached token keeps verifying, malformed ones are never throttled, and others are not affected.
      expect(await resultFor(cachedReal, ip)).toBe(0);
      expect(await resultFor("tso_malformed", ip)).toBe(2);
      expect(await resultFor(generateTokenSecret("org"), freshIp())).toBe(3);
      expect(await resultFor(coldReal, freshIp())).toBe(0);
    },
  );

  it(
    "never engages for a client verifying many distinct real tokens, each a miss that reaches D1",
    VOLUME,
    async () => {
      const ip = freshIp();
      const secrets = await bulkTokens(org, RATE + 30);
      const results = [];
      for (const secret of secrets) results.push(await resultFor(secret, ip));
      expect(results.every((r) => r === 0)).toBe(true);
      expect(log.count(undefined, isLookup)).toBe(secrets.length);
      expect(log.count("UNKNOWN_TOKEN_LIMITER")).toBe(0);
    },
  );

  it("counts one unknown token once: repeats are answered from the negative cache, uncounted", async () => {
    const ip = freshIp();
    const unknown = generateTokenSecret("personal");
    for (let i = 0; i < 3 * RATE; i++) expect(await resultFor(unknown, ip)).toBe(3);
    expect(log.count("UNKNOWN_TOKEN_LIMITER")).toBe(1);
    expect(log.count(undefined, isLookup)).toBe(1);
  });

  it("never counts malformed tokens", async () => {
    const ip = freshIp();
    for (let i = 0; i < 3 * RATE; i++) expect(await resultFor(`tsp_${"x".repeat(36)}`, ip)).toBe(2);
    expect(log.calls).toEqual([]);
  });
});

describe("the block in the isolate", () => {
  /** A limiter that allows `allowed` calls per key, then refuses: the binding's contract, minus the wall clock. */
  function strictLimiter(allowed: number): RateLimit & { calls: number } {
    const seen = new Map<string, number>();
    return {
      calls: 0,
      async limit({ key }) {
        this.calls++;
        const n = (seen.get(key) ?? 0) + 1;
        seen.set(key, n);
        return { success: n <= allowed };
      },
    };
  }

  it(`lasts UNKNOWN_TOKEN_BLOCK_MS, during which the limiter and D1 are not asked`, async () => {
    const T0 = Date.UTC(2026, 10, 22, 10, 0, 0);
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(T0);
    const limiter = strictLimiter(2);
    const bindings = { ...counted, UNKNOWN_TOKEN_LIMITER: limiter };
    const ip = freshIp();
    expect(await resultFor(generateTokenSecret("org"), ip, bindings)).toBe(3);
    expect(await resultFor(generateTokenSecret("org"), ip, bindings)).toBe(3);
    expect(await resultFor(generateTokenSecret("org"), ip, bindings)).toBe(9);
    log.reset();
    vi.setSystemTime(T0 + UNKNOWN_TOKEN_BLOCK_MS - 1);
    expect(await resultFor(generateTokenSecret("org"), ip, bindings)).toBe(9);
    expect(limiter.calls).toBe(3);
    expect(log.count("DB")).toBe(0);
    vi.setSystemTime(T0 + UNKNOWN_TOKEN_BLOCK_MS);
    const { secret } = await makeToken(org);
    resetIsolateCaches();
    await dropFromKv(secret);
    expect(await resultFor(secret, ip, bindings)).toBe(0);
  });

  it("counts and blocks IPv6 clients by their /64, and an IPv4-mapped address as its IPv4 address", async () => {
    const limiter = strictLimiter(2);
    const bindings = { ...counted, UNKNOWN_TOKEN_LIMITER: limiter };
    expect(await resultFor(generateTokenSecret("org"), "2001:db8:9:1::1", bindings)).toBe(3);
    expect(await resultFor(generateTokenSecret("org"), "2001:db8:9:1:aaaa::2", bindings)).toBe(3);
    expect(await resultFor(generateTokenSecret("org"), "2001:0db8:0009:0001:ffff:ffff:ffff:ffff", bindings)).toBe(9);
    // The block covers the whole /64, and only it.
    expect(await resultFor(generateTokenSecret("org"), "2001:db8:9:1::99", bindings)).toBe(9);
    expect(await resultFor(generateTokenSecret("org"), "2001:db8:9:2::1", bindings)).toBe(3);

    expect(await resultFor(generateTokenSecret("org"), "198.51.100.90", bindings)).toBe(3);
    expect(await resultFor(generateTokenSecret("org"), "::ffff:198.51.100.90", bindings)).toBe(3);
    expect(await resultFor(generateTokenSecret("org"), "198.51.100.90", bindings)).toBe(9);
    expect(await resultFor(generateTokenSecret("org"), "198.51.100.91", bindings)).toBe(3);
  });

  it("keeps a client that trips the limiter from reaching D1 with unknown tokens, whatever it sends", async () => {
    const ip = freshIp();
    const bindings = { ...counted, UNKNOWN_TOKEN_LIMITER: strictLimiter(0) };
    expect(await resultFor(generateTokenSecret("org"), ip, bindings)).toBe(9);
    log.reset();
    for (let i = 0; i < 50; i++) expect(await resultFor(generateTokenSecret("org"), ip, bindings)).toBe(9);
    expect(log.count("DB")).toBe(0);
    expect(
      await resultFor(generateTokenSecret("org"), freshIp(), { ...env, UNKNOWN_TOKEN_LIMITER: strictLimiter(1) }),
    ).toBe(3);
  });
});

import { env } from "cloudflare:workers";
import { beforeEach, describe, expect, it } from "vitest";
import { MemoryTier, sizeOf } from "../worker/cache/memory-tier";
import { type ReadIo, TieredCache } from "../worker/cache/tiered";
import { countingKv, IoLog } from "./support/io";

// The race rules of every cached kind (tokens, upstreams, project facts), proved once on the module they
// share (worker/cache/tiered.ts), with a versioned in-test store standing in for D1.

interface Widget {
  v: number;
  value: string | null;
}

const memory = new MemoryTier<Widget>({ maxEntries: 100, maxBytes: 1 << 20, ttlMs: () => 5_000, keepExpired: false });
const spec = {
  what: "widget",
  kvKeyPrefix: `w-${crypto.randomUUID().slice(0, 8)}:`,
  memory,
  absent: (w: Widget) => w.value === null,
  tombstone: (_: Widget, v: number) => ({ v, value: null }),
  kvTtlS: () => 60,
  checkAbsent: true,
  answerNewerFromMemory: false,
};
const cache = new TieredCache<Widget>(spec);

/** D1's stand-in: the versioned truth. */
const store = new Map<string, Widget>();
let log: IoLog;
let kv: KVNamespace;
let pending: Promise<unknown>[];
let loads: number;

beforeEach(() => {
  memory.clear();
  log = new IoLog();
  kv = countingKv(env.TOKEN_CACHE, log);
  pending = [];
  loads = 0;
});

const io = (key: string, more: Partial<ReadIo<Widget>> = {}): ReadIo<Widget> => ({
  kv,
  now: () => Date.now(),
  waitUntil: (p) => pending.push(p),
  load: async () => {
    loads++;
    return store.get(key) ?? { v: 0, value: null };
  },
  currentVersion: async () => {
    const w = store.get(key);
    return w && w.value !== null ? w.v : null;
  },
  ...more,
});

/** A change as the stores make one: D1 first, then both tiers overwritten. */
async function change(key: string, value: string | null): Promise<Widget> {
  const next = { v: (store.get(key)?.v ?? 0) + 1, value };
  store.set(key, next);
  await cache.overwrite(env.TOKEN_CACHE, key, next, Date.now());
  return next;
}

const settle = async () => {
  await Promise.all(pending);
};
const inKv = (key: string) => cache.readKv(env.TOKEN_CACHE, key);
const fresh = () => `k-${crypto.randomUUID()}`;

describe("a read tells which tier answered", () => {
  it("D1 on a cold miss, memory next, KV in a fresh isolate", async () => {
    const key = fresh();
    store.set(key, { v: 1, value: "one" });
    expect(await cache.read(key, io(key))).toEqual({ entry: { v: 1, value: "one" }, tier: "d1" });
    await settle();
    expect(await cache.read(key, io(key))).toMatchObject({ tier: "memory" });
    memory.clear();
    expect(await cache.read(key, io(key))).toMatchObject({ entry: { v: 1 }, tier: "kv" });
    expect(loads).toBe(1);
  });

  it("KV trouble falls through to D1; D1 trouble throws to the caller; a refusal before D1 stops there", async () => {
    const key = fresh();
    store.set(key, { v: 1, value: "one" });
    log.around = async (call, proceed) => {
      if (call.op === "get") throw new Error("KV down");
      return proceed();
    };
    expect(await cache.read(key, io(key))).toMatchObject({ tier: "d1" });
    await settle().catch(() => {});
    memory.clear();
    log.reset();
    log.around = async () => {
      throw new Error("KV down");
    };
    await expect(cache.read(key, io(key, { load: () => Promise.reject(new Error("D1 down")) }))).rejects.toThrow(
      "D1 down",
    );
    const refused = new Error("limited");
    await expect(
      cache.read(
        key,
        io(key, {
          beforeLoad: () => {
            throw refused;
          },
        }),
      ),
    ).rejects.toBe(refused);
    expect(loads).toBe(1);
  });

  it("a D1 answer is handed back before its fill sends anything", async () => {
    const key = fresh();
    store.set(key, { v: 1, value: "one" });
    await cache.read(key, io(key));
    expect(log.calls.map((c) => c.op)).toEqual(["get"]);
    await settle();
    expect(log.calls.map((c) => c.op)).toEqual(["get", "get", "put"]);
  });
});

describe("versioned fills", () => {
  it("a change landing while the miss reads D1: the old answer reaches neither memory nor KV", async () => {
    const key = fresh();
    store.set(key, { v: 1, value: "old" });
    const read = await cache.read(
      key,
      io(key, {
        load: async () => {
          const old = { ...store.get(key)! };
          await change(key, "new");
          return old;
        },
      }),
    );
    // The request answers what it read; nothing after it does.
    expect(read.entry).toEqual({ v: 1, value: "old" });
    await settle();
    expect(memory.get(key, Date.now())).toEqual({ v: 2, value: "new" });
    expect(await inKv(key)).toEqual({ v: 2, value: "new" });
  });

  it("where asked to, the request itself answers with the change that landed while it read D1", async () => {
    const key = fresh();
    store.set(key, { v: 1, value: "old" });
    const newer = new TieredCache<Widget>({ ...spec, answerNewerFromMemory: true });
    const load = async () => {
      const old = { ...store.get(key)! };
      await change(key, null);
      return old;
    };
    expect((await newer.read(key, io(key, { load }))).entry).toEqual({ v: 2, value: null });
    await settle();
  });

  it("a change landing between the fill's re-read and its put: the buried entry is withdrawn from both tiers", async () => {
    const key = fresh();
    store.set(key, { v: 1, value: "old" });
    log.around = async (call, proceed) => {
      if (call.op === "put") {
        await change(key, "new");
        // Made elsewhere: this isolate's memory never saw it.
        memory.clear();
      }
      return proceed();
    };
    await cache.read(key, io(key));
    memory.remember(key, { v: 1, value: "old" }, Date.now());
    await settle();
    expect(memory.get(key, Date.now())).toBeNull();
    const kept = await inKv(key);
    if (kept !== null) expect(kept.value).toBe("new");
    expect(log.count("TOKEN_CACHE", (c) => c.op === "delete")).toBe(1);
  });

  it("a quiet miss keeps its entry: the version check only withdraws fills that raced a change", async () => {
    const key = fresh();
    store.set(key, { v: 3, value: "three" });
    await cache.read(key, io(key));
    await settle();
    expect(log.count("TOKEN_CACHE", (c) => c.op === "delete")).toBe(0);
    expect(await inKv(key)).toEqual({ v: 3, value: "three" });
  });

  it("never replaces a newer KV entry, and memory never replaces a newer version with an older read", async () => {
    const key = fresh();
    await cache.fill(env.TOKEN_CACHE, key, { v: 5, value: "five" }, async () => 5);
    await cache.fill(env.TOKEN_CACHE, key, { v: 4, value: "four" }, async () => 5);
    expect(await inKv(key)).toEqual({ v: 5, value: "five" });
    memory.overwrite(key, { v: 7, value: "seven" }, Date.now());
    expect(memory.remember(key, { v: 6, value: "six" }, Date.now())).toEqual({ v: 7, value: "seven" });
  });
});

describe("tombstones", () => {
  it("a deletion overwrites both tiers with a tombstone that a slower fill of the old state cannot bury", async () => {
    const key = fresh();
    const live = await change(key, "live");
    const gone = await change(key, null);
    await cache.fill(env.TOKEN_CACHE, key, live, async () => null);
    expect(await inKv(key)).toEqual(gone);
    expect((await cache.read(key, io(key))).entry).toEqual(gone);
  });

  it("a live KV copy that D1 no longer backs gets a tombstone above it", async () => {
    const key = fresh();
    await cache.fill(env.TOKEN_CACHE, key, { v: 4, value: "stale" }, async () => 4);
    await cache.fill(env.TOKEN_CACHE, key, { v: 0, value: null }, async () => null);
    expect(await inKv(key)).toEqual({ v: 5, value: null });
  });

  it('a fill of "none" that raced a create is withdrawn, where names can come to exist', async () => {
    const key = fresh();
    await cache.fill(env.TOKEN_CACHE, key, { v: 0, value: null }, async () => 1);
    expect(await inKv(key)).toBeNull();
    const noCheck = new TieredCache<Widget>({ ...spec, checkAbsent: false });
    await noCheck.fill(env.TOKEN_CACHE, key, { v: 0, value: null }, async () => 1);
    expect(await inKv(key)).toEqual({ v: 0, value: null });
  });
});

describe("the memory tier", () => {
  it("stays within its byte bound, dropping the oldest first, and keeps no entry larger than itself", () => {
    const entry = (n: number) => ({ v: 1, value: "x".repeat(n) });
    const one = sizeOf("k-00", entry(900));
    const small = new MemoryTier<Widget>({
      maxEntries: 1_000,
      maxBytes: 10 * one,
      ttlMs: () => 1_000,
      keepExpired: false,
    });
    for (let i = 0; i < 25; i++) small.overwrite(`k-${String(i).padStart(2, "0")}`, entry(900), 0);
    expect(small.bytes).toBeLessThanOrEqual(10 * one);
    expect(small.entries).toBe(10);
    expect(small.get("k-24", 1)).not.toBeNull();
    expect(small.get("k-00", 1)).toBeNull();
    small.overwrite("huge", entry(20 * one), 0);
    expect(small.get("huge", 1)).toBeNull();
    expect(small.bytes).toBeLessThanOrEqual(10 * one);
  });

  it("drops an expired slot when read, or keeps it as the last known state where asked to", () => {
    const dropping = new MemoryTier<Widget>({ maxEntries: 10, maxBytes: 1 << 16, ttlMs: () => 10, keepExpired: false });
    const keeping = new MemoryTier<Widget>({ maxEntries: 10, maxBytes: 1 << 16, ttlMs: () => 10, keepExpired: true });
    for (const tier of [dropping, keeping]) {
      tier.overwrite("a", { v: 1, value: "a" }, 0);
      expect(tier.get("a", 20)).toBeNull();
    }
    expect(dropping.lastKnown("a")).toBeNull();
    expect(dropping.bytes).toBe(0);
    expect(keeping.lastKnown("a")).toEqual({ v: 1, value: "a" });
  });
});

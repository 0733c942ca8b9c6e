import type { Clock } from "../clock";
import { KV_READ_DEADLINE_MS, VERIFY_STORE_DEADLINE_MS } from "../limits";
import { type Logger, log } from "../observability/log";
import { answerHandedBack } from "../util/after-answer";
import { withDeadline } from "../util/deadline";
import { errorKind } from "../util/error-kind";
import { type MemoryTier, SLOT_OVERHEAD_BYTES, type Versioned } from "./memory-tier";

/** Which tier answered a read (docs/DESIGN.md "Cache tiers"). */
export type Tier = "memory" | "kv" | "d1";

export interface TieredCacheSpec<E extends Versioned> {
  /** Names the cache in log lines' `op` ("token" gives `token.read`, `token.fill`; "upstream", "project"). */
  what: string;
  kvKeyPrefix: string;
  memory: MemoryTier<E>;
  /** Whether the entry says the thing is absent: never there (v 0) or a tombstone (v above the last state). */
  absent: (entry: E) => boolean;
  /** The entry standing for a deletion at version `v`: what replaces a live KV copy that D1 no longer backs. */
  tombstone: (entry: E, v: number) => E;
  kvTtlS: (entry: E) => number;
  /** Reads a KV value; one that does not read as a current entry counts as missing. */
  fromKv?: (value: E) => E | null;
  /**
   * Whether a fill of an absent entry asks D1 afterwards too. Needed where the name can come to exist
   * (an upstream, a project key); not for a token hash, which names no token later if it names none now.
   */
  checkAbsent: boolean;
  /**
   * Whether a D1 read answers with a newer version that a change in this isolate put in memory while
   * it was in flight (the gateway: a deletion that landed first wins), or with what D1 said when the
   * request asked (tokens: the request began before the change; nothing after it sees the old state).
   */
  answerNewerFromMemory: boolean;
}

export interface ReadIo<E> {
  kv: KVNamespace;
  now: Clock;
  waitUntil: (promise: Promise<unknown>) => void;
  /** The state in D1 now, as an entry (absent when there is none). Throws when D1 cannot answer. */
  load: () => Promise<E>;
  /** The version D1 holds now, or null when it holds nothing: asked after a fill's put. */
  currentVersion: () => Promise<number | null>;
  /** Runs before D1 is asked, only when neither memory nor KV answered; throws to refuse (a limiter). */
  beforeLoad?: () => void;
  /** A KV hit, after memory kept it: the upstream cache re-reads a stale copy in the background here. */
  onKvHit?: (entry: E) => void;
  /** Where store errors are logged, when the caller knows its request (the verify path). */
  log?: Logger;
}

export interface Read<E> {
  entry: E;
  tier: Tier;
}

/**
 * Memory, then KV, then D1, with the versioned fill, written once for every cached kind: tokens
 * (worker/tokens/cache.ts), upstreams (worker/gateway/upstream-cache.ts) and project facts
 * (worker/orgs/project-facts.ts). The rules (docs/DESIGN.md "Cache tiers", "Race rules"):
 * - KV trouble (an error or KV_READ_DEADLINE_MS) falls through to D1; D1 trouble throws to the caller,
 *   which fails closed or serves what it last knew;
 * - every change overwrites both tiers with the new state (a deletion with a tombstone), never only
 *   deletes them; a read never replaces a newer version in memory;
 * - a D1 read is written to KV after the answer, and withdrawn when D1's version moved meanwhile.
 */
export class TieredCache<E extends Versioned> {
  constructor(readonly spec: TieredCacheSpec<E>) {}

  kvKey(key: string): string {
    return this.spec.kvKeyPrefix + key;
  }

  async read(key: string, io: ReadIo<E>): Promise<Read<E>> {
    const { memory } = this.spec;
    const now = io.now();
    const inMemory = memory.get(key, now);
    if (inMemory) return { entry: inMemory, tier: "memory" };

    try {
      const fromKv = await withDeadline(this.readKvSized(io.kv, key), KV_READ_DEADLINE_MS);
      if (fromKv) {
        // Memory may hold a newer version: a change made here that this location's KV does not show yet.
        const kept = memory.remember(key, fromKv.entry, now, fromKv.bytes);
        io.onKvHit?.(kept);
        return { entry: kept, tier: "kv" };
      }
    } catch (err) {
      (io.log ?? log).error("store.error", {
        store: "kv",
        op: `${this.spec.what}.read`,
        error: errorKind(err),
        fallback: "d1",
      });
    }

    io.beforeLoad?.();
    const found = await withDeadline(io.load(), VERIFY_STORE_DEADLINE_MS);
    // Memory keeps a change that landed meanwhile for the next reader (a read never replaces a newer version).
    const kept = memory.remember(key, found, io.now());
    io.waitUntil(
      this.fill(io.kv, key, found, io.currentVersion).catch((err: unknown) =>
        (io.log ?? log).error("store.error", { store: "kv", op: `${this.spec.what}.fill`, error: errorKind(err) }),
      ),
    );
    return { entry: this.spec.answerNewerFromMemory ? kept : found, tier: "d1" };
  }

  async readKv(kv: KVNamespace, key: string): Promise<E | null> {
    return (await this.readKvSized(kv, key))?.entry ?? null;
  }

  /** The KV copy and its size, so memory counts its bytes without writing the JSON again. */
  private async readKvSized(kv: KVNamespace, key: string): Promise<{ entry: E; bytes: number } | null> {
    const text = await kv.get(this.kvKey(key), "text");
    if (text === null) return null;
    const parsed = JSON.parse(text) as E;
    const entry = this.spec.fromKv ? this.spec.fromKv(parsed) : parsed;
    return entry && { entry, bytes: key.length + text.length + SLOT_OVERHEAD_BYTES };
  }

  private put(kv: KVNamespace, key: string, entry: E): Promise<void> {
    return kv.put(this.kvKey(key), JSON.stringify(entry), { expirationTtl: this.spec.kvTtlS(entry) });
  }

  /**
   * Cache fill after a D1 read. KV has no compare-and-set, so it re-reads first: an entry with a newer
   * version means a state change landed while the read was in flight, and the older answer is dropped.
   * A live copy that D1 no longer backs (a deletion whose tombstone never reached KV) gets a tombstone
   * above it.
   *
   * The re-read alone still leaves a window: a state change whose put lands between that read and this
   * put is buried under the older entry for the whole KV TTL (a revoked token verifying as valid). D1 is
   * ordered, so `currentVersion` (the version in D1 now) closes it: asked after the put, a moved version
   * means the put may have buried a change, and the entry is withdrawn from both tiers so the next reader
   * goes to D1. Any state change committed after that check writes its own entry after this put, so it
   * wins.
   */
  async fill(kv: KVNamespace, key: string, found: E, currentVersion: () => Promise<number | null>): Promise<void> {
    const { absent, tombstone, checkAbsent, memory } = this.spec;
    // Callers run the fill in `waitUntil`, after the answer: the later start only moves the re-read later,
    // which sees more changes, not fewer.
    await answerHandedBack();
    const current = await this.readKv(kv, key);
    let entry = found;
    if (absent(found) && current && !absent(current)) entry = tombstone(found, current.v + 1);
    else if (current && current.v > found.v) return;
    await this.put(kv, key, entry);
    if (absent(entry) && !checkAbsent) return;
    if ((await currentVersion()) === (absent(entry) ? null : entry.v)) return;
    memory.forget(key, entry.v);
    await kv.delete(this.kvKey(key));
  }

  /**
   * Every change overwrites both tiers with the new state, never just deletes them: a reader in this
   * isolate sees it at once, other locations within KV's propagation time.
   */
  async overwrite(kv: KVNamespace, key: string, entry: E, now: number): Promise<void> {
    this.spec.memory.overwrite(key, entry, now);
    await this.put(kv, key, entry);
  }

  /**
   * `overwrite` for a writer with no version check of its own. KV keeps the last put, not the newest
   * state: a change committed after this one may have put its entry before this put landed. So D1 is
   * asked afterwards, as a fill does, and a moved version withdraws the entry from both tiers; a put
   * that fails deletes the KV copy instead, so the old state cannot outlive the change. Throws only when
   * KV refuses the delete too (the copy then expires with its TTL).
   */
  async overwriteChecked(
    kv: KVNamespace,
    key: string,
    entry: E,
    now: number,
    currentVersion: () => Promise<number | null>,
  ): Promise<void> {
    this.spec.memory.overwrite(key, entry, now);
    try {
      await this.put(kv, key, entry);
    } catch (err) {
      await kv.delete(this.kvKey(key));
      throw err;
    }
    if ((await currentVersion()) === (this.spec.absent(entry) ? null : entry.v)) return;
    this.spec.memory.forget(key, entry.v);
    await kv.delete(this.kvKey(key));
  }

  /** Both tiers forget the entry: the next reader anywhere goes to D1. For when no entry can be trusted. */
  async drop(kv: KVNamespace, key: string): Promise<void> {
    this.spec.memory.forget(key);
    await kv.delete(this.kvKey(key));
  }
}

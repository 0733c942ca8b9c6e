import { chunk } from "../db/slices";
import { KV_BULK_READ_MAX_KEYS } from "../limits";
import { errorKind } from "../util/error-kind";
import { dropTokenCache, overwriteTokenCache, peekKvEntries } from "./cache";
import type { CachedToken, CacheEntry } from "./cached";
import { memoryCache } from "./memory-cache";
import { tokenStatus } from "./status";

/*
 * Deleting a token from D1 is the one change a later run cannot repair in the cache: once the row is gone
 * nothing selects it again, and a cached "valid" entry would verify until its TTL. So the order is:
 *
 *   1. bury:   the tombstone (the token dead, one version past the row read) goes to KV first. A token whose
 *              tombstone could not be written, or whose entry could not be read, is not handed to the delete.
 *   2. delete: the caller's D1 delete, of exactly those rows and each only at the version its tombstone was
 *              made for (a change since then, say an edit whose refresh landed over the tombstone, keeps it).
 *   3. seal:   KV has no compare-and-set, so a verification's fill that re-read KV before the tombstone can
 *              put its older "valid" entry after it; while the row exists the fill's own version check keeps
 *              it. One read after the delete finds such entries and buries them again. A fill that starts
 *              after the delete reads "no such token" from D1 and sees the tombstone's newer version.
 *   4. unbury: a token buried but not deleted (used since the scan, changed since the read) is alive: its
 *              tombstone is withdrawn so readers go back to D1 instead of answering "revoked".
 *
 * A token has one cache entry per hash its row answers to: its secret's and, while a rotation's replaced
 * secret is in the row (worker/tokens/rotation.ts), that one's, which verifies on its own during its grace.
 * Every step takes both: the row goes only once both are buried, and both are sealed after.
 */

/** A token about to be deleted, as D1 held it when read. */
export interface DoomedToken {
  hash: string;
  /** The row's `old_hash`: a replaced secret with its own cache entry, buried with the token's. */
  oldHash?: string | null;
  /** Its version in D1 when read. The caller's delete must be conditional on it. */
  version: number;
  /**
   * Its state from D1, when the caller has it (one token deleted by hand): the tombstone is then written
   * whether or not an entry is cached, so every tier says so at once. Without it (the cron) only entries
   * that are cached are rewritten, from what they hold: thousands of idle tokens cost one KV read per
   * chunk rather than a write each, and no entry is made that nobody reads.
   */
  token?: CachedToken;
}

export interface TombstonedDeletion<T> {
  /** What the caller's delete answered: the rows it deleted. */
  deleted: T[];
  /** KV operations spent (reads, writes, deletes), for the cron's budget. */
  kvOperations: number;
  /** Tombstones written, before the delete and after it. */
  tombstonesWritten: number;
  /** What went wrong with KV, in words that name no token; empty when nothing did. */
  failures: string[];
}

/** The hashes a doomed token's row answers to, each with its own cache entry. */
const hashesOf = (d: DoomedToken): string[] => (d.oldHash ? [d.hash, d.oldHash] : [d.hash]);

/**
 * KV operations one call spends at most for `count` tokens, each assumed to have a replaced secret too:
 * a bulk read per KV_BULK_READ_MAX_KEYS hashes and a write per hash, each side of the delete.
 */
export function tombstoneKvOperations(count: number): number {
  const hashes = 2 * count;
  return 2 * Math.ceil(hashes / KV_BULK_READ_MAX_KEYS) + 2 * hashes;
}

// Failures are logged and stored in cron summaries: the kind, never a message that could hold a query's values.
const messageOf = errorKind;
const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;

/** Revoked, expired or its owner gone: nothing verifies it. */
function isDead(token: CachedToken, now: number): boolean {
  const status = tokenStatus(token, now);
  return status === "revoked" || status === "expired" || token.ownerLeft === true;
}

/**
 * What a deleted token leaves in the cache: its last state, dead (revoked now, unless it already died,
 * which it keeps saying), at `version`, newer than anything a fill from its row could bring.
 */
export function tombstone(token: CachedToken, version: number, now: number): CacheEntry {
  return { v: version, token: isDead(token, now) ? token : { ...token, revokedAt: now } };
}

/** A tombstone over an entry that is there but does not read: it names no token, so nothing verifies. */
const blankTombstone = (version: number): CacheEntry => ({ v: version, token: null });

interface Write {
  hash: string;
  entry: CacheEntry;
}

/** The entries of `hashes` as KV holds them, one bulk read per KV_BULK_READ_MAX_KEYS. A failed read throws. */
async function peek(
  kv: KVNamespace,
  hashes: string[],
  outcome: TombstonedDeletion<unknown>,
): Promise<Map<string, CacheEntry | "unreadable" | null>> {
  const found = new Map<string, CacheEntry | "unreadable" | null>();
  for (const slice of chunk(hashes, KV_BULK_READ_MAX_KEYS)) {
    outcome.kvOperations++;
    for (const [hash, entry] of await peekKvEntries(kv, slice)) found.set(hash, entry);
  }
  return found;
}

/**
 * Step 1 for one cached entry of a token read at `version`: nothing to bury ("clear"), a tombstone to
 * write, or "changed" (a "valid" entry newer than the row read: the token changed since, and stays).
 */
function burialOf(
  hash: string,
  entry: CacheEntry | "unreadable" | null,
  version: number,
  now: number,
): "clear" | "changed" | Write {
  const next = version + 1;
  if (entry === "unreadable") return { hash, entry: blankTombstone(next) };
  if (entry === null || entry.token === null) return "clear";
  if (entry.v < next) return { hash, entry: tombstone(entry.token, next, now) };
  return isDead(entry.token, now) ? "clear" : "changed";
}

/** Puts the entries; answers the hashes written. A failed put leaves no tombstone in this isolate's memory either. */
async function writeAll(
  kv: KVNamespace,
  writes: Write[],
  now: number,
  outcome: TombstonedDeletion<unknown>,
  failed: string,
): Promise<Set<string>> {
  const settled = await Promise.allSettled(writes.map((w) => overwriteTokenCache(kv, w.hash, w.entry, now)));
  outcome.kvOperations += writes.length;
  const written = new Set<string>();
  const errors: unknown[] = [];
  settled.forEach((result, i) => {
    const { hash, entry } = writes[i]!;
    if (result.status === "fulfilled") written.add(hash);
    else {
      memoryCache.forget(hash, entry.v);
      errors.push(result.reason);
    }
  });
  outcome.tombstonesWritten += written.size;
  if (errors.length > 0)
    outcome.failures.push(`${plural(errors.length, "tombstone")} ${failed}: ${messageOf(errors[0])}`);
  return written;
}

/** Step 1. Answers the tokens whose rows may be deleted, and the hashes that got a tombstone. */
async function bury<D extends DoomedToken>(
  kv: KVNamespace,
  doomed: D[],
  now: number,
  outcome: TombstonedDeletion<unknown>,
) {
  const unread = doomed.filter((d) => !d.token);
  let cached = new Map<string, CacheEntry | "unreadable" | null>();
  let readFailed = false;
  if (unread.length > 0) {
    try {
      cached = await peek(kv, unread.flatMap(hashesOf), outcome);
    } catch (err) {
      // Nothing is known of these entries, so "not cached" cannot be assumed: none of them is deleted.
      readFailed = true;
      outcome.failures.push(
        `the token cache could not be read, so ${plural(unread.length, "token")} stay for the next run: ${messageOf(err)}`,
      );
    }
  }

  const buried: { token: D; writes: Write[] }[] = [];
  for (const d of doomed) {
    const token = d.token;
    if (token) {
      const writes = hashesOf(d).map((hash) => ({ hash, entry: tombstone(token, d.version + 1, now) }));
      buried.push({ token: d, writes });
      continue;
    }
    if (readFailed) continue;
    const plans = hashesOf(d).map((hash) => burialOf(hash, cached.get(hash) ?? null, d.version, now));
    // One of its entries is newer than the row read: the whole token stays for the next run.
    if (plans.includes("changed")) continue;
    buried.push({ token: d, writes: plans.filter((p): p is Write => typeof p !== "string") });
  }
  const written = await writeAll(
    kv,
    buried.flatMap((b) => b.writes),
    now,
    outcome,
    "could not be written, so those tokens stay for the next run",
  );
  // A token goes only if every one of its entries is buried: a secret left "valid" would outlive its row.
  const safe = buried.filter((b) => b.writes.every((w) => written.has(w.hash))).map((b) => b.token);
  return { safe, written };
}

/** Step 3: entries a racing fill put over (or beside) a tombstone of a row that is now gone. */
async function seal(
  kv: KVNamespace,
  gone: DoomedToken[],
  now: number,
  outcome: TombstonedDeletion<unknown>,
): Promise<void> {
  if (gone.length === 0) return;
  let cached: Map<string, CacheEntry | "unreadable" | null>;
  try {
    cached = await peek(kv, gone.flatMap(hashesOf), outcome);
  } catch (err) {
    outcome.failures.push(
      `the token cache could not be checked after the delete (the tombstones written before it stand): ${messageOf(err)}`,
    );
    return;
  }
  const writes: Write[] = [];
  for (const d of gone) {
    for (const hash of hashesOf(d)) {
      const entry = cached.get(hash) ?? null;
      const next = Math.max(d.version + 1, entry !== null && entry !== "unreadable" ? entry.v + 1 : 0);
      if (entry === null) memoryCache.forget(hash, d.version);
      else if (entry === "unreadable") writes.push({ hash, entry: blankTombstone(next) });
      else if (entry.token && !isDead(entry.token, now))
        writes.push({ hash, entry: tombstone(entry.token, next, now) });
    }
  }
  await writeAll(kv, writes, now, outcome, "over entries filled during the delete could not be written");
}

/** Step 4: tokens that stay. D1 holds their truth, so dropping the entry is always safe. */
async function unbury(kv: KVNamespace, hashes: string[], outcome: TombstonedDeletion<unknown>): Promise<void> {
  if (hashes.length === 0) return;
  const settled = await Promise.allSettled(hashes.map((h) => dropTokenCache(kv, h)));
  outcome.kvOperations += hashes.length;
  const errors = settled.flatMap((r) => (r.status === "rejected" ? [r.reason] : []));
  if (errors.length > 0) {
    outcome.failures.push(
      `${plural(errors.length, "tombstone")} over tokens that were not deleted could not be withdrawn (they answer "revoked" until the entry expires): ${messageOf(errors[0])}`,
    );
  }
}

/**
 * Deletes tokens so that no cache tier can say "valid" for a token D1 no longer has (the steps above).
 * `remove` deletes exactly the rows it is given, each only at its `version`, and answers those it deleted
 * by hash (the row's `hash`, not its `oldHash`). It may be given fewer tokens than `doomed` (or not be called): the others stay for a retry.
 * A KV failure is reported in `failures`, never thrown; a failure of `remove` is thrown, after the
 * tombstones it leaves over living rows are withdrawn.
 */
export async function deleteBehindTombstones<D extends DoomedToken, T extends { hash: string }>(
  kv: KVNamespace,
  doomed: D[],
  now: number,
  remove: (safe: D[]) => Promise<T[]>,
): Promise<TombstonedDeletion<T>> {
  const outcome: TombstonedDeletion<T> = { deleted: [], kvOperations: 0, tombstonesWritten: 0, failures: [] };
  if (doomed.length === 0) return outcome;
  const { safe, written } = await bury(kv, doomed, now, outcome);
  if (safe.length > 0) {
    try {
      outcome.deleted = await remove(safe);
    } catch (err) {
      // Whether or not the delete committed, dropping the entries is safe: readers go to D1, which knows.
      await unbury(kv, [...written], outcome);
      throw err;
    }
  }
  const deleted = new Set(outcome.deleted.map((t) => t.hash));
  const gone = doomed.filter((d) => deleted.has(d.hash));
  await seal(kv, gone, now, outcome);
  const goneHashes = new Set(gone.flatMap(hashesOf));
  await unbury(
    kv,
    [...written].filter((h) => !goneHashes.has(h)),
    outcome,
  );
  return outcome;
}

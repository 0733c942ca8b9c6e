import { createExecutionContext, createMessageBatch, getQueueResult } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { SESSION_COOKIE } from "../worker/accounts/limits";
import type { TokenKind } from "../worker/db/schema";
import { primarySession } from "../worker/db/session";
import { chunk } from "../worker/db/slices";
import worker from "../worker/index";
import {
  BULK_KILL_INLINE_MAX,
  CACHE_FANOUT_BATCH_MESSAGES,
  CACHE_FANOUT_BATCH_TIMEOUT_S,
  CACHE_FANOUT_DLQ,
  CACHE_FANOUT_MAX_RETRIES,
  CACHE_FANOUT_QUEUE,
  CACHE_FANOUT_TOKENS_PER_MESSAGE,
  HOUR_MS,
  KV_TOKEN_KEY_PREFIX,
} from "../worker/limits";
import type { CacheFanoutMessage } from "../worker/queue/fanout-message";
import { revokeTokensBulk } from "../worker/tokens/bulk-revoke";
import { overwriteTokenCache, readKvEntries } from "../worker/tokens/cache";
import type { CacheEntry } from "../worker/tokens/cached";
import { generateTokenSecret, tokenHint } from "../worker/tokens/format";
import { hashToken } from "../worker/tokens/hash";
import { lookupTokensByHashes } from "../worker/tokens/lookup";
import { tokenStatus } from "../worker/tokens/status";
import wranglerToml from "../wrangler.toml?raw";
import { ORIGIN, OWNER, setupOwner, sudoSession } from "./support/api-client";
import { storeEnv } from "./support/d1";
import { makeMember, makeOrg, type OrgFixture, testActor } from "./support/fixtures";
import { countingEnv, type IoCall } from "./support/io";
import { resetIsolateCaches } from "./support/isolate";
import { readVerify, verifyUrl, viaEntrypoint, viaHandler } from "./support/verify-client";

// A bulk kill or a structure change rewrites BULK_KILL_INLINE_MAX cache entries inline and puts the rest
// on the cache fan-out queue, whose consumer (the worker's `queue()` handler) rewrites them from D1: once
// the queue has drained, no affected token verifies from any tier, however many there were. The queue is
// played here by hand: a producer binding that keeps what it is sent, and the handler fed those messages in
// batches as Queues would (acks, retries with their delays, the dead-letter queue after the last retry).

const SEED_FIXED = 4; // ?1 kind, ?2 organization, ?3 user, ?4 time; then (id, hash, hint) per row
const SEED_ROWS_PER_STATEMENT = Math.floor((100 - SEED_FIXED) / 3);
// Miniflare's KV takes several milliseconds a put, and these tests make thousands.
const LONG = 120_000;

/** The fan-out queue's producer binding, keeping every message; `refuse` makes each send throw. */
class CapturedQueue {
  readonly sent: CacheFanoutMessage[] = [];
  refuse = false;

  async send(body: CacheFanoutMessage): Promise<QueueSendResponse> {
    return this.sendBatch([{ body }]);
  }

  async sendBatch(messages: Iterable<MessageSendRequest<CacheFanoutMessage>>): Promise<QueueSendBatchResponse> {
    if (this.refuse) throw new Error("Queue send failed: 503 (test)");
    const list = [...messages];
    expect(list.length).toBeLessThanOrEqual(100);
    // A secret never travels: only token hashes.
    for (const m of list) expect(JSON.stringify(m.body)).not.toMatch(/tss_|tpat_|tgr_|tus_/);
    this.sent.push(...list.map((m) => structuredClone(m.body)));
    return { metadata: { metrics: { backlogCount: 0, backlogBytes: 0, oldestMessageTimestamp: new Date(0) } } };
  }

  async metrics(): Promise<QueueMetrics> {
    return { backlogCount: this.sent.length, backlogBytes: 0, oldestMessageTimestamp: new Date(0) };
  }

  /** The messages sent since the last call. */
  take(): CacheFanoutMessage[] {
    return this.sent.splice(0);
  }
}

function withQueue(base: Env = env): { env: Env; queue: CapturedQueue } {
  const queue = new CapturedQueue();
  return { queue, env: { ...base, CACHE_FANOUT: queue as unknown as Queue } };
}

interface Pending {
  id: string;
  body: unknown;
  attempts: number;
}

interface Drained {
  /** Delivery batches of the fan-out queue. */
  batches: number;
  /** Delays asked for by retries, in order. */
  retryDelays: number[];
  /** Messages moved to the dead-letter queue. */
  deadLettered: number;
  /** Dead-lettered messages that failed every retry there too. */
  lost: number;
}

async function deliver(queue: string, messages: Pending[], bindings: Env) {
  const batch = createMessageBatch(
    queue,
    messages.map((m) => ({ id: m.id, timestamp: Date.now(), attempts: m.attempts, body: m.body })),
  );
  // The plugin's batch records a retry but not its options: the delays are read from the calls.
  const delays = new Map<string, number | undefined>();
  for (const message of batch.messages) {
    const retry = message.retry.bind(message);
    message.retry = (options?: QueueRetryOptions) => {
      delays.set(message.id, options?.delaySeconds);
      retry(options);
    };
  }
  const ctx = createExecutionContext();
  await worker.queue(batch, bindings, ctx);
  const result = await getQueueResult(batch, ctx);
  expect(result.outcome).toBe("ok");
  return { ...result, delays };
}

/** Delivers one queue's messages until none is left, as Queues does; answers what went to its dead-letter queue. */
async function run(queue: string, pending: Pending[], bindings: Env, drained: Drained): Promise<Pending[]> {
  const dead: Pending[] = [];
  while (pending.length > 0) {
    const messages = pending.splice(0, CACHE_FANOUT_BATCH_MESSAGES);
    drained.batches += queue === CACHE_FANOUT_QUEUE ? 1 : 0;
    const result = await deliver(queue, messages, bindings);
    for (const m of messages) {
      const retry = result.retryMessages.find((r) => r.msgId === m.id);
      if (!retry) {
        expect(result.explicitAcks).toContain(m.id);
        continue;
      }
      drained.retryDelays.push(result.delays.get(m.id) ?? 0);
      if (m.attempts > CACHE_FANOUT_MAX_RETRIES) dead.push({ ...m, attempts: 1 });
      else pending.push({ ...m, attempts: m.attempts + 1 });
    }
  }
  return dead;
}

/** Feeds everything the producer sent to the worker's `queue()` handler, then the dead-letter queue's. */
async function drain(captured: CapturedQueue, bindings: Env = env): Promise<Drained> {
  const drained: Drained = { batches: 0, retryDelays: [], deadLettered: 0, lost: 0 };
  const pending = captured.take().map((body) => ({ id: crypto.randomUUID(), body, attempts: 1 }));
  const dead = await run(CACHE_FANOUT_QUEUE, pending, bindings, drained);
  drained.deadLettered = dead.length;
  drained.lost = (await run(CACHE_FANOUT_DLQ, dead, bindings, drained)).length;
  return drained;
}

interface Seeded {
  secrets: string[];
  hashes: string[];
}

/**
 * Live tokens for all projects, written with batched SQL (a few statements per hundred tokens), in no cache.
 * Each a millisecond less recently changed than the one before, so a bulk kill's inline share is the first
 * BULK_KILL_INLINE_MAX of the list and the queued share the rest.
 */
async function seedTokens(
  org: OrgFixture,
  count: number,
  shape: { kind: TokenKind; userId?: string } = { kind: "org" },
): Promise<Seeded> {
  const now = Date.now() - HOUR_MS;
  const secrets = Array.from({ length: count }, () => generateTokenSecret(shape.kind));
  const hashes = await Promise.all(secrets.map((s) => hashToken(env.TOKEN_PEPPER, s)));
  const rows = secrets.map((secret, i) => [crypto.randomUUID(), hashes[i]!, tokenHint(secret)]);
  const statements = chunk(rows, SEED_ROWS_PER_STATEMENT).map((slice, s) => {
    const values = slice
      .map((_, r) => {
        const p = SEED_FIXED + 1 + r * 3;
        const age = s * SEED_ROWS_PER_STATEMENT + r;
        return `(?${p}, ?1, ?2, ?3, 'bulk ' || ?${p}, 1, ?${p + 1}, ?${p + 2}, ?4, 'system', ?4 - ${age})`;
      })
      .join(", ");
    return env.DB.prepare(
      `INSERT INTO tokens (id, kind, org_id, user_id, name, all_projects, hash, hint, created_at, created_by, updated_at)
       VALUES ${values}`,
    ).bind(shape.kind, org.orgId, shape.userId ?? null, now, ...slice.flat());
  });
  for (const batch of chunk(statements, 50)) await env.DB.batch(batch);
  return { secrets, hashes };
}

/** Every token's entry written to KV as D1 has it now (valid), as if each had been verified a moment ago. */
async function cacheAll(hashes: string[]): Promise<void> {
  const now = Date.now();
  for (const slice of chunk(hashes, 100)) {
    const entries = await lookupTokensByHashes(primarySession(env.DB), slice);
    await Promise.all([...entries].map(([hash, entry]) => overwriteTokenCache(env.TOKEN_CACHE, hash, entry, now)));
  }
  resetIsolateCaches();
}

const saysValid = (entry: CacheEntry | null) =>
  entry?.token != null && !entry.token.ownerLeft && tokenStatus(entry.token, Date.now()) === "active";

/** How many of these tokens' KV entries (what every other location reads) would still verify. */
async function validInKv(hashes: string[]): Promise<number> {
  let valid = 0;
  for (const slice of chunk(hashes, 100)) {
    for (const entry of (await readKvEntries(env.TOKEN_CACHE, slice)).values()) if (saysValid(entry)) valid++;
  }
  return valid;
}

const resultOf = async (secret: string) =>
  (await readVerify(await viaEntrypoint(verifyUrl({ session: secret })))).result;

/** A sample spread over the list, verified through the worker with a cold memory tier. */
async function expectNoneVerifies(seeded: Seeded): Promise<void> {
  expect(await validInKv(seeded.hashes)).toBe(0);
  resetIsolateCaches();
  const step = Math.max(1, Math.floor(seeded.secrets.length / 25));
  for (let i = 0; i < seeded.secrets.length; i += step) expect(await resultOf(seeded.secrets[i]!)).toBe(6);
}

/** The structured lines (worker/observability/log.ts) a console spy received. */
const logged = (spy: { mock: { calls: unknown[][] } }) => spy.mock.calls.map((call) => call[0]);

let owner: string;

beforeAll(async () => {
  await setupOwner({ slug: "acme", name: "Acme" });
  owner = await sudoSession(OWNER.email, OWNER.password);
});
beforeEach(() => resetIsolateCaches());

describe("wrangler.toml", () => {
  /** The `[[queues.consumers]]` block of one queue, as key = value pairs. */
  function consumer(queue: string): Record<string, string> {
    const block = wranglerToml
      .split("[[queues.consumers]]")
      .slice(1)
      .map((b) => b.split(/\n\s*\[/)[0]!)
      .find((b) => new RegExp(`queue\\s*=\\s*"${queue}"`).test(b));
    if (!block) throw new Error(`wrangler.toml has no consumer for ${queue}`);
    return Object.fromEntries([...block.matchAll(/^(\w+)\s*=\s*"?([^"\n]*)"?\s*$/gm)].map((m) => [m[1]!, m[2]!]));
  }

  it("produces to the fan-out queue and consumes it and its dead-letter queue with the named limits", () => {
    expect(wranglerToml).toMatch(
      new RegExp(`\\[\\[queues\\.producers\\]\\]\\s*binding = "CACHE_FANOUT"\\s*queue = "${CACHE_FANOUT_QUEUE}"`),
    );
    for (const queue of [CACHE_FANOUT_QUEUE, CACHE_FANOUT_DLQ]) {
      expect(consumer(queue)).toMatchObject({
        max_batch_size: String(CACHE_FANOUT_BATCH_MESSAGES),
        max_batch_timeout: String(CACHE_FANOUT_BATCH_TIMEOUT_S),
        max_retries: String(CACHE_FANOUT_MAX_RETRIES),
      });
    }
    expect(consumer(CACHE_FANOUT_QUEUE).dead_letter_queue).toBe(CACHE_FANOUT_DLQ);
    // A batch's worst case (a put and a withdrawal per token) stays under KV's 1,000 operations per invocation.
    expect(2 * CACHE_FANOUT_BATCH_MESSAGES * CACHE_FANOUT_TOKENS_PER_MESSAGE).toBeLessThan(1_000);
  });
});

describe("revoking 2,000 tokens in bulk", () => {
  it(
    "rewrites 200 entries inline, queues the rest 100 a message, and none verifies once the queue has drained",
    async () => {
      const org = await makeOrg();
      const seeded = await seedTokens(org, 2_000);
      await cacheAll(seeded.hashes);
      expect(await validInKv(seeded.hashes)).toBe(2_000);
      const { env: bindings, queue } = withQueue();
      const ids = (
        await env.DB.prepare("SELECT id FROM tokens WHERE org_id = ?1").bind(org.orgId).all<{ id: string }>()
      ).results.map((r) => r.id);

      const report = await revokeTokensBulk(storeEnv(bindings), org.orgId, { ids }, testActor, Date.now());

      expect(report).toMatchObject({ refreshed: BULK_KILL_INLINE_MAX, queued: 1_800, leftToExpire: 0 });
      // The least recently used, 100 a message.
      expect(queue.sent).toHaveLength(18);
      expect(queue.sent.flatMap((m) => m.hashes)).toEqual(seeded.hashes.slice(BULK_KILL_INLINE_MAX));
      expect(queue.sent.every((m) => m.hashes.length === CACHE_FANOUT_TOKENS_PER_MESSAGE)).toBe(true);
      // Until the queue delivers, other locations still read the old entries of the tokens past the bound.
      expect(await validInKv(seeded.hashes)).toBe(1_800);

      const drained = await drain(queue);

      expect(drained).toMatchObject({ batches: 5, retryDelays: [], deadLettered: 0 });
      await expectNoneVerifies(seeded);
    },
    LONG,
  );
});

describe("removing a member with 1,000 personal tokens", () => {
  it(
    "queues each token the revoke cannot rewrite inline once; none verifies once drained",
    async () => {
      const org = await makeOrg();
      const userId = await makeMember(org.orgId, "org_member");
      const seeded = await seedTokens(org, 1_000, { kind: "personal", userId });
      await cacheAll(seeded.hashes);
      const membership = (await env.DB.prepare("SELECT id FROM memberships WHERE user_id = ?1")
        .bind(userId)
        .first<{ id: string }>())!;
      const { env: bindings, queue } = withQueue();

      const res = await viaHandler(
        new Request(`${ORIGIN}/api/orgs/${org.orgSlug}/members/${membership.id}`, {
          method: "DELETE",
          headers: { cookie: `${SESSION_COOKIE}=${owner}`, origin: ORIGIN },
        }),
        bindings,
      );

      expect(res.status).toBe(204);
      // The membership and the tokens go in one commit: each token beyond the inline share is queued once.
      const queued = queue.sent.flatMap((m) => m.hashes);
      expect(queued).toHaveLength(1_000 - BULK_KILL_INLINE_MAX);
      expect(new Set(queued).size).toBe(queued.length);
      expect(await validInKv(seeded.hashes)).toBeGreaterThan(0);

      await drain(queue);

      await expectNoneVerifies(seeded);
    },
    LONG,
  );
});

describe("a failing consumer batch", () => {
  /** Bindings whose KV puts for `hash` throw while `failing()` says so; every other call goes through. */
  function failingPutsFor(hash: string, failing: () => boolean): Env {
    const { env: bindings, log } = countingEnv();
    log.around = (call: IoCall, proceed) =>
      call.op === "put" && call.detail === KV_TOKEN_KEY_PREFIX + hash && failing()
        ? Promise.reject(new Error("KV PUT failed: 503 (test)"))
        : proceed();
    return bindings;
  }

  async function killed(count: number): Promise<{ seeded: Seeded; queue: CapturedQueue }> {
    const org = await makeOrg();
    const seeded = await seedTokens(org, count);
    // The inline share is rewritten by the kill itself: only the queued share needs an old entry to prove anything.
    await cacheAll(seeded.hashes.slice(BULK_KILL_INLINE_MAX));
    const { env: bindings, queue } = withQueue();
    const ids = (
      await env.DB.prepare("SELECT id FROM tokens WHERE org_id = ?1").bind(org.orgId).all<{ id: string }>()
    ).results.map((r) => r.id);
    await revokeTokensBulk(storeEnv(bindings), org.orgId, { ids }, testActor, Date.now());
    return { seeded, queue };
  }

  it(
    "is retried with a delay, and nothing is lost",
    async () => {
      const { seeded, queue } = await killed(BULK_KILL_INLINE_MAX + 300);
      const queuedHashes = queue.sent.flatMap((m) => m.hashes);
      let failures = 1;
      const bindings = failingPutsFor(queuedHashes[150]!, () => failures-- > 0);

      const drained = await drain(queue, bindings);

      expect(drained).toMatchObject({ retryDelays: [2], deadLettered: 0 });
      await expectNoneVerifies(seeded);
    },
    LONG,
  );

  it(
    "goes to the dead-letter queue after its last retry, whose consumer drops the entries so readers go to D1",
    async () => {
      const { seeded, queue } = await killed(BULK_KILL_INLINE_MAX + 10);
      const stuck = queue.sent[0]!.hashes[7]!;
      const errors = vi.spyOn(console, "error");

      const drained = await drain(
        queue,
        failingPutsFor(stuck, () => true),
      );

      // 2, 4, 8, 16, 32 s between deliveries; the sixth fails too and the message is dead-lettered, where
      // dropping its entries needs no put.
      expect(drained).toMatchObject({ retryDelays: [2, 4, 8, 16, 32, 60], deadLettered: 1, lost: 0 });
      expect(await env.TOKEN_CACHE.get(KV_TOKEN_KEY_PREFIX + stuck)).toBeNull();
      expect(logged(errors)).toContainEqual(
        expect.objectContaining({ event: "queue.batch", queue: CACHE_FANOUT_QUEUE, exhausted: 1 }),
      );
      errors.mockRestore();
      await expectNoneVerifies(seeded);
    },
    LONG,
  );

  it("acknowledges a message that does not parse, and says so", async () => {
    const errors = vi.spyOn(console, "error");
    const bad = [{ hashes: ["not-a-hash"] }, { ids: ["a"] }, "text"];

    const result = await deliver(
      CACHE_FANOUT_QUEUE,
      bad.map((body, i) => ({ id: `m${i}`, body, attempts: 1 })),
      env,
    );

    expect(result.explicitAcks).toEqual(["m0", "m1", "m2"]);
    expect(logged(errors)).toContainEqual(expect.objectContaining({ event: "queue.batch", rejected: 3 }));
    errors.mockRestore();
  });
});

describe("a refused queue send", () => {
  it(
    "fails closed: the entries that could not be queued are deleted, so their next reader goes to D1",
    async () => {
      const org = await makeOrg();
      const seeded = await seedTokens(org, BULK_KILL_INLINE_MAX + 20);
      await cacheAll(seeded.hashes.slice(BULK_KILL_INLINE_MAX));
      const { env: bindings, queue } = withQueue();
      queue.refuse = true;
      const ids = (
        await env.DB.prepare("SELECT id FROM tokens WHERE org_id = ?1").bind(org.orgId).all<{ id: string }>()
      ).results.map((r) => r.id);

      const report = await revokeTokensBulk(storeEnv(bindings), org.orgId, { ids }, testActor, Date.now());

      expect(report).toMatchObject({
        refreshed: BULK_KILL_INLINE_MAX,
        queued: 0,
        droppedUnqueued: 20,
        leftToExpire: 0,
      });
      expect(queue.sent).toEqual([]);
      await expectNoneVerifies(seeded);
    },
    LONG,
  );

  it(
    "reports what it could neither queue nor delete",
    async () => {
      const org = await makeOrg();
      await seedTokens(org, BULK_KILL_INLINE_MAX + 10);
      const { env: counted, log } = countingEnv();
      log.around = (call, proceed) =>
        call.op === "delete" ? Promise.reject(new Error("KV DELETE failed: 503 (test)")) : proceed();
      const { env: bindings, queue } = withQueue(counted);
      queue.refuse = true;
      const ids = (
        await env.DB.prepare("SELECT id FROM tokens WHERE org_id = ?1").bind(org.orgId).all<{ id: string }>()
      ).results.map((r) => r.id);
      const errors = vi.spyOn(console, "error");
      const warnings = vi.spyOn(console, "warn");

      const report = await revokeTokensBulk(storeEnv(bindings), org.orgId, { ids }, testActor, Date.now());

      expect(report).toMatchObject({ queued: 0, droppedUnqueued: 0, leftToExpire: 10 });
      expect(logged(errors)).toContainEqual(
        expect.objectContaining({ event: "queue.send_failed", tokens: 10, dropped: 0, left: 10 }),
      );
      expect(logged(warnings)).toContainEqual(expect.objectContaining({ event: "cache.left_to_expire", left: 10 }));
      warnings.mockRestore();
      errors.mockRestore();
    },
    LONG,
  );
});

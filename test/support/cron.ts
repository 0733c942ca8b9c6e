import { createExecutionContext, createScheduledController, waitOnExecutionContext } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { vi } from "vitest";
import { type JobName, type JobStatus, jobStatuses } from "../../worker/cron/job-state";
import { primarySession } from "../../worker/db/session";
import worker from "../../worker/index";
import { KV_TOKEN_KEY_PREFIX } from "../../worker/limits";
import type { CacheEntry } from "../../worker/tokens/cached";
import { hashToken } from "../../worker/tokens/hash";
import { hookD1 } from "./d1";

export const CRON = "*/15 * * * *";

/** Calls the worker's scheduled handler as the cron trigger would, with the clock set to `at`. */
export async function runCronAt(at: number, runEnv: Env = env): Promise<void> {
  vi.setSystemTime(at);
  const controller = createScheduledController({ scheduledTime: at, cron: CRON });
  const ctx = createExecutionContext();
  await worker.scheduled!(controller, runEnv, ctx);
  await waitOnExecutionContext(ctx);
}

export async function jobStatus(name: JobName): Promise<JobStatus> {
  const all = await jobStatuses(primarySession(env.DB), Date.now());
  return all.find((j) => j.name === name)!;
}

export async function countRows(sql: string, ...params: unknown[]): Promise<number> {
  const row = await env.DB.prepare(sql)
    .bind(...params)
    .first<{ n: number }>();
  return row!.n;
}

/** Whether the token's row is still in D1 (purged and erased tokens are gone). */
export const tokenExists = (id: string) =>
  countRows("SELECT count(*) AS n FROM tokens WHERE id = ?1", id).then((n) => n === 1);

export interface D1Usage {
  /** Most bound parameters seen on one statement. */
  maxBoundParameters: number;
  /** Most statements seen in one `batch`. */
  maxBatchStatements: number;
  /** Round trips: every `first/all/run/raw` outside a batch, and every batch. */
  queries: number;
}

/**
 * The D1 binding, watched: every statement's bound parameter count and every batch's length are
 * recorded, for tests that prove the jobs stay within D1's limits. Drizzle goes through the same
 * `prepare().bind()` and `batch()`, so its statements are counted too.
 */
export function recordingD1(real: D1Database): { db: D1Database; usage: D1Usage; reset(): void } {
  const usage: D1Usage = { maxBoundParameters: 0, maxBatchStatements: 0, queries: 0 };
  const watch = (stmt: D1PreparedStatement): D1PreparedStatement => {
    const bind = stmt.bind.bind(stmt);
    stmt.bind = (...values: unknown[]) => {
      usage.maxBoundParameters = Math.max(usage.maxBoundParameters, values.length);
      return watch(bind(...values));
    };
    for (const method of ["first", "all", "run", "raw"] as const) {
      const original = (stmt[method] as (...args: unknown[]) => Promise<unknown>).bind(stmt);
      (stmt as unknown as Record<string, unknown>)[method] = (...args: unknown[]) => {
        usage.queries++;
        return original(...args);
      };
    }
    return stmt;
  };
  const db = hookD1(real, {
    prepare: (target, sql) => watch(target.prepare(sql)),
    batch: (target, statements) => {
      usage.queries++;
      usage.maxBatchStatements = Math.max(usage.maxBatchStatements, statements.length);
      return target.batch(statements);
    },
  });
  return {
    db,
    usage,
    reset() {
      usage.maxBoundParameters = 0;
      usage.maxBatchStatements = 0;
      usage.queries = 0;
    },
  };
}

/** Forgets cursors and leases between tests of one file (storage is shared within a file). */
export async function resetJobState(): Promise<void> {
  await env.DB.prepare("DELETE FROM job_state").run();
}

/** A verification as a downstream API would ask for it: the token in a Bearer header. */
export async function verifyBearer(secret: string): Promise<{ status: number; result: number; error?: string }> {
  const res = await exports.default.fetch("https://tessera.test/v1/verify", {
    headers: { Authorization: `Bearer ${secret}`, "CF-Connecting-IP": "198.51.100.20" },
  });
  const body = await res.json<{ result: number; error?: string }>();
  return { status: res.status, result: body.result, error: body.error };
}

/** The token's KV cache entry, looked up by its hash as the worker names it. */
export async function cachedEntry(secret: string): Promise<CacheEntry | null> {
  return env.TOKEN_CACHE.get<CacheEntry>(KV_TOKEN_KEY_PREFIX + (await hashToken(env.TOKEN_PEPPER, secret)), "json");
}

import { env } from "cloudflare:workers";
import { forward, hookD1 } from "./d1";

/** One call that reached a binding: which, what, and the SQL or key it named. */
export interface IoCall {
  binding: "DB" | "TOKEN_CACHE" | "UNKNOWN_TOKEN_LIMITER";
  op: string;
  detail: string;
}

/**
 * Runs instead of the real call: `proceed()` makes it. Lets a test fail a binding (throw), stall it,
 * or do something between a call and its result (a revoke landing mid-flight).
 */
export type Around = (call: IoCall, proceed: () => Promise<unknown>) => Promise<unknown>;

export class IoLog {
  readonly calls: IoCall[] = [];
  around: Around | null = null;

  count(binding?: IoCall["binding"], filter?: (call: IoCall) => boolean): number {
    return this.calls.filter((c) => (binding === undefined || c.binding === binding) && (!filter || filter(c))).length;
  }

  reset(): void {
    this.calls.length = 0;
    this.around = null;
  }

  record(call: IoCall, proceed: () => Promise<unknown>): Promise<unknown> {
    this.calls.push(call);
    return this.around ? this.around(call, proceed) : proceed();
  }
}

const STATEMENT_RUNS = new Set(["first", "all", "run", "raw"]);

/**
 * D1 with every execution logged, on the binding and its sessions: statement runs and `batch` (one call).
 * `prepare`/`bind` do no I/O.
 */
export function countingD1(db: D1Database, log: IoLog): D1Database {
  const unwrap = new WeakMap<object, D1PreparedStatement>();
  const wrap = (stmt: D1PreparedStatement, sql: string): D1PreparedStatement => {
    const proxy = new Proxy(stmt, {
      get(target, prop) {
        if (prop === "bind") return (...values: unknown[]) => wrap(target.bind(...values), sql);
        if (typeof prop === "string" && STATEMENT_RUNS.has(prop)) {
          return (...args: unknown[]) =>
            log.record({ binding: "DB", op: prop, detail: sql }, () =>
              (target[prop as "all"] as (...a: unknown[]) => Promise<unknown>)(...args),
            );
        }
        return forward(target, prop);
      },
    });
    unwrap.set(proxy, stmt);
    return proxy;
  };
  return hookD1(db, {
    prepare: (target, sql) => wrap(target.prepare(sql), sql),
    batch: (target, statements) =>
      log.record({ binding: "DB", op: "batch", detail: `${statements.length} statements` }, () =>
        target.batch(statements.map((s) => unwrap.get(s) ?? s)),
      ) as Promise<D1Result[]>,
  });
}

const KV_OPS = new Set(["get", "getWithMetadata", "put", "delete", "list"]);

export function countingKv(kv: KVNamespace, log: IoLog): KVNamespace {
  return new Proxy(kv, {
    get(target, prop) {
      if (typeof prop === "string" && KV_OPS.has(prop)) {
        return (...args: unknown[]) =>
          log.record({ binding: "TOKEN_CACHE", op: prop, detail: String(args[0] ?? "") }, () =>
            (Reflect.get(target, prop, target) as (...a: unknown[]) => Promise<unknown>).apply(target, args),
          );
      }
      return forward(target, prop);
    },
  });
}

export function countingLimiter(limiter: RateLimit, log: IoLog): RateLimit {
  return {
    limit: (options) =>
      log.record({ binding: "UNKNOWN_TOKEN_LIMITER", op: "limit", detail: options.key }, () =>
        limiter.limit(options),
      ) as Promise<RateLimitOutcome>,
  };
}

/** The test env with its three I/O bindings logged (and steerable through `log.around`). */
export function countingEnv(base: Env = env): { env: Env; log: IoLog } {
  const log = new IoLog();
  return {
    log,
    env: {
      ...base,
      DB: countingD1(base.DB, log),
      TOKEN_CACHE: countingKv(base.TOKEN_CACHE, log),
      UNKNOWN_TOKEN_LIMITER: countingLimiter(base.UNKNOWN_TOKEN_LIMITER, log),
    },
  };
}

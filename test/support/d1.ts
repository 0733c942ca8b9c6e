import { env } from "cloudflare:workers";
import { primarySession } from "../../worker/db/session";

/**
 * The bindings with a D1 session at the primary, as the worker hands a change or a cron job
 * (worker/http/context.ts `storeEnvOf`): for tests that call the data functions directly.
 */
export function storeEnv<E extends Pick<Env, "DB">>(base: E = env as unknown as E): E & { d1: D1DatabaseSession } {
  return { ...base, d1: primarySession(base.DB) };
}

/** What a D1 binding and a session have in common: all the worker calls on either. */
export type D1Target = Pick<D1Database, "prepare" | "batch">;

/**
 * Where a call was made: on a session, opened with this constraint or bookmark (`withSession()` with none
 * is D1's "first-unconstrained"), or on the bare binding (null).
 */
export type Opened = string | null;

export interface D1Hooks {
  /** Instead of `target.prepare(sql)`; `target` is the binding or the session the worker called. */
  prepare?(target: D1Target, sql: string, opened: Opened): D1PreparedStatement;
  /** Instead of `target.batch(statements)`. */
  batch?(target: D1Target, statements: D1PreparedStatement[], opened: Opened): Promise<D1Result[]>;
  /** Told of each session the worker opens. */
  session?(opened: string): void;
}

/** Forwards a property with `this` bound to the real object (workerd's methods need it). */
export function forward(target: object, prop: string | symbol): unknown {
  const value: unknown = Reflect.get(target, prop, target);
  return typeof value === "function" ? value.bind(target) : value;
}

/**
 * `real` with `hooks` around `prepare` and `batch`, on the binding and on every session opened from it:
 * the worker reads and writes through sessions (worker/db/session.ts), and a test watching or failing
 * D1 must see those calls too.
 */
export function hookD1(real: D1Database, hooks: D1Hooks): D1Database {
  const { prepare, batch, session } = hooks;
  const around = <T extends D1Target>(target: T, opened: Opened): T =>
    new Proxy(target, {
      get(t, prop) {
        if (prop === "prepare" && prepare) return (sql: string) => prepare(t, sql, opened);
        if (prop === "batch" && batch) return (statements: D1PreparedStatement[]) => batch(t, statements, opened);
        if (prop === "withSession" && opened === null) {
          return (arg?: string) => {
            const asked = arg ?? "first-unconstrained";
            session?.(asked);
            return around((t as unknown as D1Database).withSession(arg), asked);
          };
        }
        return forward(t, prop);
      },
    });
  return around(real, null);
}

import type { Context } from "hono";
import { systemClock } from "../clock";
import { type Db, database } from "../db/client";
import { type D1, primarySession } from "../db/session";
import type { AppEnv } from "../env";
import { loggerFor } from "../observability/log";
import type { VerifyDeps } from "../verify/core";
import { D1_BOOKMARK_HEADER, READ_METHODS, requestSession } from "./d1-bookmark";

// What a handler needs besides its input, made on first use and kept on the request: no middleware,
// so /v1/verify pays for no drizzle client and no variable it does not read.

/**
 * The request's D1 session (worker/http/d1-bookmark.ts): one per request, so every read and write of it
 * is in order and its answer's bookmark covers all of them.
 */
export function sessionOf(c: Context<AppEnv>): D1 {
  let d1 = c.get("d1");
  if (d1 === undefined) {
    d1 = requestSession(c.env.DB, c.req.method, c.req.header(D1_BOOKMARK_HEADER));
    c.set("d1", d1);
  }
  return d1;
}

/** The request's drizzle handle over its D1 session. */
export function dbOf(c: Context<AppEnv>): Db {
  let db = c.get("db");
  if (db === undefined) {
    db = database(sessionOf(c));
    c.set("db", db);
  }
  return db;
}

/**
 * Where authentication and `orgAccess` read the session cookie's row and the caller's memberships: always
 * the primary. A replica may lag, and a signed-out session or a removed member must not read anything for
 * that long (docs/DESIGN.md §3.3). A change's own session already starts at the primary, so it is reused.
 */
export function accessDbOf(c: Context<AppEnv>): Db {
  if (!READ_METHODS.has(c.req.method)) return dbOf(c);
  let db = c.get("accessDb");
  if (db === undefined) {
    db = database(primarySession(c.env.DB));
    c.set("accessDb", db);
  }
  return db;
}

/**
 * For a read that must include every committed change but cannot carry a bookmark: a download the browser
 * fetches by plain link (the audit export). The primary, as for access checks.
 */
export const currentDbOf = accessDbOf;

/** The bindings with the request's D1 session, for the data functions that also write caches. */
export function storeEnvOf(c: Context<AppEnv>): Env & { d1: D1 } {
  return { ...c.env, d1: sessionOf(c) };
}

/**
 * The request's time: the clock is read once, so every row and check of one request shares one
 * instant. It reads `systemClock`, so tests move it with fake timers (`vi.setSystemTime`).
 */
export function nowOf(c: Context<AppEnv>): number {
  let now = c.get("now");
  if (now === undefined) {
    now = systemClock();
    c.set("now", now);
  }
  return now;
}

/**
 * The request's id in log lines: Cloudflare's `cf-ray`, which its own logs and the client see too, or a
 * fresh one where there is none (local development, tests). Read on the first log line, not before.
 */
export function requestIdOf(c: Context<AppEnv>): string {
  let id = c.get("requestId");
  if (id === undefined) {
    id = c.req.header("cf-ray") ?? crypto.randomUUID();
    c.set("requestId", id);
  }
  return id;
}

/**
 * What verification needs. `now` stays a clock, not the request's instant: verification reads it
 * again after each storage round-trip.
 */
export function verifyDeps(env: VerifyDeps["env"], waitUntil: VerifyDeps["waitUntil"]): VerifyDeps {
  return { env, waitUntil, now: systemClock };
}

/** `verifyDeps` for an HTTP request; the execution context is reached only when work is deferred. */
export function verifyDepsOf(c: Context<AppEnv>): VerifyDeps {
  return { ...verifyDeps(c.env, (p) => c.executionCtx.waitUntil(p)), log: loggerFor(() => requestIdOf(c)) };
}

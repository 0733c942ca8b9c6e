import type { Access, OrgRef } from "./auth/access";
import type { Caller } from "./auth/caller";
import type { Db } from "./db/client";
import type { D1 } from "./db/session";

/**
 * The one Hono environment of the worker: bindings from `wrangler types`, variables set by middleware
 * and by the request helpers of worker/http/context.ts.
 */
export type AppEnv = {
  Bindings: Env;
  Variables: {
    /** The client's address as Cloudflare reports it (`CF-Connecting-IP`). */
    clientIp: string;
    /** Set by the management API's authentication middleware. */
    caller: Caller;
    /** The organization of a `/:org` route, set by `orgAccess`. */
    org: OrgRef;
    /** The caller's rights in `org`, set by `orgAccess`. */
    access: Access;
    /** The request's D1 session, opened on first use by `sessionOf` (worker/http/context.ts). */
    d1?: D1;
    /** The request's drizzle handle, made on first use by `dbOf` (worker/http/context.ts). */
    db?: Db;
    /** A drizzle handle at the primary for authentication and access checks, made by `accessDbOf`. */
    accessDb?: Db;
    /** The request's time in epoch milliseconds, read once by `nowOf` (worker/http/context.ts). */
    now?: number;
    /** The request's id in logs (`cf-ray`, or made up), read once by `requestIdOf` (worker/http/context.ts). */
    requestId?: string;
  };
};

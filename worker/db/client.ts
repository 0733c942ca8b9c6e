import { drizzle } from "drizzle-orm/d1";
import * as schema from "./schema";
import type { D1 } from "./session";

export type Db = ReturnType<typeof database>;

/**
 * drizzle-orm 0.45 types its D1 client as `D1Database`, but its driver (drizzle-orm/d1/session.js) only
 * ever calls the client's `prepare` and `batch` (its transactions are statements sent through `prepare`),
 * and a session has both with the same signatures. `exec`, `dump` and `withSession` are never reached,
 * so handing it a session is sound; the assignment below keeps the two methods it uses checked.
 */
function asDrizzleClient(session: D1): D1Database {
  const used: Pick<D1Database, "prepare" | "batch"> = session;
  return used as D1Database;
}

/** A drizzle handle over a D1 session (worker/db/session.ts); cheap to make. */
export function database(d1: D1) {
  return drizzle(asDrizzleClient(d1), { schema });
}

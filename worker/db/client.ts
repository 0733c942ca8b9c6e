import { drizzle } from "drizzle-orm/d1";
import { logCommittedAudits } from "../audit/events";
import * as schema from "./schema";
import type { D1 } from "./session";

export type Db = ReturnType<typeof database>;

/**
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

/**
 * A drizzle handle over a D1 session (worker/db/session.ts); cheap to make. Its `batch` logs the audit
 * events it committed (worker/audit/events.ts), so every audited change made in a transaction gets its
 * log line once, and only once the transaction holds.
 */
export function database(d1: D1) {
  const db = drizzle(asDrizzleClient(d1), { schema });
  const commit = db.batch.bind(db);
  db.batch = (async (statements) => {
    const results = await commit(statements);
    logCommittedAudits(statements);
    return results;
  }) as typeof db.batch;
  return db;
}

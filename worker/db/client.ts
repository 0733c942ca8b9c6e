import { drizzle } from "drizzle-orm/d1";
import { logCommittedAudits } from "../audit/events";
import * as schema from "./schema";

export type Db = ReturnType<typeof database>;

/**
 * A drizzle handle over the D1 binding; cheap to make, so every data function makes its own. Its
 * `batch` logs the audit events it committed (worker/audit/events.ts), so every audited change made
 * in a transaction gets its log line once, and only once the transaction holds.
 */
export function database(d1: D1Database) {
  const db = drizzle(d1, { schema });
  const commit = db.batch.bind(db);
  db.batch = (async (statements) => {
    const results = await commit(statements);
    logCommittedAudits(statements);
    return results;
  }) as typeof db.batch;
  return db;
}

import type { BatchItem, BatchResponse } from "drizzle-orm/batch";
import type { Db } from "./client";
import type { D1 } from "./session";

/** A drizzle statement that can go into a D1 batch. */
export type Statement = BatchItem<"sqlite">;

/** What one statement answers inside a batch. */
export type ResultOf<S extends Statement> = S["_"]["result"];

/**
 * Runs the statements as one D1 transaction and answers their results in order. A literal list keeps
 * each statement's result type; a list built in a loop answers its element's result type. An empty
 * list runs nothing (D1 refuses an empty batch).
 */
export function batch<const T extends readonly [Statement, ...Statement[]]>(
  db: Db,
  statements: T,
): Promise<BatchResponse<T>>;
export function batch<S extends Statement>(db: Db, statements: readonly S[]): Promise<ResultOf<S>[]>;
export async function batch(db: Db, statements: readonly Statement[]): Promise<unknown[]> {
  if (statements.length === 0) return [];
  // drizzle types only non-empty tuples; the overloads above give callers their types back.
  return db.batch(statements as [Statement, ...Statement[]]);
}

/**
 * A drizzle statement as a raw D1 one, for a batch that mixes it with hand-written SQL (the bulk revoke's
 * set-based chunks): the same text and bound values drizzle would send.
 */
export function asD1Statement(d1: D1, statement: Statement): D1PreparedStatement {
  const { sql, params } = (statement as unknown as { toSQL(): { sql: string; params: unknown[] } }).toSQL();
  return d1.prepare(sql).bind(...params);
}

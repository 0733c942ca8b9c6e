import { and, eq, gt, lt, or, type SQL } from "drizzle-orm";
import type { SQLiteColumn } from "drizzle-orm/sqlite-core";
import { AppError } from "../errors";

export const PAGE_SIZE_DEFAULT = 50;
export const PAGE_SIZE_MAX = 100;
const CURSOR_MAX_LENGTH = 500;

export interface Page<T> {
  items: T[];
  next: string | null;
}

/** Cursors are opaque to callers: the sort key of the last item, as base64url JSON. */
export function encodeCursor(values: (string | number)[]): string {
  return btoa(JSON.stringify(values)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

const badCursor = () =>
  new AppError("validation_failed", "The cursor is not one this API gave out.", { fields: { cursor: "invalid" } });

/** The sort key inside a cursor, checked against the shape the list expects (e.g. ["number", "string"]). */
function decodeCursor(cursor: string, shape: ("string" | "number")[]): (string | number)[] {
  if (cursor.length > CURSOR_MAX_LENGTH) throw badCursor();
  let values: unknown;
  try {
    values = JSON.parse(atob(cursor.replace(/-/g, "+").replace(/_/g, "/")));
  } catch {
    throw badCursor();
  }
  if (!Array.isArray(values) || values.length !== shape.length || values.some((v, i) => typeof v !== shape[i]))
    throw badCursor();
  return values as (string | number)[];
}

/** Rows were fetched with one extra to learn whether a next page exists: keep `limit`, point past the last. */
export function splitPage<R>(
  rows: R[],
  limit: number,
  cursorOf: (last: R) => (string | number)[],
): { rows: R[]; next: string | null } {
  if (rows.length <= limit) return { rows, next: null };
  const kept = rows.slice(0, limit);
  return { rows: kept, next: encodeCursor(cursorOf(kept[kept.length - 1]!)) };
}

type KeyPart = [column: SQLiteColumn | SQL, type: "string" | "number"];

/**
 * The condition for rows past the cursor in a list sorted by `keys` (the last a unique tie-breaker), in
 * `order`: `(k1 > v1) OR (k1 = v1 AND k2 > v2)` and so on. Undefined without a cursor, so it can go
 * straight into `and(...)`.
 */
export function pastCursor(cursor: string | undefined, order: "asc" | "desc", ...keys: KeyPart[]): SQL | undefined {
  if (!cursor) return undefined;
  const values = decodeCursor(
    cursor,
    keys.map(([, type]) => type),
  );
  const beyond = order === "asc" ? gt : lt;
  return keys.reduceRight<SQL | undefined>((rest, [key], i) => {
    // A column or an expression (a list sorted by a computed key): compared the same way.
    const column = key as SQL;
    const past = beyond(column, values[i]);
    return rest ? or(past, and(eq(column, values[i]), rest)) : past;
  }, undefined);
}

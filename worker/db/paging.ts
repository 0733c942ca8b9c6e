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
export function decodeCursor<T extends (string | number)[]>(cursor: string, shape: ("string" | "number")[]): T {
  if (cursor.length > CURSOR_MAX_LENGTH) throw badCursor();
  let values: unknown;
  try {
    values = JSON.parse(atob(cursor.replace(/-/g, "+").replace(/_/g, "/")));
  } catch {
    throw badCursor();
  }
  if (!Array.isArray(values) || values.length !== shape.length || values.some((v, i) => typeof v !== shape[i]))
    throw badCursor();
  return values as T;
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

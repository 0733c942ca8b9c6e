import { D1_MAX_BOUND_PARAMETERS } from "../limits";

// D1 refuses a statement that binds more than D1_MAX_BOUND_PARAMETERS values, so every id list is
// sliced below it. A statement's `reserved` parameters are the ones it binds besides the list.

/** `items` in consecutive slices of at most `size`. */
export function chunk<T>(items: readonly T[], size: number): T[][] {
  const slices: T[][] = [];
  for (let i = 0; i < items.length; i += size) slices.push(items.slice(i, i + size));
  return slices;
}

/** How many list values fit in one statement beside its `reserved` other parameters. */
export const sliceSize = (reserved: number) => D1_MAX_BOUND_PARAMETERS - reserved;

/** Throws before D1 would, so a slice size raised past the limit fails in tests rather than in production. */
function assertFits(bound: number): void {
  if (bound > D1_MAX_BOUND_PARAMETERS)
    throw new Error(`a statement would bind ${bound} parameters; D1 allows ${D1_MAX_BOUND_PARAMETERS}`);
}

/** `?first, ?first+1, …` for `count` values bound after `first - 1` leading ones. */
export function placeholders(count: number, first = 1): string {
  assertFits(first - 1 + count);
  return Array.from({ length: count }, (_, i) => `?${first + i}`).join(", ");
}

/** `(?first, ?first+1), (…)` for `rows` tuples of `width` values each, bound after `first - 1` leading ones. */
export function tuplePlaceholders(rows: number, width: number, first = 1): string {
  assertFits(first - 1 + rows * width);
  return Array.from({ length: rows }, (_, r) => `(${placeholders(width, first + r * width)})`).join(", ");
}

/** Runs `query` over `values` a slice at a time, each slice as large as `reserved` allows; answers every row in order. */
export async function inSlices<T, R>(
  values: readonly T[],
  reserved: number,
  query: (slice: T[]) => Promise<R[]>,
): Promise<R[]> {
  const rows: R[] = [];
  for (const slice of chunk(values, sliceSize(reserved))) rows.push(...(await query(slice)));
  return rows;
}

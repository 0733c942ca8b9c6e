import { D1_MAX_BOUND_PARAMETERS } from "./schedule";

/*
 * The jobs select a chunk of ids with a scan that walks an index, then act on exactly those ids with
 * the due condition repeated (so a row that changed in between is left alone). In the id-list
 * statements every column of that condition is written `+column`: the unary plus keeps SQLite from
 * choosing the column's index over the primary key. D1 has no ANALYZE statistics, and without the plus
 * the planner walked the whole purge index for each chunk: 50 ms instead of 1 ms per 50 tokens at
 * 100,000 tokens.
 */

/**
 * `?n, ?n+1, ...` for a list bound after `first - 1` leading values. Throws before D1 would, so a chunk
 * size raised past the limit fails in tests rather than in production.
 */
export function numberedList(first: number, count: number): string {
  if (first - 1 + count > D1_MAX_BOUND_PARAMETERS) {
    throw new Error(`a statement would bind ${first - 1 + count} parameters; D1 allows ${D1_MAX_BOUND_PARAMETERS}`);
  }
  return Array.from({ length: count }, (_, i) => `?${first + i}`).join(", ");
}

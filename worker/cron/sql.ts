import { D1_MAX_BOUND_PARAMETERS } from "./schedule";

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

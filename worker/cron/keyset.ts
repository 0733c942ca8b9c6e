/** A position in a scan ordered by (time, id): the last row handled. Stored as JSON in `job_state.cursor`. */
export interface Keyset {
  at: number;
  id: string;
}

/** The start of a scan: nothing before this position is looked at. */
export const SCAN_START: Keyset = { at: Number.MIN_SAFE_INTEGER, id: "" };

export function parseKeyset(value: unknown): Keyset | null {
  if (typeof value !== "object" || value === null) return null;
  const { at, id } = value as Record<string, unknown>;
  return typeof at === "number" && Number.isFinite(at) && typeof id === "string" ? { at, id } : null;
}

/** A stored cursor as JSON; anything unreadable starts the scan over, which the jobs' conditions make harmless. */
export function readCursor(raw: string | null): unknown {
  if (raw === null) return null;
  try {
    return JSON.parse(raw);
  } catch {
    return null;
  }
}

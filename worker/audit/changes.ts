/**
 * Before → after of an edit, for its audit event's `detail.changes`: only the fields whose value
 * differs, each as `{from, to}`. Callers pass display values (names, roles, permission lists, expiry
 * instants), never a secret. Lists compare and record sorted, so a reordering is no change.
 */
export type Changes = Record<string, { from: unknown; to: unknown }>;

const normal = (v: unknown) => (Array.isArray(v) ? [...v].map(String).sort() : (v ?? null));

export function changesOf(before: Record<string, unknown>, after: Record<string, unknown>): Changes {
  const changes: Changes = {};
  for (const [field, next] of Object.entries(after)) {
    if (next === undefined) continue;
    const from = normal(before[field]);
    const to = normal(next);
    if (JSON.stringify(from) !== JSON.stringify(to)) changes[field] = { from, to };
  }
  return changes;
}

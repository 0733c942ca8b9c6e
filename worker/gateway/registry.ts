import type { Upstream } from "./upstreams";

/**
 * Upstream configurations kept in isolate memory, so a gateway request whose token is cached costs
 * no D1 query at all. Short-lived like the token memory tier: an edit made through another isolate
 * reaches this one within the TTL; an edit made through this isolate is seen at once.
 */
export const UPSTREAM_MEMORY_TTL_MS = 5_000;
const MAX_ENTRIES = 1_000;

const entries = new Map<string, { upstream: Upstream | null; until: number }>();

export function rememberedUpstream(name: string, now: number): Upstream | null | undefined {
  const entry = entries.get(name);
  if (entry === undefined) return undefined;
  if (entry.until <= now) {
    entries.delete(name);
    return undefined;
  }
  return entry.upstream;
}

export function rememberUpstream(name: string, upstream: Upstream | null, now: number): void {
  if (entries.size >= MAX_ENTRIES) entries.clear();
  entries.set(name, { upstream, until: now + UPSTREAM_MEMORY_TTL_MS });
}

export function forgetUpstream(name: string): void {
  entries.delete(name);
}

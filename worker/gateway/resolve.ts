import { AppError } from "../errors";
import { KV_READ_DEADLINE_MS, VERIFY_STORE_DEADLINE_MS } from "../limits";
import { type LogFields, log } from "../observability/log";
import { withDeadline } from "../util/deadline";
import { errorKind } from "../util/error-kind";
import type { VerifyDeps } from "../verify/core";
import { countUnknownToken, isClientBlocked } from "../verify/throttle";
import { freshUpstream, lastKnownUpstream, rememberUpstream } from "./registry";
import { fillUpstreamEntry, isStale, readUpstreamEntry, type UpstreamEntry } from "./upstream-cache";
import { findUpstream, type Upstream, upstreamVersion } from "./upstreams";

// The kind of failure, never its message: drizzle's carries the query's bound values.
const storeError = (store: "kv" | "d1", op: string, err: unknown, fields: LogFields = {}) =>
  log.error("store.error", { store, op, error: errorKind(err), ...fields });

/** D1's state within the verify deadline, remembered in memory; returns it and the entry memory kept. */
async function readFromD1(deps: VerifyDeps, name: string): Promise<{ found: UpstreamEntry; kept: UpstreamEntry }> {
  const found = await withDeadline(findUpstream(deps.env.DB, name, deps.now()), VERIFY_STORE_DEADLINE_MS);
  return { found, kept: rememberUpstream(name, found, deps.now()) };
}

function fillKv(deps: VerifyDeps, name: string, found: UpstreamEntry): Promise<void> {
  return fillUpstreamEntry(deps.env.TOKEN_CACHE, name, found, () => upstreamVersion(deps.env.DB, name));
}

const RATE_LIMITED = "Too many unknown names or tokens from this client; try again in a minute.";

/**
 * The upstream named `name`, or null when there is none: memory, then KV, then D1, as for tokens.
 * A KV copy past KV_UPSTREAM_FRESH_MS is still served and re-read from D1 in the background: every
 * change overwrites it anyway, so this only repairs a write that never reached KV, and it costs the
 * answer no D1 wait. When D1 cannot answer within the verify deadline, the last configuration this
 * isolate knew is served; with none, the answer is code 10, as for a token no tier holds.
 * A name D1 does not know is handled like an unknown token, so names cannot be probed for free: it
 * is remembered negatively in both tiers for the unknown-token TTLs, counts toward the client's
 * unknown-token limit, and a client over that limit reaches D1 for no name it has not seen.
 */
export async function resolveUpstream(deps: VerifyDeps, name: string, clientIp: string): Promise<Upstream | null> {
  const now = deps.now();
  const inMemory = freshUpstream(name, now);
  if (inMemory) return inMemory.upstream;

  try {
    const fromKv = await withDeadline(readUpstreamEntry(deps.env.TOKEN_CACHE, name), KV_READ_DEADLINE_MS);
    if (fromKv) {
      // Memory may hold a newer version: a change made here that this location's KV does not show yet.
      const kept = rememberUpstream(name, fromKv, now);
      if (isStale(fromKv, now)) {
        deps.waitUntil(
          readFromD1(deps, name)
            .then(({ found }) => fillKv(deps, name, found))
            .catch((err: unknown) => storeError("d1", "upstream.refresh", err)),
        );
      }
      return kept.upstream;
    }
  } catch (err) {
    storeError("kv", "upstream.read", err, { fallback: "d1" });
  }

  if (isClientBlocked(clientIp, now)) throw new AppError("rate_limited", RATE_LIMITED);

  let read: { found: UpstreamEntry; kept: UpstreamEntry };
  try {
    read = await readFromD1(deps, name);
  } catch (err) {
    const last = lastKnownUpstream(name);
    if (!last) {
      storeError("d1", "upstream.lookup", err, { fallback: "none" });
      throw new AppError("unavailable", "The gateway configuration is unavailable; try again shortly.");
    }
    storeError("d1", "upstream.lookup", err, { fallback: "last_known" });
    // Fresh again for the memory TTL, so the requests that follow do not each wait out the deadline.
    return rememberUpstream(name, last, now).upstream;
  }
  deps.waitUntil(fillKv(deps, name, read.found).catch((err: unknown) => storeError("kv", "upstream.fill", err)));
  if (!read.found.upstream && !(await countUnknownToken(deps.env.UNKNOWN_TOKEN_LIMITER, clientIp, deps.now()))) {
    throw new AppError("rate_limited", RATE_LIMITED);
  }
  return read.kept.upstream;
}

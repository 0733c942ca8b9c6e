import type { Read } from "../cache/tiered";
import { replicaRead } from "../db/session";
import { AppError } from "../errors";
import { VERIFY_STORE_DEADLINE_MS } from "../limits";
import { type LogFields, log } from "../observability/log";
import { withDeadline } from "../util/deadline";
import { errorKind } from "../util/error-kind";
import type { VerifyDeps } from "../verify/core";
import { countUnknownToken, isClientBlocked } from "../verify/throttle";
import { upstreamMemory } from "./registry";
import { isStale, type UpstreamEntry, upstreamCache } from "./upstream-cache";
import { findUpstream, type Upstream, upstreamVersion } from "./upstreams";

// The kind of failure, never its message: drizzle's carries the query's bound values.
const storeError = (store: "kv" | "d1", op: string, err: unknown, fields: LogFields = {}) =>
  log.error("store.error", { store, op, error: errorKind(err), ...fields });

// The nearest replica: a stale answer is never cached past the fill's check at the primary (docs/DESIGN.md §3.3).
const load = (deps: VerifyDeps, name: string) => () => findUpstream(replicaRead(deps.env.DB), name, deps.now());
const currentVersion = (deps: VerifyDeps, name: string) => () => upstreamVersion(deps.env.DB, name);

const RATE_LIMITED = "Too many unknown names or tokens from this client; try again in a minute.";

/**
 * The upstream named `name`, or null when there is none: memory, then KV, then D1, through the same
 * tiered cache as tokens (worker/cache/tiered.ts). A KV copy past KV_UPSTREAM_FRESH_MS is still served
 * and re-read from D1 in the background: every change overwrites it anyway, so this only repairs a
 * write that never reached KV, and it costs the answer no D1 wait. When D1 cannot answer within the
 * verify deadline, the last configuration this isolate knew is served; with none, the answer is
 * code 10, as for a token no tier holds.
 * A name D1 does not know is handled like an unknown token, so names cannot be probed for free: it
 * is remembered negatively in both tiers for the unknown-token TTLs, counts toward the client's
 * unknown-token limit, and a client over that limit reaches D1 for no name it has not seen.
 */
export async function resolveUpstream(deps: VerifyDeps, name: string, clientIp: string): Promise<Upstream | null> {
  const kv = deps.env.TOKEN_CACHE;
  let read: Read<UpstreamEntry>;
  try {
    read = await upstreamCache.read(name, {
      kv,
      now: deps.now,
      waitUntil: deps.waitUntil,
      load: load(deps, name),
      currentVersion: currentVersion(deps, name),
      beforeLoad: () => {
        if (isClientBlocked(clientIp, deps.now())) throw new AppError("rate_limited", RATE_LIMITED);
      },
      onKvHit: (entry) => {
        if (!isStale(entry, deps.now())) return;
        deps.waitUntil(
          withDeadline(load(deps, name)(), VERIFY_STORE_DEADLINE_MS)
            .then((found) => {
              upstreamMemory.remember(name, found, deps.now());
              return upstreamCache.fill(kv, name, found, currentVersion(deps, name));
            })
            .catch((err: unknown) => storeError("d1", "upstream.refresh", err)),
        );
      },
    });
  } catch (err) {
    if (err instanceof AppError) throw err;
    const last = upstreamMemory.lastKnown(name);
    if (!last) {
      storeError("d1", "upstream.lookup", err, { fallback: "none" });
      throw new AppError("unavailable", "The gateway configuration is unavailable; try again shortly.");
    }
    storeError("d1", "upstream.lookup", err, { fallback: "last_known" });
    // Fresh again for the memory TTL, so the requests that follow do not each wait out the deadline.
    return upstreamMemory.remember(name, last, deps.now()).upstream;
  }
  if (
    read.tier === "d1" &&
    !read.entry.upstream &&
    !(await countUnknownToken(deps.env.UNKNOWN_TOKEN_LIMITER, clientIp, deps.now()))
  ) {
    throw new AppError("rate_limited", RATE_LIMITED);
  }
  return read.entry.upstream;
}

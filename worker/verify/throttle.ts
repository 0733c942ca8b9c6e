import { networkOf } from "../http/network";
import { UNKNOWN_TOKEN_BLOCK_MS } from "../limits";
import { type Logger, log } from "../observability/log";
import { errorKind } from "../util/error-kind";

// Clients whose unknown tokens passed the limiter's rate, until when: such a client's next cache
// misses are refused before they reach D1. Tokens already cached keep verifying for it. Clients
// are counted and blocked by network (an IPv4 address, an IPv6 /64): one IPv6 subscriber holds a
// whole /64 and could otherwise present a fresh address for every guess.
const blockedUntil = new Map<string, number>();
const BLOCKLIST_MAX = 10_000;

function isBlocked(key: string, now: number): boolean {
  const until = blockedUntil.get(key);
  if (until === undefined) return false;
  if (until > now) return true;
  blockedUntil.delete(key);
  return false;
}

/** One count against `limiter` for `key`; false (and `key` blocked) once past its rate. */
async function countOnce(limiter: RateLimit, key: string, now: number, logger: Logger = log): Promise<boolean> {
  let success: boolean;
  try {
    ({ success } = await limiter.limit({ key }));
  } catch (err) {
    // The limiter only shields D1, which already answered: its trouble must not turn "unknown" into an outage.
    logger.error("store.error", { store: "limiter", op: "unknown_token.limit", error: errorKind(err) });
    return true;
  }
  if (!success) {
    if (blockedUntil.size >= BLOCKLIST_MAX) blockedUntil.clear();
    blockedUntil.set(key, now + UNKNOWN_TOKEN_BLOCK_MS);
  }
  return success;
}

export function isClientBlocked(clientIp: string, now: number): boolean {
  return isBlocked(networkOf(clientIp), now);
}

/**
 * Counts one unknown token for the client against the rate-limit binding (configured in
 * wrangler.toml). Only unknown tokens count, so a server verifying many real tokens is never refused.
 */
export function countUnknownToken(
  limiter: RateLimit,
  clientIp: string,
  now: number,
  logger: Logger = log,
): Promise<boolean> {
  return countOnce(limiter, networkOf(clientIp), now, logger);
}

/**
 * Who an unknown token is counted against. `resourceServer` is the id of the token a resource server
 * authenticated with (worker/verify/resource-server.ts), null for anyone else; `clientIp` is then
 * the end client's address as that server reports it.
 */
export interface Counted {
  clientIp: string;
  resourceServer: string | null;
}

export type ThrottleLimiters = Pick<Env, "UNKNOWN_TOKEN_LIMITER" | "RESOURCE_SERVER_LIMITER">;

// Behind a resource server each end client has its own count, namespaced by that server so that a
// server cannot spend (or block) anyone else's; the server's overall count keeps one that forwards
// a flood of made-up addresses from reaching D1 without bound.
const endClientKey = (resourceServer: string, clientIp: string) => `rs:${resourceServer}:${networkOf(clientIp)}`;
const resourceServerKey = (resourceServer: string) => `rs:${resourceServer}`;

/** Whether `who`'s cache misses are refused (code 9) before they reach D1. */
export function isThrottled(who: Counted, now: number): boolean {
  if (who.resourceServer === null) return isClientBlocked(who.clientIp, now);
  return (
    isBlocked(endClientKey(who.resourceServer, who.clientIp), now) ||
    isBlocked(resourceServerKey(who.resourceServer), now)
  );
}

/**
 * Counts one unknown token: per client network for anonymous callers (UNKNOWN_TOKEN_LIMITER), and for
 * a resource server's end client both that client (UNKNOWN_TOKEN_LIMITER) and the server's overall
 * cap (RESOURCE_SERVER_LIMITER, far higher). False once either is past its rate.
 */
export async function countUnknown(
  limiters: ThrottleLimiters,
  who: Counted,
  now: number,
  logger: Logger = log,
): Promise<boolean> {
  if (who.resourceServer === null) return countUnknownToken(limiters.UNKNOWN_TOKEN_LIMITER, who.clientIp, now, logger);
  const [client, overall] = await Promise.all([
    countOnce(limiters.UNKNOWN_TOKEN_LIMITER, endClientKey(who.resourceServer, who.clientIp), now, logger),
    countOnce(limiters.RESOURCE_SERVER_LIMITER, resourceServerKey(who.resourceServer), now, logger),
  ]);
  return client && overall;
}

export function clearBlockedClients(): void {
  blockedUntil.clear();
}

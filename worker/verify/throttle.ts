import { networkOf } from "../http/network";
import { UNKNOWN_TOKEN_BLOCK_MS } from "../limits";
import { log } from "../observability/log";
import { errorKind } from "../util/error-kind";

// Clients whose unknown tokens passed the limiter's rate, until when: such a client's next cache
// misses are refused before they reach D1. Tokens already cached keep verifying for it. Clients
// are counted and blocked by network (an IPv4 address, an IPv6 /64): one IPv6 subscriber holds a
// whole /64 and could otherwise present a fresh address for every guess.
const blockedUntil = new Map<string, number>();
const BLOCKLIST_MAX = 10_000;

export function isClientBlocked(clientIp: string, now: number): boolean {
  const network = networkOf(clientIp);
  const until = blockedUntil.get(network);
  if (until === undefined) return false;
  if (until > now) return true;
  blockedUntil.delete(network);
  return false;
}

/**
 * Counts one unknown token for the client against the rate-limit binding (configured in
 * wrangler.toml). Only unknown tokens count, so a server verifying many real tokens is never refused.
 */
export async function countUnknownToken(limiter: RateLimit, clientIp: string, now: number): Promise<boolean> {
  const network = networkOf(clientIp);
  let success: boolean;
  try {
    ({ success } = await limiter.limit({ key: network }));
  } catch (err) {
    // The limiter only shields D1, which already answered: its trouble must not turn "unknown" into an outage.
    log.error("store.error", { store: "limiter", op: "unknown_token.limit", error: errorKind(err) });
    return true;
  }
  if (!success) {
    if (blockedUntil.size >= BLOCKLIST_MAX) blockedUntil.clear();
    blockedUntil.set(network, now + UNKNOWN_TOKEN_BLOCK_MS);
  }
  return success;
}

export function clearBlockedClients(): void {
  blockedUntil.clear();
}

import type { TokenKind } from "../db/schema";
import type { Ceiling } from "./personal-ceiling";

/** A project named on a token: by id as well as key, so a project re-created under the same key is not covered. */
export interface NamedProject {
  id: string;
  key: string;
}

/**
 * What every cache tier holds for a token hash: the token's own grant, enough with the project facts
 * (worker/orgs/project-facts.ts) to answer a verify without D1. It holds nothing of the organization's
 * structure, so its size does not grow with the organization (docs/DESIGN.md "Cache tiers").
 */
export interface CachedToken {
  id: string;
  kind: TokenKind;
  name: string;
  orgId: string;
  orgSlug: string;
  groupId: string | null;
  groupSlug: string | null;
  userId: string | null;
  /** "*" or the projects named on the token (for personal tokens: those its user could reach when it was filled). */
  projects: "*" | NamedProject[];
  /**
   * Held on every project the token reaches and without a project. For personal tokens, narrowed to what
   * the user's organization-wide memberships grant (`personal-ceiling.ts`).
   */
  permissions: string[];
  /** Personal tokens only: where the owner's memberships reach, and what group memberships add there. */
  ceiling?: Ceiling;
  admin: boolean;
  expiresAt: number | null;
  disabledAt: number | null;
  revokedAt: number | null;
  /** A personal token whose user no longer belongs to the organization: it verifies as revoked. */
  ownerLeft?: boolean;
  /** The addresses it may be used from, as normalized CIDR ranges (worker/verify/ip-allowlist.ts); absent: any. */
  allowedIps?: string[];
  /**
   * Only in the entry of a replaced secret during its grace period (kept under that secret's own hash,
   * worker/tokens/rotation.ts): the instant it stops verifying, whatever the cache still holds.
   */
  oldSecretUntil?: number;
}

/** A cache entry: a known token, or the memory that this hash is unknown. `v` orders competing writes. */
export type CacheEntry = { v: number; token: CachedToken } | { v: number; token: null };

import type { TokenKind } from "../db/schema";
import type { ProjectGrant } from "./personal-ceiling";

/** What every cache tier holds for a token hash: enough to answer a verify without D1. */
export interface CachedToken {
  id: string;
  kind: TokenKind;
  name: string;
  orgId: string;
  orgSlug: string;
  groupId: string | null;
  groupSlug: string | null;
  userId: string | null;
  /** "*" or the project keys named on the token (for personal tokens: those its user may still reach). */
  projects: "*" | string[];
  /** For "*": every project key the token reaches now, resolved when the entry was filled. */
  scopeKeys: string[];
  /**
   * Held on every project the token reaches and without a project. For personal tokens, narrowed to what
   * the user's organization-wide memberships grant (`personal-ceiling.ts`).
   */
  permissions: string[];
  /**
   * Personal tokens only, and only when a group membership grants more than the organization-wide ones:
   * permissions held on these projects besides `permissions`, one item per group. Absent otherwise, so
   * organization and group tokens pay nothing for it.
   */
  projectGrants?: ProjectGrant[];
  admin: boolean;
  expiresAt: number | null;
  disabledAt: number | null;
  revokedAt: number | null;
  /** A personal token whose user no longer belongs to the organization: it verifies as revoked. */
  ownerLeft?: boolean;
}

/** A cache entry: a known token, or the memory that this hash is unknown. `v` orders competing writes. */
export type CacheEntry = { v: number; token: CachedToken } | { v: number; token: null };

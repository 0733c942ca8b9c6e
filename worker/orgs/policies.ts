import { eq } from "drizzle-orm";
import type { Db } from "../db/client";
import { orgPolicies, type TokenKind } from "../db/schema";
import { AppError } from "../errors";
import { DAY_MS, TOKEN_MAX_LIFETIME_MS } from "../limits";

/*
 * An organization's token policies (docs/DESIGN.md §2, "Policies"): per token kind a maximum lifetime and
 * whether an expiry is required, the permission sets personal tokens may use, and the lead times of its
 * expiry notices. Enforced where a secret is issued (create, copy, regenerate: `assertWithinPolicy`) and,
 * for the lifetime, at use through the tokens' effective expiry (worker/orgs/policy-cut.ts).
 */

/** The instance's ceiling, in whole days: no organization may allow more. */
export const MAX_LIFETIME_DAYS = Math.floor(TOKEN_MAX_LIFETIME_MS / DAY_MS);
/** Expiry notices go out this many days ahead unless the organization says otherwise. */
export const DEFAULT_NOTICE_DAYS = [30, 7, 1] as const;
/** Lead times an organization may choose: up to this many, each 1 to NOTICE_MAX_DAYS days. */
export const NOTICE_MAX_COUNT = 5;
export const NOTICE_MAX_DAYS = 90;
/** A purge warning goes out this many days before an idle token with no expiry is purged (docs/CRON.md). */
export const PURGE_WARNING_DAYS = 7;

export interface KindPolicy {
  /** Null: only the instance's ceiling (MAX_LIFETIME_DAYS). */
  maxLifetimeDays: number | null;
  /** True whenever `maxLifetimeDays` is set: a token beyond any lifetime cannot have "never". */
  expiryRequired: boolean;
}

export interface OrgPolicies {
  lifetime: Record<TokenKind, KindPolicy>;
  /** Permission set ids personal tokens may be made with; null: any permissions, custom ones too. */
  personalPermissionSets: string[] | null;
  /** Days before expiry, descending. */
  expiryNoticeDays: number[];
}

export const DEFAULT_POLICIES: OrgPolicies = {
  lifetime: {
    org: { maxLifetimeDays: null, expiryRequired: false },
    group: { maxLifetimeDays: null, expiryRequired: false },
    personal: { maxLifetimeDays: null, expiryRequired: false },
  },
  personalPermissionSets: null,
  expiryNoticeDays: [...DEFAULT_NOTICE_DAYS],
};

type PolicyRow = typeof orgPolicies.$inferSelect;

const kindPolicy = (maxLifetimeDays: number | null, required: boolean): KindPolicy => ({
  maxLifetimeDays,
  expiryRequired: required || maxLifetimeDays !== null,
});

export function policiesOf(row: PolicyRow | undefined): OrgPolicies {
  if (!row) return DEFAULT_POLICIES;
  return {
    lifetime: {
      org: kindPolicy(row.orgMaxDays, row.orgExpiryRequired),
      group: kindPolicy(row.groupMaxDays, row.groupExpiryRequired),
      personal: kindPolicy(row.personalMaxDays, row.personalExpiryRequired),
    },
    personalPermissionSets: row.personalPermissionSets ?? null,
    expiryNoticeDays: row.expiryNoticeDays ?? [...DEFAULT_NOTICE_DAYS],
  };
}

export async function readPolicies(db: Db, orgId: string): Promise<OrgPolicies> {
  return policiesOf(await db.select().from(orgPolicies).where(eq(orgPolicies.orgId, orgId)).get());
}

/** The row for `policies`, normalized: lead times distinct and descending, "required" implied by a maximum. */
export function policyRow(orgId: string, p: OrgPolicies, now: number): PolicyRow {
  const l = p.lifetime;
  return {
    orgId,
    orgMaxDays: l.org.maxLifetimeDays,
    groupMaxDays: l.group.maxLifetimeDays,
    personalMaxDays: l.personal.maxLifetimeDays,
    orgExpiryRequired: l.org.expiryRequired || l.org.maxLifetimeDays !== null,
    groupExpiryRequired: l.group.expiryRequired || l.group.maxLifetimeDays !== null,
    personalExpiryRequired: l.personal.expiryRequired || l.personal.maxLifetimeDays !== null,
    personalPermissionSets: p.personalPermissionSets === null ? null : [...new Set(p.personalPermissionSets)].sort(),
    expiryNoticeDays: [...new Set(p.expiryNoticeDays)].sort((a, b) => b - a),
    updatedAt: now,
  };
}

/** The refusal: 422 `policy_violation` naming the policy and its limit, in the management envelope. */
export function policyViolation(message: string, policy: string, limit: unknown): AppError {
  return new AppError("policy_violation", message, { policy, limit });
}

/** What a token about to get a secret (created, copied or regenerated) would be. */
export interface IssuedToken {
  kind: TokenKind;
  expiresAt: number | null;
  permissionSetId: string | null;
}

/**
 * Throws `policy_violation` when the token would break the organization's policies: an expiry required
 * and none given, an expiry beyond the maximum lifetime counted from `now` (when the secret is issued),
 * or a personal token outside the allowed permission sets.
 */
export function assertWithinPolicy(policies: OrgPolicies, token: IssuedToken, now: number): void {
  const rule = policies.lifetime[token.kind];
  const policy = `lifetime.${token.kind}`;
  if (rule.expiryRequired && token.expiresAt === null) {
    throw policyViolation(
      `This organization requires ${token.kind} tokens to expire${rule.maxLifetimeDays === null ? "" : ` within ${rule.maxLifetimeDays} days`}.`,
      `${policy}.expiryRequired`,
      rule.maxLifetimeDays === null ? true : rule.maxLifetimeDays,
    );
  }
  if (
    rule.maxLifetimeDays !== null &&
    token.expiresAt !== null &&
    token.expiresAt > now + rule.maxLifetimeDays * DAY_MS
  ) {
    throw policyViolation(
      `This organization allows ${token.kind} tokens at most ${rule.maxLifetimeDays} days: expire by ${new Date(now + rule.maxLifetimeDays * DAY_MS).toISOString().slice(0, 10)}.`,
      `${policy}.maxLifetimeDays`,
      rule.maxLifetimeDays,
    );
  }
  const sets = policies.personalPermissionSets;
  if (token.kind === "personal" && sets !== null && !(token.permissionSetId && sets.includes(token.permissionSetId))) {
    throw policyViolation(
      "This organization allows personal tokens only with one of its chosen permission sets.",
      "personalPermissionSets",
      sets,
    );
  }
}

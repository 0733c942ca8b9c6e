import { eq } from "drizzle-orm";
import { type Actor, auditInsert } from "../audit/events";
import type { Db } from "../db/client";
import { orgTwoFactorPolicies } from "../db/schema";

// An organization may require its admins (the owner, org admins, group admins) to sign in with two
// factors (docs/DESIGN.md §5). Enforced per request by `orgAccess` for console users; admin tokens are
// not people and are not affected.

export interface TwoFactorPolicy {
  requiredForAdmins: boolean;
  since: string | null;
}

export async function twoFactorPolicyOf(db: Db, orgId: string): Promise<TwoFactorPolicy> {
  const row = await db.select().from(orgTwoFactorPolicies).where(eq(orgTwoFactorPolicies.orgId, orgId)).get();
  return row
    ? { requiredForAdmins: true, since: new Date(row.requiredSince).toISOString() }
    : { requiredForAdmins: false, since: null };
}

export async function setTwoFactorPolicy(
  db: Db,
  orgId: string,
  required: boolean,
  actor: Actor,
  now: number,
): Promise<TwoFactorPolicy> {
  const before = await twoFactorPolicyOf(db, orgId);
  if (before.requiredForAdmins === required) return before;
  const change = required
    ? db.insert(orgTwoFactorPolicies).values({ orgId, requiredSince: now }).onConflictDoNothing()
    : db.delete(orgTwoFactorPolicies).where(eq(orgTwoFactorPolicies.orgId, orgId));
  await db.batch([
    change,
    auditInsert(
      db,
      actor,
      {
        orgId,
        action: "org.two_factor_policy_changed",
        targetType: "org",
        targetId: orgId,
        detail: { requiredForAdmins: { before: before.requiredForAdmins, after: required } },
      },
      now,
    ),
  ]);
  return twoFactorPolicyOf(db, orgId);
}

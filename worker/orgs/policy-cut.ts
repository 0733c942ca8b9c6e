import { and, eq, gt, inArray, isNull, or, type SQL, sql } from "drizzle-orm";
import { type Actor, auditInsert } from "../audit/events";
import type { Db } from "../db/client";
import { database } from "../db/client";
import { orgPolicies, permissionSets, tokens } from "../db/schema";
import { AppError } from "../errors";
import { DAY_MS } from "../limits";
import { type CacheRefreshEnv, commitWithCacheRefresh } from "../tokens/structure-refresh";
import { type OrgPolicies, policiesOf, policyRow } from "./policies";

/*
 * A lifetime policy at use (docs/DESIGN.md §2, "Policies"). Verification pays nothing for it: when a policy
 * is saved, every live token of the organization whose lifetime it limits gets its effective expiry,
 * `expires_at`, set to the cut (its secret's issue time plus the kind's maximum) when that is earlier than
 * its own expiry, which `own_expires_at` keeps (`expiry_cut` says which). A relaxed or removed policy gives
 * the token back its own expiry, or a later cut. The cache entries of the tokens whose expiry moved are
 * rewritten through the structure refresh (`commitWithCacheRefresh`: 200 inline, the rest on the fan-out
 * queue), so a cut reaches every location within the revocation bound plus the queue's delivery time, and a
 * cut in the past stops the token at once. Tokens already expired, revoked or deleted are left as they are.
 */

/** The token's own expiry, whether or not a cut stands in for it. */
const own = sql`CASE WHEN ${tokens.expiryCut} THEN ${tokens.ownExpiresAt} ELSE ${tokens.expiresAt} END`;

/** The kind's maximum in milliseconds, or NULL. */
function maxMs(p: OrgPolicies): SQL {
  const ms = (days: number | null) => (days === null ? null : days * DAY_MS);
  return sql`CASE ${tokens.kind} WHEN 'org' THEN ${ms(p.lifetime.org.maxLifetimeDays)} WHEN 'group' THEN ${ms(p.lifetime.group.maxLifetimeDays)} WHEN 'personal' THEN ${ms(p.lifetime.personal.maxLifetimeDays)} END`;
}

function cutSql(p: OrgPolicies) {
  const cut = sql`(coalesce(${tokens.regeneratedAt}, ${tokens.createdAt}) + ${maxMs(p)})`;
  // SQLite: a comparison with NULL is NULL, so a kind without a maximum never cuts.
  const applies = sql`(${cut} IS NOT NULL AND (${own} IS NULL OR ${cut} < ${own}))`;
  const effective = sql`CASE WHEN ${applies} THEN ${cut} ELSE ${own} END`;
  return { applies, effective };
}

/** The live tokens of the organization whose effective expiry (or its "cut" mark) the policy changes. */
function movedWhere(orgId: string, p: OrgPolicies, now: number): SQL {
  const { applies, effective } = cutSql(p);
  return and(
    eq(tokens.orgId, orgId),
    isNull(tokens.revokedAt),
    or(isNull(tokens.expiresAt), gt(tokens.expiresAt, now)),
    sql`(${effective} IS NOT ${tokens.expiresAt} OR ${applies} IS NOT ${tokens.expiryCut})`,
  )!;
}

async function assertSetsExist(db: Db, ids: string[] | null): Promise<void> {
  if (ids === null || ids.length === 0) return;
  const found = await db.select({ id: permissionSets.id }).from(permissionSets).where(inArray(permissionSets.id, ids));
  const unknown = ids.filter((id) => !found.some((f) => f.id === id));
  if (unknown.length > 0)
    throw new AppError("validation_failed", "Unknown permission set.", {
      fields: { personalPermissionSets: `not in the catalog: ${unknown.join(", ")}` },
    });
}

export interface SavedPolicies {
  policies: OrgPolicies;
  /** Live tokens whose effective expiry the save moved (cut, or given back). */
  tokensMoved: number;
}

/** Saves the organization's policies, moves the effective expiries they change, and audits `org.policies_updated`. */
export async function savePolicies(
  env: CacheRefreshEnv,
  orgId: string,
  policies: OrgPolicies,
  actor: Actor,
  now: number,
): Promise<SavedPolicies> {
  const db = database(env.d1);
  await assertSetsExist(db, policies.personalPermissionSets);
  const row = policyRow(orgId, policies, now);
  const saved = policiesOf(row);
  const { applies, effective } = cutSql(saved);
  const where = movedWhere(orgId, saved, now);
  const { orgId: _, ...fields } = row;
  const report = await commitWithCacheRefresh(
    env,
    orgId,
    { matching: where },
    [
      db.insert(orgPolicies).values(row).onConflictDoUpdate({ target: orgPolicies.orgId, set: fields }),
      // Disabled tokens are cut too (the refresh skips them: enabling rewrites their entry). Notices start over
      // for the new date. Every SET reads the row as it was, so `applies` and `effective` agree.
      db
        .update(tokens)
        .set({
          ownExpiresAt: sql`CASE WHEN ${applies} THEN ${own} END`,
          expiryCut: sql`${applies}`,
          expiresAt: sql`${effective}`,
          notifiedDays: null,
          // When the cut was saved: retention counts a token the cut stopped from here (worker/cron/retention.ts).
          updatedAt: now,
          version: sql`${tokens.version} + 1`,
        })
        .where(where),
      auditInsert(
        db,
        actor,
        { orgId, action: "org.policies_updated", targetType: "org", targetId: orgId, detail: { ...saved } },
        now,
      ),
    ],
    now,
  );
  return { policies: saved, tokensMoved: report.affected };
}

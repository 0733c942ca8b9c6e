import type { Db } from "../db/client";
import { auditEvents } from "../db/schema";
import { log } from "../observability/log";

/** Who did it: a console user, an admin token, or Tessera itself (the cron jobs, leak reports). */
export interface Actor {
  type: "user" | "token" | "system";
  id: string | null;
  ip: string | null;
}

export const SYSTEM_ACTOR: Actor = { type: "system", id: null, ip: null };

/**
 * Every action an audit event may record: the closed list the console's labels (ui/src/audit-labels.ts)
 * must cover, so a new action without words on screen fails the typecheck. Events written before an
 * action was renamed keep their old name; the console shows an unknown name as it is.
 */
export const AUDIT_ACTIONS = [
  "setup.completed",
  "org.created",
  "org.updated",
  "group.created",
  "group.updated",
  "group.deleted",
  "project.created",
  "project.updated",
  "project.deleted",
  "member.added",
  "member.invited",
  "member.updated",
  "member.removed",
  "invitation.accepted",
  "invitation.revoked",
  "user.created",
  "user.password_changed",
  "user.password_reset_issued",
  "user.password_reset",
  "session.login",
  "session.login_failed",
  "session.logout",
  "session.sudo",
  "session.sudo_failed",
  "session.password_change_failed",
  "token.created",
  "token.updated",
  "token.regenerated",
  "token.disabled",
  "token.enabled",
  "token.revoked",
  "token.deleted",
  "token.expired",
  "token.purged",
  "token.erased",
  "token.expiry_notice",
  "token.leaked",
  "webhook.leak_alert",
  "upstream.created",
  "upstream.updated",
  "upstream.deleted",
  "upstream.secret_rotated",
  "permission.created",
  "permission.updated",
  "permission.deleted",
  "permission_set.created",
  "permission_set.updated",
  "permission_set.deleted",
  "org.two_factor_policy_changed",
  "session.others_revoked",
  "session.revoked",
  "session.two_factor_failed",
  "token.rotated",
  "token.grace_ended",
  "user.recovery_code_used",
  "user.recovery_codes_regenerated",
  "user.two_factor_disabled",
  "user.two_factor_enabled",
  "jobs.run",
  "token.kept",
  "token.purge_warning",
  "org.policies_updated",
  "webhook.events_updated",
  "webhook.redelivered",
] as const;
export type AuditAction = (typeof AUDIT_ACTIONS)[number];

export interface AuditEvent {
  orgId: string | null;
  action: AuditAction;
  targetType?: string | null;
  targetId?: string | null;
  detail?: Record<string, unknown>;
}

/**
 * One log line per audited change, once it is committed: who, what and on what, never the event's
 * `detail` (names, emails) or the actor's address. `count` when one change records many rows (a bulk revoke).
 */
export function logAudited(actor: Actor, event: Omit<AuditEvent, "detail"> & { count?: number }): void {
  log.info("audit.recorded", {
    action: event.action,
    orgId: event.orgId,
    actorType: actor.type,
    actorId: actor.id,
    targetType: event.targetType ?? null,
    targetId: event.targetId ?? null,
    count: event.count,
  });
}

// The inserts `auditInsert` made that no batch has committed yet; `database()` logs them after its batch.
const uncommitted = new WeakMap<object, () => void>();

/** Logs the audited changes among `statements`, which a D1 batch (one transaction) has just committed. */
export function logCommittedAudits(statements: readonly object[]): void {
  for (const statement of statements) uncommitted.get(statement)?.();
}

/** The insert, unexecuted, so callers put it in the same D1 batch (one transaction) as the change it records. */
export function auditInsert(db: Db, actor: Actor, event: AuditEvent, now: number) {
  const insert = db.insert(auditEvents).values({
    orgId: event.orgId,
    at: now,
    actorType: actor.type,
    actorId: actor.id,
    action: event.action,
    targetType: event.targetType ?? null,
    targetId: event.targetId ?? null,
    ip: actor.ip,
    detail: event.detail ?? {},
  });
  uncommitted.set(insert, () => logAudited(actor, event));
  return insert;
}

export async function writeAudit(db: Db, actor: Actor, event: AuditEvent, now: number): Promise<void> {
  await auditInsert(db, actor, event, now);
  logAudited(actor, event);
}

import type { Db } from "../db/client";
import { auditEvents } from "../db/schema";

/** Who did it: a console user, an admin token, or Tessera itself (the cron jobs, leak reports). */
export interface Actor {
  type: "user" | "token" | "system";
  id: string | null;
  ip: string | null;
}

export const SYSTEM_ACTOR: Actor = { type: "system", id: null, ip: null };

export interface AuditEvent {
  orgId: string | null;
  action: string;
  targetType?: string | null;
  targetId?: string | null;
  detail?: Record<string, unknown>;
}

/** The insert, unexecuted, so callers put it in the same D1 batch (one transaction) as the change it records. */
export function auditInsert(db: Db, actor: Actor, event: AuditEvent, now: number) {
  return db.insert(auditEvents).values({
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
}

export async function writeAudit(db: Db, actor: Actor, event: AuditEvent, now: number): Promise<void> {
  await auditInsert(db, actor, event, now);
}

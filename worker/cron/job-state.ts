import { and, eq, isNull, lte, or } from "drizzle-orm";
import { database } from "../db/client";
import { jobState } from "../db/schema";
import type { D1 } from "../db/session";
import { CRON_LEASE_MS } from "./schedule";

export const JOB_NAMES = ["expiry", "notices", "purge", "grace", "webhooks", "retention"] as const;
export type JobName = (typeof JOB_NAMES)[number];

/** What a job's last run did: kept in `job_state.last_summary`, shown by `GET /api/jobs`. */
export interface JobSummary {
  runId: string;
  trigger: "cron" | "manual";
  startedAt: string;
  durationMs: number;
  /** False when the run stopped on its budget with work left: the next run resumes from the cursor. */
  done: boolean;
  counts: Record<string, number>;
  errors: string[];
}

export interface JobStatus {
  name: JobName;
  lastRunAt: string | null;
  /** A run holds the job's lease right now. */
  running: boolean;
  summary: JobSummary | null;
}

/**
 * Takes the job's lease, or answers null when another run holds it. The conditional UPDATE is the lock:
 * D1 runs statements one at a time, so of two runs racing here exactly one changes the row.
 * Answers the cursor the last run left.
 */
export async function acquireLease(
  d1: D1,
  name: JobName,
  owner: string,
  now: number,
): Promise<{ cursor: string | null } | null> {
  const db = database(d1);
  const [, taken] = await db.batch([
    db.insert(jobState).values({ name }).onConflictDoNothing(),
    db
      .update(jobState)
      .set({ leaseUntil: now + CRON_LEASE_MS, leaseOwner: owner })
      .where(and(eq(jobState.name, name), or(isNull(jobState.leaseUntil), lte(jobState.leaseUntil, now))))
      .returning({ cursor: jobState.cursor }),
  ]);
  return taken[0] ?? null;
}

/** Records the run's outcome and frees the lease, if this run still holds it. */
export async function releaseLease(
  d1: D1,
  name: JobName,
  owner: string,
  cursor: string | null,
  summary: JobSummary,
  now: number,
): Promise<void> {
  await database(d1)
    .update(jobState)
    .set({
      leaseUntil: null,
      leaseOwner: null,
      cursor,
      lastRunAt: now,
      lastSummary: summary as unknown as Record<string, unknown>,
    })
    .where(and(eq(jobState.name, name), eq(jobState.leaseOwner, owner)));
}

/** Every job with its last run, in the order the runner runs them. */
export async function jobStatuses(d1: D1, now: number): Promise<JobStatus[]> {
  const rows = await database(d1).select().from(jobState);
  const byName = new Map(rows.map((r) => [r.name, r]));
  return JOB_NAMES.map((name) => {
    const row = byName.get(name);
    return {
      name,
      lastRunAt: row?.lastRunAt ? new Date(row.lastRunAt).toISOString() : null,
      running: row?.leaseUntil != null && row.leaseUntil > now,
      summary: (row?.lastSummary as JobSummary | null | undefined) ?? null,
    };
  });
}

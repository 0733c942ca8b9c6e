import type { D1 } from "../db/session";
import type { RunBudget } from "./budget";
import type { JobName } from "./job-state";

/*
 * The jobs select a chunk of ids with a scan that walks an index, then act on exactly those ids with
 * the due condition repeated (so a row that changed in between is left alone). In the id-list
 * statements every column of that condition is written `+column`: the unary plus keeps SQLite from
 * choosing the column's index over the primary key. D1 has no ANALYZE statistics, and without the plus
 * the planner walked the whole purge index for each chunk: 50 ms instead of 1 ms per 50 tokens at
 * 100,000 tokens.
 */

export type CronEnv = Pick<Env, "DB" | "TOKEN_CACHE" | "PURGE_UNUSED_AFTER_DAYS">;

/** What a job runs with: the bindings and the run's D1 session, which starts at the primary (every job writes). */
export type JobEnv = CronEnv & { d1: D1 };

export interface JobRun {
  env: JobEnv;
  /** One instant for the whole run, so every job and statement agrees on what is due. */
  now: number;
  budget: RunBudget;
  /** Where the last run stopped (job-specific), null to start from the beginning. */
  cursor: string | null;
}

export interface JobOutcome {
  /** False when the budget ran out with work left. */
  done: boolean;
  counts: Record<string, number>;
  errors: string[];
  /** Stored for the next run. */
  cursor: string | null;
}

export interface CronJob {
  name: JobName;
  run(job: JobRun): Promise<JobOutcome>;
}

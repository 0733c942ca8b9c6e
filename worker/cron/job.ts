import type { RunBudget } from "./budget";
import type { JobName } from "./job-state";

export type CronEnv = Pick<Env, "DB" | "TOKEN_CACHE" | "PURGE_UNUSED_AFTER_DAYS">;

export interface JobRun {
  env: CronEnv;
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

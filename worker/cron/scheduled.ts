import { type Clock, systemClock } from "../clock";
import { RunBudget } from "./budget";
import { expiryJob } from "./expiry";
import type { CronEnv, CronJob } from "./job";
import { acquireLease, type JobName, type JobSummary, releaseLease } from "./job-state";
import { noticesJob } from "./notices";
import { purgeJob } from "./purge";
import { retentionJob } from "./retention";

// Expiry first: retention erases expired tokens only once their `token.expired` event exists.
const JOBS: CronJob[] = [expiryJob, noticesJob, purgeJob, retentionJob];

export type JobReport = { name: JobName; skipped: string } | ({ name: JobName } & JobSummary);

export interface RunReport {
  runId: string;
  trigger: JobSummary["trigger"];
  startedAt: string;
  jobs: JobReport[];
}

export interface RunOptions {
  clock?: Clock;
  trigger?: JobSummary["trigger"];
  /** A test's own budget; production uses `RUN_LIMITS`. */
  budget?: RunBudget;
}

/**
 * Runs every job once under one budget. Each job holds its own lease while it runs, so an
 * overlapping run (a slow one meeting the next trigger, or a manual run) skips what is taken and
 * does the rest. A job that throws is recorded and the others still run.
 */
export async function runCronJobs(env: CronEnv, options: RunOptions = {}): Promise<RunReport> {
  const clock = options.clock ?? systemClock;
  const trigger = options.trigger ?? "cron";
  const budget = options.budget ?? new RunBudget();
  const runId = crypto.randomUUID();
  const now = clock();
  const report: RunReport = { runId, trigger, startedAt: new Date(now).toISOString(), jobs: [] };

  for (const job of JOBS) {
    const lease = await acquireLease(env.DB, job.name, runId, now);
    if (!lease) {
      report.jobs.push({ name: job.name, skipped: "another run holds this job's lease" });
      continue;
    }
    const started = performance.now();
    let summary: JobSummary;
    let cursor = lease.cursor;
    try {
      const outcome = await job.run({ env, now, budget, cursor });
      cursor = outcome.cursor;
      summary = { runId, trigger, startedAt: report.startedAt, durationMs: 0, done: outcome.done, counts: outcome.counts, errors: outcome.errors };
    } catch (err) {
      // The cursor stays where the last good run left it; the conditional statements make the retry safe.
      console.error(`tessera: cron job ${job.name} failed: ${(err as Error).message}`);
      summary = { runId, trigger, startedAt: report.startedAt, durationMs: 0, done: false, counts: {}, errors: [`the job stopped: ${(err as Error).message}`] };
    }
    summary.durationMs = Math.round(performance.now() - started);
    await releaseLease(env.DB, job.name, runId, cursor, summary, clock());
    report.jobs.push({ name: job.name, ...summary });
  }
  return report;
}

/** One log line per run: what each job did (counts above zero), whether work is left, and errors. */
function logLine(report: RunReport): string {
  const parts = report.jobs.map((j) => {
    if ("skipped" in j) return `${j.name} skipped (lease held)`;
    const counts = Object.entries(j.counts).filter(([, n]) => n > 0).map(([k, n]) => `${k}=${n}`);
    const tail = `${j.done ? "" : ", more next run"}${j.errors.length ? `, ${j.errors.length} error(s): ${j.errors[0]}` : ""}`;
    return `${j.name} ${counts.join(" ") || "nothing due"}${tail}`;
  });
  return `tessera: ${report.trigger} run of the cron jobs ${report.runId}: ${parts.join("; ")}`;
}

/** The cron trigger (every 15 minutes, `[triggers]` in wrangler.toml). */
export async function runScheduled(_controller: ScheduledController, env: Env, _ctx: ExecutionContext): Promise<void> {
  console.log(logLine(await runCronJobs(env)));
}

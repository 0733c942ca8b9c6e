import { type Clock, systemClock } from "../clock";
import { type D1, primarySession } from "../db/session";
import { log } from "../observability/log";
import { errorKind } from "../util/error-kind";
import { RunBudget } from "./budget";
import { expiryJob } from "./expiry";
import { graceJob } from "./grace";
import type { CronEnv, CronJob, JobEnv } from "./job";
import { acquireLease, type JobName, type JobSummary, releaseLease } from "./job-state";
import { noticesJob } from "./notices";
import { purgeJob } from "./purge";
import { retentionJob } from "./retention";
import { webhooksJob } from "./webhooks";

// Expiry first: retention erases expired tokens only once their `token.expired` event exists. Webhook
// events after the jobs that queue them, so this run's `token.expired`, `token.purged` and `token.grace_ended` go out now.
const JOBS: CronJob[] = [expiryJob, noticesJob, purgeJob, graceJob, webhooksJob, retentionJob];

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
  /**
   * The session the run reads and writes through; a manual run passes its request's, so the console's
   * next read (with the answer's bookmark) sees what the run did. By default one at the primary.
   */
  d1?: D1;
}

// Summaries are logged and stored: the kind of failure, never a message that could hold a query's values.
const messageOf = errorKind;

interface RunContext {
  env: JobEnv;
  clock: Clock;
  budget: RunBudget;
  runId: string;
  trigger: JobSummary["trigger"];
  now: number;
  startedAt: string;
}

/** One job under its lease. Never throws: a failure is the job's summary, and the next run retries it. */
async function runJob(job: CronJob, run: RunContext): Promise<JobReport> {
  let lease: { cursor: string | null } | null;
  try {
    lease = await acquireLease(run.env.d1, job.name, run.runId, run.now);
  } catch (err) {
    log.error("store.error", { store: "d1", op: "cron.lease", job: job.name, runId: run.runId, error: messageOf(err) });
    return { name: job.name, skipped: `the lease could not be taken: ${messageOf(err)}` };
  }
  if (!lease) {
    log.info("cron.job", { runId: run.runId, trigger: run.trigger, job: job.name, skipped: "lease_held" });
    return { name: job.name, skipped: "another run holds this job's lease" };
  }

  const started = performance.now();
  const base = { runId: run.runId, trigger: run.trigger, startedAt: run.startedAt };
  let summary: JobSummary;
  let cursor = lease.cursor;
  try {
    const outcome = await job.run({ env: run.env, now: run.now, budget: run.budget, cursor });
    cursor = outcome.cursor;
    summary = { ...base, durationMs: 0, done: outcome.done, counts: outcome.counts, errors: outcome.errors };
  } catch (err) {
    // The cursor stays where the last good run left it; the conditional statements make the retry safe.
    summary = { ...base, durationMs: 0, done: false, counts: {}, errors: [`the job stopped: ${messageOf(err)}`] };
  }
  summary.durationMs = Math.round(performance.now() - started);
  try {
    await releaseLease(run.env.d1, job.name, run.runId, cursor, summary, run.clock());
  } catch (err) {
    // The lease runs out on its own before the next trigger; only this summary is lost.
    log.error("store.error", {
      store: "d1",
      op: "cron.record",
      job: job.name,
      runId: run.runId,
      error: messageOf(err),
    });
  }
  (summary.errors.length > 0 ? log.error : log.info)("cron.job", {
    runId: run.runId,
    trigger: run.trigger,
    job: job.name,
    durationMs: summary.durationMs,
    done: summary.done,
    counts: summary.counts,
    errors: summary.errors.length,
    firstError: summary.errors[0],
  });
  return { name: job.name, ...summary };
}

/**
 * Runs every job once under one budget. Each job holds its own lease while it runs, so an
 * overlapping run (a slow one meeting the next trigger, or a manual run) skips what is taken and
 * does the rest. A job that fails is recorded and the others still run.
 */
export async function runCronJobs(env: CronEnv, options: RunOptions = {}): Promise<RunReport> {
  const clock = options.clock ?? systemClock;
  const now = clock();
  const run: RunContext = {
    env: { ...env, d1: options.d1 ?? primarySession(env.DB) },
    clock,
    budget: options.budget ?? new RunBudget(),
    runId: crypto.randomUUID(),
    trigger: options.trigger ?? "cron",
    now,
    startedAt: new Date(now).toISOString(),
  };
  const report: RunReport = { runId: run.runId, trigger: run.trigger, startedAt: run.startedAt, jobs: [] };
  const started = performance.now();
  for (const job of JOBS) report.jobs.push(await runJob(job, run));
  // One line per run besides the jobs' own: how long the whole run took, and how many jobs need attention.
  const ran = report.jobs.filter((j): j is Extract<JobReport, { done: boolean }> => !("skipped" in j));
  log.info("cron.run", {
    runId: run.runId,
    trigger: run.trigger,
    durationMs: Math.round(performance.now() - started),
    jobs: report.jobs.length,
    skipped: report.jobs.length - ran.length,
    unfinished: ran.filter((j) => !j.done).length,
    failed: ran.filter((j) => j.errors.length > 0).length,
  });
  return report;
}

/** The cron trigger (every 15 minutes, `[triggers]` in wrangler.toml); `runCronJobs` logs what it did. */
export async function runScheduled(_controller: ScheduledController, env: Env, _ctx: ExecutionContext): Promise<void> {
  await runCronJobs(env);
}

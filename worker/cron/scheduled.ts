import { type Clock, systemClock } from "../clock";
import { type D1, primarySession } from "../db/session";
import { errorKind } from "../util/error-kind";
import { RunBudget } from "./budget";
import { expiryJob } from "./expiry";
import type { CronEnv, CronJob, JobEnv } from "./job";
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
    console.error(`tessera: cron job ${job.name} could not take its lease: ${messageOf(err)}`);
    return { name: job.name, skipped: `the lease could not be taken: ${messageOf(err)}` };
  }
  if (!lease) return { name: job.name, skipped: "another run holds this job's lease" };

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
    console.error(`tessera: cron job ${job.name} failed: ${messageOf(err)}`);
    summary = { ...base, durationMs: 0, done: false, counts: {}, errors: [`the job stopped: ${messageOf(err)}`] };
  }
  summary.durationMs = Math.round(performance.now() - started);
  try {
    await releaseLease(run.env.d1, job.name, run.runId, cursor, summary, run.clock());
  } catch (err) {
    // The lease runs out on its own before the next trigger; only this summary is lost.
    console.error(`tessera: cron job ${job.name} could not record its run: ${messageOf(err)}`);
  }
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
  for (const job of JOBS) report.jobs.push(await runJob(job, run));
  return report;
}

/** One log line per run: what each job did (counts above zero), whether work is left, and errors. */
function logLine(report: RunReport): string {
  const parts = report.jobs.map((j) => {
    if ("skipped" in j) return `${j.name} skipped (${j.skipped})`;
    const counts = Object.entries(j.counts)
      .filter(([, n]) => n > 0)
      .map(([k, n]) => `${k}=${n}`);
    const tail = `${j.done ? "" : ", more next run"}${j.errors.length ? `, ${j.errors.length} error(s): ${j.errors[0]}` : ""}`;
    return `${j.name} ${counts.join(" ") || "nothing due"}${tail}`;
  });
  return `tessera: ${report.trigger === "cron" ? "scheduled" : "manual"} run ${report.runId} of the cron jobs: ${parts.join("; ")}`;
}

/** The cron trigger (every 15 minutes, `[triggers]` in wrangler.toml). */
export async function runScheduled(_controller: ScheduledController, env: Env, _ctx: ExecutionContext): Promise<void> {
  console.log(logLine(await runCronJobs(env)));
}

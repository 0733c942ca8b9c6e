import { Hono } from "hono";
import { writeAudit } from "../../audit/events";
import { actorOf, ownerOnly } from "../../auth/guards";
import { jobStatuses } from "../../cron/job-state";
import { runCronJobs } from "../../cron/scheduled";
import type { AppEnv } from "../../env";
import { dbOf, nowOf, sessionOf } from "../../http/context";

/**
 * The cron jobs, for the instance owner: what each one's last run did, and a way to run them all now
 * (the same code and budget as the trigger; a job whose lease another run holds is reported skipped).
 * Running them needs no sudo: it kills only tokens the next trigger would kill anyway.
 */
export const jobRoutes = new Hono<AppEnv>()
  .get("/", ownerOnly, async (c) => {
    return c.json({ items: await jobStatuses(sessionOf(c), nowOf(c)), next: null });
  })
  .post("/run", ownerOnly, async (c) => {
    const report = await runCronJobs(c.env, { trigger: "manual", d1: sessionOf(c) });
    const ran = report.jobs.map((j) =>
      "skipped" in j ? { name: j.name, skipped: true } : { name: j.name, done: j.done, counts: j.counts },
    );
    await writeAudit(
      dbOf(c),
      actorOf(c),
      { orgId: null, action: "jobs.run", detail: { runId: report.runId, jobs: ran } },
      nowOf(c),
    );
    return c.json(report);
  });

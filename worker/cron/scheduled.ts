/** Replaced by the cron jobs (issue 4). */
export async function runScheduled(_controller: ScheduledController, _env: Env, _ctx: ExecutionContext): Promise<void> {}

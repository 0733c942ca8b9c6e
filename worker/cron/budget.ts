import { CRON_MAX_D1_QUERIES, CRON_MAX_KV_OPERATIONS, CRON_MAX_WEBHOOKS, CRON_TIME_BUDGET_MS } from "./schedule";

export interface Cost {
  d1?: number;
  kv?: number;
  webhooks?: number;
}

export interface BudgetLimits {
  d1: number;
  kv: number;
  webhooks: number;
  timeMs: number;
}

export const RUN_LIMITS: BudgetLimits = {
  d1: CRON_MAX_D1_QUERIES,
  kv: CRON_MAX_KV_OPERATIONS,
  webhooks: CRON_MAX_WEBHOOKS,
  timeMs: CRON_TIME_BUDGET_MS,
};

/**
 * What one invocation may still spend. Jobs ask before each chunk with its worst-case cost, so a run
 * never crosses the platform's per-invocation limits; whatever is left over waits for the next run.
 * Time is read from `performance.now()`, not `Date`, so a test's fake clock does not freeze it.
 */
export class RunBudget {
  readonly spent = { d1: 0, kv: 0, webhooks: 0 };
  private readonly startedAt = performance.now();

  constructor(private readonly limits: BudgetLimits = RUN_LIMITS) {}

  fits(cost: Cost): boolean {
    return (
      this.spent.d1 + (cost.d1 ?? 0) <= this.limits.d1 &&
      this.spent.kv + (cost.kv ?? 0) <= this.limits.kv &&
      this.spent.webhooks + (cost.webhooks ?? 0) <= this.limits.webhooks &&
      performance.now() - this.startedAt < this.limits.timeMs
    );
  }

  spend(cost: Cost): void {
    this.spent.d1 += cost.d1 ?? 0;
    this.spent.kv += cost.kv ?? 0;
    this.spent.webhooks += cost.webhooks ?? 0;
  }
}

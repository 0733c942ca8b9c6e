import type { Context } from "hono";
import { AppError } from "../../errors";

/** Runs a throttled check; when it refuses, the answer also carries `Retry-After` for clients that honour it. */
export async function withRetryAfter<T>(c: Context, work: Promise<T>): Promise<T> {
  try {
    return await work;
  } catch (err) {
    if (err instanceof AppError && err.code === "rate_limited") {
      const seconds = (err.details as { retryAfter?: number } | undefined)?.retryAfter;
      if (seconds !== undefined) c.header("Retry-After", String(seconds));
    }
    throw err;
  }
}

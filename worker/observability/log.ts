import { tryGetContext } from "hono/context-storage";
import type { AppEnv } from "../env";
import { requestIdOf } from "../http/context";

// One JSON object per line: Workers Logs indexes the fields of a logged object, so a line can be
// filtered by `event`, `code` or `requestId` in the dashboard (docs/OBSERVABILITY.md lists them).
// Fields are ids, codes, counts, durations and error kinds (worker/util/error-kind.ts), never a
// secret, a password, a token hash, a message or a bound SQL value: the types keep values flat so
// no object (a row, a request, an error) can be logged whole.

/** Every event a line can name; docs/OBSERVABILITY.md describes each one and its fields. */
export const LOG_EVENTS = [
  "verify.failed",
  "store.error",
  "cache.left_to_expire",
  "queue.batch",
  "queue.send_failed",
  "cron.job",
  "cron.run",
  "audit.recorded",
  "gateway.upstream_failed",
  "leak.alert_failed",
  "webhook.failed",
  "webhook.gave_up",
  "leak.key_unusable",
  "config.invalid",
  "request.unhandled",
] as const;
export type LogEvent = (typeof LOG_EVENTS)[number];

/** Flat values; a record of numbers (a cron job's counts) is the one nesting allowed. */
export type LogValue =
  | string
  | number
  | boolean
  | null
  | undefined
  | readonly string[]
  | Readonly<Record<string, number>>;
/** `event` and `requestId` are the logger's own. */
export type LogFields = Record<string, LogValue> & { event?: never; requestId?: never };

/** The id of the request being answered (worker/http/context.ts), when there is one (not in cron or RPC). */
function currentRequestId(): string | undefined {
  const c = tryGetContext<AppEnv>();
  return c === undefined ? undefined : requestIdOf(c);
}

/** The logger's methods; `log` below finds the request itself, `loggerFor` is told it. */
export interface Logger {
  info: (event: LogEvent, fields?: LogFields) => void;
  warn: (event: LogEvent, fields?: LogFields) => void;
  error: (event: LogEvent, fields?: LogFields) => void;
}

function logger(requestId: () => string | undefined): Logger {
  const write = (method: "log" | "warn" | "error", event: LogEvent, fields: LogFields) => {
    const id = requestId();
    console[method](id === undefined ? { event, ...fields } : { event, requestId: id, ...fields });
  };
  return {
    info: (event, fields = {}) => write("log", event, fields),
    warn: (event, fields = {}) => write("warn", event, fields),
    error: (event, fields = {}) => write("error", event, fields),
  };
}

/**
 * The worker's logger: `log.error("store.error", { store: "d1", op: "token.lookup", error: errorKind(err) })`.
 * It finds the request through Hono's context storage, which `/v1/verify` runs without (worker/index.ts).
 */
export const log = logger(currentRequestId);

/**
 * A logger told its request's id, for the verify path: it runs outside the context storage, whose
 * `AsyncLocalStorage` cost a memory hit about 13% of its CPU (README, "Benchmarks").
 */
export const loggerFor = (requestId: () => string): Logger => logger(requestId);

// What a log line (or a cron summary, which is logged too) may say about an error. Never its
// message: drizzle writes the SQL and every bound value into it ("Failed query: … params: …"), and
// a store's own text can quote a value. The class and the store's error codes say what happened.

/** D1 starts its messages with its code ("D1_ERROR: …") and ends them with SQLite's ("…: SQLITE_FULL"). */
const D1_CODE = /^(D1_[A-Z_]+):/;
const SQLITE_CODE = /:\s*(SQLITE_[A-Z_]+)$/;

function className(err: Error): string {
  // drizzle's errors leave `name` as "Error"; their class says more.
  return err.name !== "Error" ? err.name : err.constructor?.name || "Error";
}

function codesOf(err: Error): string[] {
  const codes: string[] = [];
  const d1 = D1_CODE.exec(err.message)?.[1];
  const sqlite = SQLITE_CODE.exec(err.message)?.[1];
  if (d1) codes.push(d1);
  if (sqlite) codes.push(sqlite);
  return codes;
}

/** "DrizzleQueryError (D1_ERROR, SQLITE_CONSTRAINT)", "TypeError": the class, and the codes of the innermost cause. */
export function errorKind(err: unknown): string {
  if (!(err instanceof Error)) return typeof err;
  let innermost = err;
  for (let depth = 0; depth < 5 && innermost.cause instanceof Error; depth++) innermost = innermost.cause;
  const codes = codesOf(innermost);
  return codes.length > 0 ? `${className(err)} (${codes.join(", ")})` : className(err);
}

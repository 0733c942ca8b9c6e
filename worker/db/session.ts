/**
 * Which copy of D1 a query may read (docs/DESIGN.md §3.3). Every D1 access goes through one of these
 * sessions, never the bare binding: with read replication on, a session decides whether a read may come
 * from the nearest replica or must start at the primary; with it off, every session is the primary.
 */

/** A D1 session: what the data functions read and write through. */
export type D1 = D1DatabaseSession;

/**
 * The nearest replica, however far behind the primary: for reads that decide no write, so a stale
 * answer lives no longer than the replica's lag (the verify miss, the gateway's upstream, console reads).
 */
export function replicaRead(binding: D1Database): D1 {
  return binding.withSession("first-unconstrained");
}

/**
 * Starts at the primary: writes, and reads that decide one (a cache fill's version check, the cron jobs,
 * sign-in, sudo, every management change). Later queries of the session see at least what the first saw.
 */
export function primarySession(binding: D1Database): D1 {
  return binding.withSession("first-primary");
}

/** At least as new as `bookmark`: a console resuming after its own last write (read-your-writes). */
export function resumedSession(binding: D1Database, bookmark: string): D1 {
  return binding.withSession(bookmark);
}

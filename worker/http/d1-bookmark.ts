import { createMiddleware } from "hono/factory";
import { type D1, primarySession, replicaRead, resumedSession } from "../db/session";
import type { AppEnv } from "../env";
import { AppError } from "../errors";
import { MAX_D1_BOOKMARK_LENGTH } from "../limits";

/**
 * Read-your-writes for the console (docs/API.md, "Rules every route follows"): every `/api` answer that
 * touched D1 names the newest state it saw, and a request that sends the bookmark back reads at least that.
 */
export const D1_BOOKMARK_HEADER = "X-Tessera-D1-Bookmark";

const BOOKMARK = new RegExp(`^[0-9a-f-]{1,${MAX_D1_BOOKMARK_LENGTH}}$`, "i");
/** Methods whose request session may read a replica; every other request starts at the primary. */
export const READ_METHODS = new Set(["GET", "HEAD"]);

/**
 * A request's session (docs/DESIGN.md §3.3). A change starts at the primary whatever bookmark it carries:
 * the primary is newer than any bookmark, and the reads that decide the change must be current. A read
 * resumes the bookmark it was sent, or reads the nearest replica.
 */
export function requestSession(binding: D1Database, method: string, bookmark: string | undefined): D1 {
  if (!READ_METHODS.has(method)) return primarySession(binding);
  if (bookmark === undefined || bookmark === "") return replicaRead(binding);
  if (!BOOKMARK.test(bookmark)) {
    throw new AppError("validation_failed", `${D1_BOOKMARK_HEADER} must be a bookmark an earlier answer returned.`);
  }
  return resumedSession(binding, bookmark);
}

/** Puts the request's newest bookmark on its answer, errors included, when the request reached D1. */
export const d1Bookmark = createMiddleware<AppEnv>(async (c, next) => {
  await next();
  const bookmark = c.get("d1")?.getBookmark();
  if (bookmark) c.res.headers.set(D1_BOOKMARK_HEADER, bookmark);
});

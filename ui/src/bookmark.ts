// Read-your-writes over D1's read replicas (docs/API.md, "Rules every route follows"): every answer
// names the newest database state it saw, and the console sends the newest it has been told back, so a
// list reloaded after a change is read from a copy that has the change.

/** The worker's header (worker/http/d1-bookmark.ts); the console imports no worker code, only types. */
export const D1_BOOKMARK_HEADER = "X-Tessera-D1-Bookmark";

/**
 * `send` that remembers the newest bookmark of its answers and puts it on every request. D1's
 * bookmarks sort as strings from oldest to newest, so an answer read before a change (carrying an
 * older one) never takes the console back.
 */
export function bookmarkedFetch(send: typeof fetch = (input, init) => fetch(input, init)): typeof fetch {
  let newest: string | null = null;
  return async (input, init) => {
    const headers = new Headers(init?.headers);
    if (newest !== null) headers.set(D1_BOOKMARK_HEADER, newest);
    const res = await send(input, { ...init, headers });
    const seen = res.headers.get(D1_BOOKMARK_HEADER);
    if (seen && (newest === null || seen > newest)) newest = seen;
    return res;
  };
}

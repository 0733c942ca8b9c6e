// The console's read-your-writes (ui/src/bookmark.ts): the newest bookmark an answer named goes with
// every later request, so a list reloaded after a change reads a copy that has it. DOM-free, so it runs here.
import { describe, expect, it } from "vitest";
import { bookmarkedFetch, D1_BOOKMARK_HEADER } from "../ui/src/bookmark";
import { D1_BOOKMARK_HEADER as WORKER_HEADER } from "../worker/http/d1-bookmark";

const OLDER = "00000000-00000007-00000000-00000000000000000000000000000000";
const NEWER = "00000000-00000009-00000000-00000000000000000000000000000000";

/** A server that answers each request with the next bookmark given (none for null) and records what it was sent. */
function server(bookmarks: (string | null)[]) {
  const sent: (string | null)[] = [];
  const send: typeof fetch = async (_input, init) => {
    sent.push(new Headers(init?.headers).get(D1_BOOKMARK_HEADER));
    const next = bookmarks.shift() ?? null;
    return new Response("{}", { headers: next === null ? {} : { [D1_BOOKMARK_HEADER]: next } });
  };
  return { send, sent };
}

describe("bookmarkedFetch", () => {
  it("names the worker's header", () => {
    expect(D1_BOOKMARK_HEADER).toBe(WORKER_HEADER);
  });

  it("sends nothing at first, then the newest bookmark seen, never going back to an older one", async () => {
    const { send, sent } = server([OLDER, NEWER, OLDER, null, null]);
    const fetchWithBookmarks = bookmarkedFetch(send);
    for (let i = 0; i < 5; i++) await fetchWithBookmarks("https://tessera.test/api/me");
    expect(sent).toEqual([null, OLDER, NEWER, NEWER, NEWER]);
  });

  it("keeps the request's own headers and method", async () => {
    const seen: RequestInit[] = [];
    const fetchWithBookmarks = bookmarkedFetch(async (_input, init) => {
      seen.push(init ?? {});
      return new Response(null, { status: 204, headers: { [D1_BOOKMARK_HEADER]: NEWER } });
    });
    await fetchWithBookmarks("https://tessera.test/api/x", { method: "DELETE", headers: { "content-type": "a/b" } });
    await fetchWithBookmarks("https://tessera.test/api/x", { method: "POST", headers: { "content-type": "a/b" } });
    const second = new Headers(seen[1]!.headers);
    expect(seen[1]!.method).toBe("POST");
    expect(second.get("content-type")).toBe("a/b");
    expect(second.get(D1_BOOKMARK_HEADER)).toBe(NEWER);
  });
});

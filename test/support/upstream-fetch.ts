import { env } from "cloudflare:workers";
import { afterAll, beforeAll, beforeEach, vi } from "vitest";

/** The gateway tests' upstream: the auxiliary Worker (test/support/gateway-upstream.mjs). */
export const UPSTREAM = "https://upstream.test";
/** An upstream that fails like a dead network. */
export const UNREACHABLE = "https://unreachable.test";

/**
 * Installs, for the calling test file, a fetch spy that hands requests for UPSTREAM to its service
 * binding untouched (so what the upstream Worker reports is exactly what crossed the wire) and fails
 * those for UNREACHABLE; answers the count of upstream requests made in the current test.
 */
export function routeUpstreamFetch(): () => number {
  const realFetch = globalThis.fetch;
  let calls = 0;
  beforeAll(() => {
    vi.spyOn(globalThis, "fetch").mockImplementation((input: RequestInfo | URL, init?: RequestInit) => {
      const request = input instanceof Request && init === undefined ? input : new Request(input, init);
      const origin = new URL(request.url).origin;
      if (origin === UPSTREAM) {
        calls++;
        return env.GATEWAY_UPSTREAM.fetch(request);
      }
      if (origin === UNREACHABLE) return Promise.reject(new TypeError("Network connection lost."));
      return realFetch(input, init);
    });
  });
  afterAll(() => vi.restoreAllMocks());
  beforeEach(() => {
    calls = 0;
  });
  return () => calls;
}

import { log } from "../observability/log";
import { errorKind } from "../util/error-kind";
import { verifyFailureResponse } from "../verify/envelope";
import { clientResponseHeaders, type ForwardIdentity, upstreamRequestHeaders } from "./headers";
import { stripCarrierParams } from "./query";

/**
 * How long the upstream may take to start answering (status and headers). The body then streams
 * for as long as it lasts: a long download is not cut short. Beyond this the answer is 504.
 */
export const UPSTREAM_HEADERS_TIMEOUT_MS = 30_000;

export interface ForwardTarget {
  /** The upstream's configured origin, possibly with a base path. */
  origin: string;
  /** The raw path below `/gw/<name>`, forwarded as the client wrote it. */
  rawPath: string;
  /** The raw query string of the client's request (`URL.search`). */
  search: string;
}

/** The upstream URL: base path + raw path + the client's query without carriers, no re-encoding. */
export function upstreamUrl(target: ForwardTarget): string {
  const base = target.origin.replace(/\/+$/, "");
  const path = target.rawPath === "" ? "/" : target.rawPath;
  return `${base}${path}${stripCarrierParams(target.search)}`;
}

/**
 * Sends the request on to the upstream with its body streaming, and streams the answer back.
 * Network failures become 502 `upstream_error`, a slow upstream 504 `upstream_timeout`; any answer
 * the upstream gives, 5xx included, is passed through as it is. Redirects are passed back, not followed.
 */
export async function forward(
  request: Request,
  target: ForwardTarget,
  identity: ForwardIdentity,
  timeoutMs: number = UPSTREAM_HEADERS_TIMEOUT_MS,
): Promise<Response> {
  const method = request.method.toUpperCase();
  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort();
  }, timeoutMs);

  let answer: Response;
  try {
    answer = await fetch(
      new Request(upstreamUrl(target), {
        method,
        headers: upstreamRequestHeaders(request.headers, identity),
        body: method === "GET" || method === "HEAD" ? null : request.body,
        redirect: "manual",
        signal: controller.signal,
      }),
    );
  } catch (err) {
    if (timedOut)
      return verifyFailureResponse(
        "upstream_timeout",
        `The upstream did not answer within ${timeoutMs / 1000} seconds.`,
      );
    log.error("gateway.upstream_failed", { host: new URL(target.origin).host, error: errorKind(err) });
    return verifyFailureResponse("upstream_error", "The upstream could not be reached.");
  } finally {
    clearTimeout(timer);
  }
  return new Response(answer.body, {
    status: answer.status,
    statusText: answer.statusText,
    headers: clientResponseHeaders(answer.headers),
  });
}

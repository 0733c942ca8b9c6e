import { SESSION_COOKIE } from "../../worker/accounts/limits";
import { ORIGIN } from "./api-client";
import { countingEnv, type IoLog } from "./io";
import { viaHandler } from "./verify-client";

export interface CountedAnswer {
  status: number;
  body: any;
  log: IoLog;
  /** Wall time of the whole request, background work included. */
  ms: number;
}

/** A management call with a session cookie, through the worker with counted bindings; waits for its background work. */
export async function countedCall(
  session: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<CountedAnswer> {
  const { env: bindings, log } = countingEnv();
  const request = new Request(`${ORIGIN}${path}`, {
    method,
    headers: { cookie: `${SESSION_COOKIE}=${session}`, origin: ORIGIN, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const started = performance.now();
  const res = await viaHandler(request, bindings);
  const ms = performance.now() - started;
  const text = await res.text();
  return { status: res.status, body: text === "" ? null : JSON.parse(text), log, ms };
}

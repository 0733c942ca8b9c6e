import { env } from "cloudflare:workers";
import { countingEnv, type IoCall, type IoLog } from "./io";

/** An error a binding might throw; its message names no token (a test asserts none is ever logged). */
export class BindingDown extends Error {
  constructor(call: IoCall) {
    super(`${call.binding}.${call.op} is down (test)`);
  }
}

/** The test env whose `binding` throws on every call; the other bindings work and are counted. */
export function envWithFailing(
  binding: IoCall["binding"] | IoCall["binding"][],
  base: Env = env,
): { env: Env; log: IoLog } {
  const failing = new Set([binding].flat());
  const counted = countingEnv(base);
  counted.log.around = (call, proceed) =>
    failing.has(call.binding) ? Promise.reject(new BindingDown(call)) : proceed();
  return counted;
}

/** A limiter that refuses every call: code 9 on the first unknown token. */
export const refusingLimiter: RateLimit = { limit: async () => ({ success: false }) };

import type { VerifyCode } from "../errors";
import { mayIntrospect } from "../oauth/introspect";
import { type VerifyDeps, verifyToken } from "./core";

/**
 * A resource server verifies for many clients from one address. It may say so: it authenticates
 * itself with its own token (an admin token or one holding tokens:introspect) in this header, or the
 * RPC's `caller` option, and names the end client's address (`clientIp`). Unknown tokens are then
 * counted per end client, under the server's own higher overall cap (worker/verify/throttle.ts).
 */
export const CALLER_HEADER = "X-Tessera-Caller";

// An IPv4 or IPv6 address as text (with an IPv4 tail or a zone at most 45 characters); the network
// it belongs to is worked out by worker/http/network.ts.
const ADDRESS = /^[0-9A-Fa-f:.]{2,45}$/;

type Refusal = { ok: false; code: VerifyCode; message: string };
export type CallerOutcome = { ok: true; clientIp: string; resourceServer: string } | Refusal;

const refuse = (message: string): Refusal => ({ ok: false, code: "invalid_request", message });

/** The token of `X-Tessera-Caller: Bearer <token>`; null when absent, undefined when not in that form. */
export function callerToken(headers: Headers): string | null | undefined {
  const value = headers.get(CALLER_HEADER)?.trim();
  if (!value) return null;
  const match = /^bearer\s+(\S+)$/i.exec(value);
  return match ? match[1] : undefined;
}

/**
 * Authenticates a resource server and reads the end client's address it reports (its own address
 * when it reports none). The server's token is verified like any other, counted against the address
 * it connects from, so guessing server tokens is throttled as guessing any token is. Its failures
 * are `invalid_request` (11), never the end client's 401s: the end client's token was not judged.
 */
export async function asResourceServer(
  deps: VerifyDeps,
  token: string | undefined,
  connectingIp: string,
  reportedIp: unknown,
): Promise<CallerOutcome> {
  if (token === undefined) return refuse(`${CALLER_HEADER} must be "Bearer <resource server token>".`);
  if (reportedIp !== undefined && (typeof reportedIp !== "string" || !ADDRESS.test(reportedIp)))
    return refuse("clientIp must be the end client's IPv4 or IPv6 address.");
  const outcome = await verifyToken(deps, { token, permissions: [], project: null, clientIp: connectingIp });
  if (!outcome.ok) {
    if (outcome.code === "rate_limited" || outcome.code === "unavailable") return outcome;
    return refuse(`The resource server's own token was refused (${outcome.code}): ${outcome.message}`);
  }
  if (!mayIntrospect(outcome.token))
    return refuse("The resource server's token must be an admin token or hold tokens:introspect.");
  return { ok: true, clientIp: reportedIp ?? connectingIp, resourceServer: outcome.token.id };
}

import type { Actor } from "../audit/events";
import { revokeTokens, type TokenStoreEnv } from "../tokens/store";
import { type VerifiedToken, type VerifyDeps, verifyToken } from "../verify/core";
import { mayIntrospect, withinReach } from "./introspect";

export type RevokeOutcome =
  | { ok: true; revoked: boolean }
  | { ok: false; code: "rate_limited" | "unavailable"; message: string };

/**
 * RFC 7009 revocation of `subject`, by its own holder (`caller` null, or the caller being that very
 * token: whoever holds a leaked token can kill it without console access) or by a resource server
 * (an admin token or one holding tokens:introspect) for tokens within its reach. A token that is not
 * live, not real or out of reach is answered like a revoked one (2.2: "invalid tokens do not cause an
 * error"), so nothing about other tenants' tokens can be learned here. Revocation is audited under the
 * revoking token, and follows what the token made (worker/tokens/cascade.ts), as every revoke does.
 */
export async function revokeByOAuth(
  deps: VerifyDeps,
  store: TokenStoreEnv,
  caller: VerifiedToken | null,
  subject: string,
  clientIp: string,
  now: number,
): Promise<RevokeOutcome> {
  const outcome = await verifyToken(
    deps,
    { token: subject, permissions: [], project: null, clientIp },
    { countUse: false },
  );
  if (!outcome.ok) {
    if (outcome.code === "rate_limited" || outcome.code === "unavailable")
      return { ok: false, code: outcome.code, message: outcome.message };
    return { ok: true, revoked: false };
  }
  const token = outcome.token;
  const itself = caller === null || caller.id === token.id;
  if (!itself && !(mayIntrospect(caller) && withinReach(caller, token))) return { ok: true, revoked: false };
  const actor: Actor = { type: "token", id: (caller ?? token).id, ip: clientIp };
  const { revoked } = await revokeTokens(store, token.org.id, [token.id], actor, now);
  return { ok: true, revoked: revoked.length > 0 };
}

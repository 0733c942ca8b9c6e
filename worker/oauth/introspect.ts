import { database } from "../db/client";
import { replicaRead } from "../db/session";
import { findTokenRow } from "../tokens/views";
import { type VerifiedToken, type VerifyDeps, verifyToken } from "../verify/core";

/** The permission that lets a non-admin token introspect others (seeded in the catalog). */
export const INTROSPECT_PERMISSION = "tokens:introspect";

/** RFC 7662 2.2. Times are seconds since the epoch; `org` and `projects` are Tessera's own additions. */
export type Introspection =
  | { active: false }
  | {
      active: true;
      scope: string;
      client_id: string;
      token_type: string;
      exp?: number;
      iat: number;
      sub: string;
      iss: string;
      org: string;
      projects: "*" | string[];
    };

const INACTIVE: Introspection = { active: false };

export function mayIntrospect(caller: VerifiedToken): boolean {
  return caller.admin || caller.permissions.includes(INTROSPECT_PERMISSION);
}

/**
 * Which tokens a caller may learn about: its own organization's, and for a group token only its
 * group's. Anything else reads as inactive, so a caller cannot even tell another tenant's token is real.
 */
function withinReach(caller: VerifiedToken, subject: VerifiedToken): boolean {
  if (subject.org.id !== caller.org.id) return false;
  if (caller.kind === "group") return subject.group !== null && subject.group.id === caller.group?.id;
  return true;
}

export type IntrospectOutcome =
  | { ok: true; answer: Introspection }
  | { ok: false; code: "rate_limited" | "unavailable"; message: string };

/**
 * The answer about `subject` for an authorized caller. Every way a token can fail (missing,
 * malformed, unknown, expired, disabled, revoked, out of reach) is the same `{"active":false}`;
 * only a store outage or throttling is an error, since "inactive" would then be a guess.
 */
export async function introspect(
  deps: VerifyDeps,
  caller: VerifiedToken,
  subject: string,
  issuer: string,
  clientIp: string,
): Promise<IntrospectOutcome> {
  // Asking about a token is not using it: only the caller's token counts as used.
  const outcome = await verifyToken(
    deps,
    { token: subject === "" ? null : subject, permissions: [], project: null, clientIp },
    { countUse: false },
  );
  if (!outcome.ok) {
    if (outcome.code === "rate_limited" || outcome.code === "unavailable")
      return { ok: false, code: outcome.code, message: outcome.message };
    return { ok: true, answer: INACTIVE };
  }
  const token = outcome.token;
  if (!withinReach(caller, token)) return { ok: true, answer: INACTIVE };

  const row = await findTokenRow(database(replicaRead(deps.env.DB)), token.org.id, token.id);
  if (!row) return { ok: true, answer: INACTIVE };
  const seconds = (ms: number) => Math.floor(ms / 1000);
  return {
    ok: true,
    answer: {
      active: true,
      scope: token.permissions.join(" "),
      client_id: token.id,
      token_type: `tessera_${token.kind}`,
      ...(row.expiresAt !== null && { exp: seconds(row.expiresAt) }),
      iat: seconds(row.createdAt),
      // The person for a personal token; the service principal behind organization and group tokens.
      sub: row.userId ?? row.technicalUserId ?? token.org.id,
      iss: issuer,
      org: token.org.slug,
      projects: token.projects,
    },
  };
}

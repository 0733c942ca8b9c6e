import { eq } from "drizzle-orm";
import { database } from "../db/client";
import { users } from "../db/schema";
import { replicaRead } from "../db/session";
import { findTokenRow } from "../tokens/views";
import { type VerifiedToken, type VerifyDeps, verifyToken } from "../verify/core";

/** The permission that lets a non-admin token introspect others (seeded in the catalog). */
export const INTROSPECT_PERMISSION = "tokens:introspect";

/**
 * RFC 7662 2.2, each field in its standard meaning; times are seconds since the epoch. `kind`, `org`
 * (the organization's slug) and `projects` are Tessera's own extensions (2.2 allows them).
 */
export type Introspection =
  | { active: false }
  | {
      active: true;
      scope: string;
      /** Who the token acts for: the user of a personal token, the technical user of an org or group token. */
      client_id: string;
      /** The user's email, for personal tokens only: the one kind that names a person. */
      username?: string;
      token_type: "Bearer";
      exp?: number;
      iat: number;
      nbf: number;
      sub: string;
      /** The organization's id: the audience a token is good for. */
      aud: string;
      iss: string;
      jti: string;
      kind: VerifiedToken["kind"];
      org: string;
      projects: "*" | string[];
      /** Only when `token` is a replaced secret still in its grace period (docs/DESIGN.md §2). */
      rotation?: { oldSecret: true; until: string };
    };

const INACTIVE: Introspection = { active: false };

export function mayIntrospect(caller: VerifiedToken): boolean {
  return caller.admin || caller.permissions.includes(INTROSPECT_PERMISSION);
}

/**
 * Which tokens a caller may learn about (and revoke, worker/oauth/revoke.ts): its own organization's, and for a group token only its
 * group's. Anything else reads as inactive, so a caller cannot even tell another tenant's token is real.
 */
export function withinReach(caller: VerifiedToken, subject: VerifiedToken): boolean {
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

  const db = database(replicaRead(deps.env.DB));
  const row = await findTokenRow(db, token.org.id, token.id);
  if (!row) return { ok: true, answer: INACTIVE };
  const person =
    row.userId === null
      ? undefined
      : await db.select({ email: users.email }).from(users).where(eq(users.id, row.userId)).get();
  const seconds = (ms: number) => Math.floor(ms / 1000);
  // The person for a personal token; the service principal behind organization and group tokens.
  const owner = row.userId ?? row.technicalUserId ?? token.org.id;
  return {
    ok: true,
    answer: {
      active: true,
      scope: token.permissions.join(" "),
      client_id: owner,
      ...(person && { username: person.email }),
      token_type: "Bearer",
      ...(row.expiresAt !== null && { exp: seconds(row.expiresAt) }),
      iat: seconds(row.createdAt),
      nbf: seconds(row.createdAt),
      sub: owner,
      aud: token.org.id,
      iss: issuer,
      jti: token.id,
      kind: token.kind,
      org: token.org.slug,
      projects: token.projects,
      ...(token.rotation && { rotation: token.rotation }),
    },
  };
}

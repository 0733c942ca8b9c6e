import type { Clock } from "../clock";
import { AppError, type VerifyCode } from "../errors";
import {
  KV_READ_DEADLINE_MS,
  MAX_PERMISSION_NAME_LENGTH,
  MAX_PERMISSIONS_PER_CHECK,
  MAX_PROJECT_KEY_LENGTH,
  VERIFY_STORE_DEADLINE_MS,
} from "../limits";
import { log } from "../observability/log";
import { recordVerification, type Tier, type Verification } from "../observability/verifications";
import { fillKvEntry, readKvEntry, rememberInMemory } from "../tokens/cache";
import type { CachedToken, CacheEntry } from "../tokens/cached";
import { parseToken } from "../tokens/format";
import { hashToken } from "../tokens/hash";
import { lookupTokenByHash, tokenVersionByHash } from "../tokens/lookup";
import { memoryCache } from "../tokens/memory-cache";
import type { ProjectGrant } from "../tokens/personal-ceiling";
import { tokenStatus } from "../tokens/status";
import { recordTokenUse, usageWriteDue } from "../tokens/usage";
import { withDeadline } from "../util/deadline";
import { errorKind } from "../util/error-kind";
import { countUnknown, isThrottled } from "./throttle";

export interface VerifyDeps {
  env: Pick<
    Env,
    "DB" | "TOKEN_CACHE" | "TOKEN_PEPPER" | "UNKNOWN_TOKEN_LIMITER" | "RESOURCE_SERVER_LIMITER" | "VERIFICATIONS"
  >;
  waitUntil: (promise: Promise<unknown>) => void;
  now: Clock;
}

export interface VerifyQuery {
  /** The token from a carrier, or null when the request carried none. */
  token: string | null;
  permissions: string[];
  project: string | null;
  /** The client's address: throttled by it (code 9) and recorded among the token's last addresses. */
  clientIp: string;
  /**
   * The token id of the resource server that verifies for the client at `clientIp`, once it has
   * authenticated (worker/verify/resource-server.ts); unknown tokens are then counted per end client.
   */
  resourceServer?: string | null;
}

/** The `token` object of a successful verify answer (docs/DESIGN.md §3). */
export interface VerifiedToken {
  id: string;
  kind: CachedToken["kind"];
  name: string;
  org: { id: string; slug: string };
  group: { id: string; slug: string } | null;
  user: { id: string } | null;
  projects: "*" | string[];
  permissions: string[];
  admin: boolean;
  expiresAt: string | null;
  status: "active" | "expiring";
}

export interface VerifyOptions {
  /**
   * Whether this verification is a use of the token (its `lastUsedAt` and addresses move). Introspection
   * asks about a token without using it, so an idle token still reaches the purge.
   */
  countUse?: boolean;
}

export type VerifyOutcome = { ok: true; token: VerifiedToken } | { ok: false; code: VerifyCode; message: string };

const fail = (code: VerifyCode, message: string): VerifyOutcome => ({ ok: false, code, message });

// Names the catalog can hold: printable ASCII without spaces. Anything else cannot match and is refused.
const NAME_PATTERN = /^[\x21-\x7e]+$/;

function checkQueryShape(q: VerifyQuery): VerifyOutcome | null {
  if (q.permissions.length > MAX_PERMISSIONS_PER_CHECK) {
    return fail("invalid_request", `At most ${MAX_PERMISSIONS_PER_CHECK} permissions can be checked at once.`);
  }
  for (const p of q.permissions) {
    if (p.length === 0 || p.length > MAX_PERMISSION_NAME_LENGTH || !NAME_PATTERN.test(p)) {
      return fail("invalid_request", "A permission must be 1 to 100 printable characters without spaces.");
    }
  }
  if (
    q.project !== null &&
    (q.project.length === 0 || q.project.length > MAX_PROJECT_KEY_LENGTH || !NAME_PATTERN.test(q.project))
  ) {
    return fail("invalid_request", "A project key must be 1 to 200 printable characters without spaces.");
  }
  return null;
}

/**
 * Memory, then KV, then D1, and which of them answered. KV trouble falls through to D1; D1 trouble
 * with nothing cached fails closed.
 */
async function resolveEntry(
  deps: VerifyDeps,
  hash: string,
  q: VerifyQuery,
): Promise<{ found: CacheEntry | VerifyOutcome; tier: Tier }> {
  const counted = { clientIp: q.clientIp, resourceServer: q.resourceServer ?? null };
  const now = deps.now();
  const inMemory = memoryCache.get(hash, now);
  if (inMemory) return { found: inMemory, tier: "memory" };

  try {
    const fromKv = await withDeadline(readKvEntry(deps.env.TOKEN_CACHE, hash), KV_READ_DEADLINE_MS);
    if (fromKv) {
      rememberInMemory(hash, fromKv, now);
      return { found: fromKv, tier: "kv" };
    }
  } catch (err) {
    log.error("store.error", { store: "kv", op: "token.read", error: errorKind(err), fallback: "d1" });
  }

  if (isThrottled(counted, now)) {
    return {
      found: fail("rate_limited", "Too many unknown tokens from this client; try again in a minute."),
      tier: "none",
    };
  }

  let entry: CacheEntry;
  try {
    entry = await withDeadline(lookupTokenByHash(deps.env.DB, hash), VERIFY_STORE_DEADLINE_MS);
  } catch (err) {
    log.error("store.error", { store: "d1", op: "token.lookup", error: errorKind(err), fallback: "none" });
    return { found: fail("unavailable", "The token store is unavailable; try again shortly."), tier: "none" };
  }
  rememberInMemory(hash, entry, deps.now());
  deps.waitUntil(
    fillKvEntry(deps.env.TOKEN_CACHE, hash, entry, () => tokenVersionByHash(deps.env.DB, hash)).catch((err: Error) =>
      log.error("store.error", { store: "kv", op: "token.fill", error: errorKind(err) }),
    ),
  );
  if (!entry.token && !(await countUnknown(deps.env, counted, deps.now()))) {
    return {
      found: fail("rate_limited", "Too many unknown tokens from this client; try again in a minute."),
      tier: "d1",
    };
  }
  return { found: entry, tier: "d1" };
}

/** A personal token's permissions on one project: those it holds everywhere and what a group membership adds there. */
function heldOn(everywhere: string[], grants: ProjectGrant[], project: string): string[] {
  const more = grants.filter((g) => g.projects.includes(project)).flatMap((g) => g.permissions);
  return more.length === 0 ? everywhere : [...everywhere, ...more].sort();
}

function judge(token: CachedToken, q: VerifyQuery, now: number): VerifyOutcome {
  const status = tokenStatus(token, now);
  if (status === "revoked") return fail("token_revoked", "The token has been revoked.");
  // However the membership ended (removed, group deleted), a person's token never outlives it.
  if (token.ownerLeft) return fail("token_revoked", "The token's owner is no longer a member of its organization.");
  if (status === "expired") return fail("token_expired", "The token has expired.");
  if (status === "disabled") return fail("token_disabled", "The token is disabled.");

  const held =
    token.projectGrants === undefined || q.project === null
      ? token.permissions
      : heldOn(token.permissions, token.projectGrants, q.project);
  const missing = q.permissions.filter((p) => !held.includes(p));
  if (missing.length > 0) return fail("permission_denied", `The token lacks the permission ${missing.join(", ")}.`);

  if (q.project !== null) {
    const reach = token.projects === "*" ? token.scopeKeys : token.projects;
    if (!reach.includes(q.project)) return fail("project_out_of_scope", "The token does not cover this project.");
  }

  return {
    ok: true,
    token: {
      id: token.id,
      kind: token.kind,
      name: token.name,
      org: { id: token.orgId, slug: token.orgSlug },
      group: token.groupId ? { id: token.groupId, slug: token.groupSlug ?? "" } : null,
      user: token.userId ? { id: token.userId } : null,
      projects: token.projects,
      permissions: held,
      admin: token.admin,
      expiresAt: token.expiresAt === null ? null : new Date(token.expiresAt).toISOString(),
      status,
    },
  };
}

/** An answer given before any tier was asked. */
const early = (outcome: VerifyOutcome): Verification => ({ outcome, tier: "none", token: null });

async function decide(deps: VerifyDeps, q: VerifyQuery, { countUse = true }: VerifyOptions): Promise<Verification> {
  if (q.token === null) return early(fail("token_missing", "No token was found on the request."));
  if (!parseToken(q.token)) return early(fail("token_malformed", "The token is not a well-formed Tessera token."));
  const badShape = checkQueryShape(q);
  if (badShape) return early(badShape);

  let hash: string;
  try {
    hash = await hashToken(deps.env.TOKEN_PEPPER, q.token);
  } catch (err) {
    if (err instanceof AppError) return early(fail("unavailable", err.message));
    throw err;
  }

  const { found: resolved, tier } = await resolveEntry(deps, hash, q);
  if ("ok" in resolved) return { outcome: resolved, tier, token: null };
  if (!resolved.token) return { outcome: fail("token_unknown", "The token is not known."), tier, token: null };

  const now = deps.now();
  const outcome = judge(resolved.token, q, now);
  // Usage counts only for tokens that are alive, whatever the checks said.
  if (countUse && (outcome.ok || outcome.code === "permission_denied" || outcome.code === "project_out_of_scope")) {
    const id = resolved.token.id;
    if (usageWriteDue(id, q.clientIp, now)) {
      deps.waitUntil(
        recordTokenUse(deps.env.DB, id, q.clientIp, now).catch((err: Error) =>
          log.error("store.error", { store: "d1", op: "token.usage_write", error: errorKind(err) }),
        ),
      );
    }
  }
  return { outcome, tier, token: resolved.token };
}

/** The one verification core behind `/v1/verify`, the gateway, introspection, RPC and admin-token auth. */
export async function verifyToken(
  deps: VerifyDeps,
  q: VerifyQuery,
  options: VerifyOptions = {},
): Promise<VerifyOutcome> {
  const started = performance.now();
  const verification = await decide(deps, q, options);
  // Workers' clock moves across I/O only, so this is the storage wait; a memory hit measures 0.
  recordVerification(deps.env.VERIFICATIONS, verification, Math.round((performance.now() - started) * 1000));
  return verification.outcome;
}

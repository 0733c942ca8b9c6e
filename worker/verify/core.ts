import type { Read } from "../cache/tiered";
import type { Clock } from "../clock";
import { replicaRead } from "../db/session";
import { AppError, type VerifyCode } from "../errors";
import { MAX_PERMISSION_NAME_LENGTH, MAX_PERMISSIONS_PER_CHECK, MAX_PROJECT_KEY_LENGTH } from "../limits";
import { type Logger, log } from "../observability/log";
import { recordVerification, type Tier, type Verification } from "../observability/verifications";
import { readProjectFact } from "../orgs/project-facts";
import { tokenCache } from "../tokens/cache";
import type { CachedToken, CacheEntry } from "../tokens/cached";
import { parseToken } from "../tokens/format";
import { hashToken } from "../tokens/hash";
import { lookupTokenByHash, tokenVersionByHash } from "../tokens/lookup";
import { noteOldSecretUse } from "../tokens/old-secret-use";
import { tokenStatus } from "../tokens/status";
import { countVerification } from "../tokens/usage-counts";
import { errorKind } from "../util/error-kind";
import { ipAllowed } from "./ip-allowlist";
import { type FactProject, heldOn, needsProjectFact, reaches } from "./reach";
import { countUnknown, isThrottled } from "./throttle";

export interface VerifyDeps {
  env: Pick<
    Env,
    "DB" | "TOKEN_CACHE" | "TOKEN_PEPPER" | "UNKNOWN_TOKEN_LIMITER" | "RESOURCE_SERVER_LIMITER" | "VERIFICATIONS"
  >;
  waitUntil: (promise: Promise<unknown>) => void;
  now: Clock;
  /** Where the verify path logs: told the request's id by HTTP callers (worker/http/context.ts). */
  log?: Logger;
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
  /**
   * `clientIp` was named by a caller that did not authenticate (an RPC without `caller`): good for the
   * throttle and the last addresses, never for an IP allowlist, which then sees no address.
   */
  clientIpUnverified?: boolean;
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
  /** Only when the request used the token's replaced secret during its grace period: a downstream can warn its caller. */
  rotation?: { oldSecret: true; until: string };
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

const RATE_LIMITED = fail("rate_limited", "Too many unknown tokens from this client; try again in a minute.");
/** Thrown by the limiter check before D1, so the tiered read stops there. */
const CLIENT_BLOCKED = new Error("client blocked by the unknown-token limiter");

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
 * The token's entry from the tiered cache, and the tier that answered. KV trouble falls through to D1;
 * D1 trouble with nothing cached fails closed; a client over the unknown-token limit reaches D1 for no
 * hash it has not seen, and an unknown hash D1 answered counts toward that limit.
 */
async function resolveEntry(
  deps: VerifyDeps,
  hash: string,
  q: VerifyQuery,
): Promise<{ found: CacheEntry | VerifyOutcome; tier: Tier }> {
  const counted = { clientIp: q.clientIp, resourceServer: q.resourceServer ?? null };
  let read: Read<CacheEntry>;
  try {
    read = await tokenCache.read(hash, {
      kv: deps.env.TOKEN_CACHE,
      now: deps.now,
      waitUntil: deps.waitUntil,
      log: deps.log,
      // The nearest replica: a stale answer is never cached past the fill's check at the primary (§3.3).
      load: () => lookupTokenByHash(replicaRead(deps.env.DB), hash),
      currentVersion: () => tokenVersionByHash(deps.env.DB, hash),
      beforeLoad: () => {
        if (isThrottled(counted, deps.now())) throw CLIENT_BLOCKED;
      },
    });
  } catch (err) {
    if (err === CLIENT_BLOCKED) return { found: RATE_LIMITED, tier: "none" };
    (deps.log ?? log).error("store.error", {
      store: "d1",
      op: "token.lookup",
      error: errorKind(err),
      fallback: "none",
    });
    return { found: fail("unavailable", "The token store is unavailable; try again shortly."), tier: "none" };
  }
  if (read.tier === "d1" && !read.entry.token && !(await countUnknown(deps.env, counted, deps.now(), deps.log))) {
    return { found: RATE_LIMITED, tier: "d1" };
  }
  return { found: read.entry, tier: read.tier };
}

/** The refusal a dead or suspended token gets, whatever it is asked; null for a live token. */
function deadTokenOutcome(token: CachedToken, now: number): VerifyOutcome | null {
  // A replaced secret past its grace, by the clock: its entry may still be cached (docs/DESIGN.md §2).
  if (token.oldSecretUntil !== undefined && now >= token.oldSecretUntil) return OLD_SECRET_ENDED;
  const status = tokenStatus(token, now);
  if (status === "revoked") return fail("token_revoked", "The token has been revoked.");
  // However the membership ended (removed, group deleted), a person's token never outlives it.
  if (token.ownerLeft) return fail("token_revoked", "The token's owner is no longer a member of its organization.");
  if (status === "expired") return fail("token_expired", "The token has expired.");
  if (status === "disabled") return fail("token_disabled", "The token is disabled.");
  return null;
}

const OLD_SECRET_ENDED = fail(
  "token_unknown",
  "The token was replaced by a new secret and its grace period has ended.",
);
const IP_NOT_ALLOWED = fail("ip_not_allowed", "The token may not be used from this address.");

/** `project`: the fact of the project the query names (undefined when none is named or none is needed). */
function judge(token: CachedToken, q: VerifyQuery, now: number, project: FactProject | undefined): VerifyOutcome {
  const dead = deadTokenOutcome(token, now);
  if (dead) return dead;
  const status = tokenStatus(token, now) as VerifiedToken["status"];
  if (token.allowedIps !== undefined && (q.clientIpUnverified || !ipAllowed(token.allowedIps, q.clientIp)))
    return IP_NOT_ALLOWED;

  const held = q.project === null || project === undefined ? token.permissions : heldOn(token, project);
  const missing = q.permissions.filter((p) => !held.includes(p));
  if (missing.length > 0) return fail("permission_denied", `The token lacks the permission ${missing.join(", ")}.`);

  if (q.project !== null && !(project !== undefined && reaches(token, project))) {
    return fail("project_out_of_scope", "The token does not cover this project.");
  }

  const verified: VerifiedToken = {
    id: token.id,
    kind: token.kind,
    name: token.name,
    org: { id: token.orgId, slug: token.orgSlug },
    group: token.groupId ? { id: token.groupId, slug: token.groupSlug ?? "" } : null,
    user: token.userId ? { id: token.userId } : null,
    projects: token.projects === "*" ? "*" : token.projects.map((p) => p.key),
    permissions: held,
    admin: token.admin,
    expiresAt: token.expiresAt === null ? null : new Date(token.expiresAt).toISOString(),
    status,
  };
  if (token.oldSecretUntil !== undefined)
    verified.rotation = { oldSecret: true, until: new Date(token.oldSecretUntil).toISOString() };
  return { ok: true, token: verified };
}

/** An answer given before any tier was asked. */
const early = (outcome: VerifyOutcome): JudgedVerification => ({ outcome, tier: "none", token: null });

/** A verification with the whole cache entry it judged. */
export type JudgedVerification = Verification & { token: CachedToken | null };

async function decide(
  deps: VerifyDeps,
  q: VerifyQuery,
  { countUse = true }: VerifyOptions,
): Promise<JudgedVerification> {
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

  let project: FactProject | undefined;
  if (needsProjectFact(resolved.token, q.project) && !deadTokenOutcome(resolved.token, deps.now())) {
    try {
      project = (await readProjectFact(deps, resolved.token.orgId, q.project)).entry.project;
    } catch (err) {
      (deps.log ?? log).error("store.error", {
        store: "d1",
        op: "project.lookup",
        error: errorKind(err),
        fallback: "none",
      });
      return { outcome: fail("unavailable", "The token store is unavailable; try again shortly."), tier, token: null };
    }
  }

  const now = deps.now();
  const outcome = judge(resolved.token, q, now, project);
  // A counter bump; lastUsedAt moves only for a live token, whatever the checks said (usage-counts.ts).
  if (countUse) {
    countVerification(deps, resolved.token.id, outcome, q.clientIp, now);
    const used = outcome.ok || outcome.code === "permission_denied" || outcome.code === "project_out_of_scope";
    if (used && resolved.token.oldSecretUntil !== undefined) {
      noteOldSecretUse(deps, resolved.token.id, hash, q.clientIp, now);
    }
  }
  return { outcome, tier, token: resolved.token };
}

/**
 * The one verification core behind `/v1/verify`, the gateway, introspection, RPC and admin-token auth,
 * with the cache entry it judged: admin-token auth needs more of the token than the answer shows.
 */
export async function verifyTokenEntry(
  deps: VerifyDeps,
  q: VerifyQuery,
  options: VerifyOptions = {},
): Promise<JudgedVerification> {
  const started = performance.now();
  const verification = await decide(deps, q, options);
  // Workers' clock moves across I/O only, so this is the storage wait; a memory hit measures 0.
  recordVerification(deps.env.VERIFICATIONS, verification, Math.round((performance.now() - started) * 1000), deps.log);
  return verification;
}

export async function verifyToken(
  deps: VerifyDeps,
  q: VerifyQuery,
  options: VerifyOptions = {},
): Promise<VerifyOutcome> {
  return (await verifyTokenEntry(deps, q, options)).outcome;
}

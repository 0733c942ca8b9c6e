import { and, eq, inArray, isNull, sql } from "drizzle-orm";
import { changesOf } from "../audit/changes";
import { type Actor, auditInsert, logAudited } from "../audit/events";
import { batch, type Statement } from "../db/batch";
import { type Db, database } from "../db/client";
import {
  permissions,
  projects,
  type TokenKind,
  technicalUsers,
  tokenPermissions,
  tokenProjects,
  tokens,
} from "../db/schema";
import type { D1 } from "../db/session";
import { inSlices } from "../db/slices";
import { AppError } from "../errors";
import { TOKEN_MAX_LIFETIME_MS } from "../limits";
import { log } from "../observability/log";
import { assertWithinPolicy, readPolicies } from "../orgs/policies";
import type { CacheFanoutEnv } from "../queue/fanout-message";
import { revokeRows, revokeTokensBulk } from "./bulk-revoke";
import { dropTokenCache, overwriteTokenCache } from "./cache";
import { revokeWhatTheyMade } from "./cascade";
import { generateTokenSecret, tokenHint } from "./format";
import { hashToken } from "./hash";
import { lookupTokenByHash, tokenVersionByHash } from "./lookup";
import { isNameClash, nameTaken } from "./names";
import { rotationFields } from "./rotation-fields";
import { deleteBehindTombstones } from "./tombstone";
import { findTokenRow, projectKeysOf, type TokenRow, type TokenView, tokenView, tokenViews } from "./views";

/**
 * What a token change needs: the D1 session of the request or job it belongs to (`d1`, which starts at
 * the primary), the binding itself for the version checks that open their own primary session, and the
 * cache fan-out queue for the entries it cannot rewrite inline.
 */
export type TokenStoreEnv = CacheFanoutEnv & Pick<Env, "TOKEN_PEPPER"> & { d1: D1 };

export interface NewToken {
  kind: TokenKind;
  orgId: string;
  groupId: string | null;
  /** The person, for personal tokens. */
  userId: string | null;
  name: string;
  description: string;
  /** "*" or project keys of the organization (of the group, for group tokens). */
  projects: "*" | string[];
  permissions: string[];
  admin: boolean;
  expiresAt: number | null;
  permissionSetId: string | null;
  /** Normalized CIDR ranges (worker/verify/ip-allowlist.ts); null or absent: any address. */
  allowedIps?: string[] | null;
}

export interface TokenWithSecret {
  token: TokenView;
  /** Shown once: this answer is the only place it ever appears. */
  secret: string;
}

const createdByOf = (actor: Actor) => (actor.type === "system" ? "system" : `${actor.type}:${actor.id}`);

/** Project keys to ids within the token's reach; unknown keys are named back to the caller. */
async function resolveProjects(
  db: Db,
  orgId: string,
  groupId: string | null,
  kind: TokenKind,
  keys: string[],
): Promise<string[]> {
  const unique = [...new Set(keys)];
  if (unique.length === 0) return [];
  const found = await db
    .select({ id: projects.id, key: projects.key, groupId: projects.groupId })
    .from(projects)
    .where(and(eq(projects.orgId, orgId), inArray(projects.key, unique)));
  const usable = found.filter((p) => kind !== "group" || p.groupId === groupId);
  const unknown = unique.filter((k) => !usable.some((p) => p.key === k));
  if (unknown.length > 0) {
    throw new AppError("validation_failed", `Unknown project${unknown.length > 1 ? "s" : ""}: ${unknown.join(", ")}.`, {
      fields: { projects: `not in this ${kind === "group" ? "group" : "organization"}: ${unknown.join(", ")}` },
    });
  }
  return usable.map((p) => p.id);
}

async function assertPermissionsExist(db: Db, names: string[]): Promise<void> {
  const unique = [...new Set(names)];
  if (unique.length === 0) return;
  const found = await db.select({ name: permissions.name }).from(permissions).where(inArray(permissions.name, unique));
  const unknown = unique.filter((n) => !found.some((f) => f.name === n));
  if (unknown.length > 0) {
    throw new AppError(
      "validation_failed",
      `Unknown permission${unknown.length > 1 ? "s" : ""}: ${unknown.join(", ")}.`,
      {
        fields: { permissions: `not in the catalog: ${unknown.join(", ")}` },
      },
    );
  }
}

/** The service principal behind the organization's (or group's) tokens, made on first use. */
async function technicalUserFor(db: Db, orgId: string, groupId: string | null, now: number): Promise<string> {
  const scope = groupId === null ? isNull(technicalUsers.groupId) : eq(technicalUsers.groupId, groupId);
  const existing = await db
    .select({ id: technicalUsers.id })
    .from(technicalUsers)
    .where(and(eq(technicalUsers.orgId, orgId), scope))
    .get();
  if (existing) return existing.id;
  const id = crypto.randomUUID();
  await db
    .insert(technicalUsers)
    .values({ id, orgId, groupId, name: groupId ? "group token user" : "organization token user", createdAt: now })
    .onConflictDoNothing();
  const row = await db
    .select({ id: technicalUsers.id })
    .from(technicalUsers)
    .where(and(eq(technicalUsers.orgId, orgId), scope))
    .get();
  return row!.id;
}

/**
 * Computed by D1 in the UPDATE, never from the row read before it: two changes racing each get their
 * own version, so the cache can tell their entries apart.
 */
const nextVersion = () => sql<number>`${tokens.version} + 1`;
const REFRESH_ATTEMPTS = 3;

/**
 * Re-reads the token through the hot path's own query and overwrites its cache entry with it. Two
 * changes racing can put their entries in either order, and KV keeps the last put, not the newest
 * state: a version in D1 that moved past the entry after the put means it may have lost, so it is
 * written again from D1 (and after a few rounds of contention, dropped so readers go to D1).
 */
export async function refreshCache(env: TokenStoreEnv, hash: string, now: number): Promise<void> {
  for (let attempt = 1; attempt <= REFRESH_ATTEMPTS; attempt++) {
    const entry = await lookupTokenByHash(env.d1, hash);
    await overwriteTokenCache(env.TOKEN_CACHE, hash, entry, now);
    if ((await tokenVersionByHash(env.DB, hash)) === (entry.token ? entry.v : null)) return;
  }
  await dropTokenCache(env.TOKEN_CACHE, hash);
}

/** A row as one change's own statement saw it: its hash then (and its replaced one in a grace), and the version the change gave it. */
interface Changed {
  hash: string;
  version: number;
  oldHash?: string | null;
}

/**
 * The cache after a change to one token, under the hash the change's statement saw, never the hash read
 * before it: a regenerate landing in between moved the secret, and the new secret's entry would keep the
 * state from before the change for KV's whole TTL (a revoked token verifying). The hash read before, if
 * it differs, names no token now and is buried at the change's version. With no row changed (deleted
 * meanwhile), the read hash is refreshed: D1 says what is left of it.
 */
async function refreshChanged(
  env: TokenStoreEnv,
  readHash: string,
  changed: Changed | undefined,
  now: number,
): Promise<void> {
  if (changed && changed.hash !== readHash)
    await overwriteTokenCache(env.TOKEN_CACHE, readHash, { v: changed.version, token: null }, now);
  await refreshCache(env, changed?.hash ?? readHash, now);
  // The replaced secret in its grace names the same row: it says what the token now is too.
  if (changed?.oldHash) await refreshCache(env, changed.oldHash, now);
}

const changedColumns = { hash: tokens.hash, version: tokens.version, oldHash: tokens.oldHash };

export async function createToken(
  env: TokenStoreEnv,
  input: NewToken,
  actor: Actor,
  now: number,
): Promise<TokenWithSecret> {
  const db = database(env.d1);
  if (input.kind === "group" && input.groupId === null)
    throw new AppError("validation_failed", "A group token needs a group.");
  if (input.kind === "personal" && input.userId === null)
    throw new AppError("validation_failed", "A personal token needs its user.");
  if (input.kind === "personal" && input.admin)
    throw new AppError("validation_failed", "Only organization and group tokens can have the admin role.");
  assertExpiryAllowed(input.expiresAt, now);
  assertWithinPolicy(await readPolicies(db, input.orgId), input, now);
  const projectIds =
    input.projects === "*" ? [] : await resolveProjects(db, input.orgId, input.groupId, input.kind, input.projects);
  await assertPermissionsExist(db, input.permissions);
  const technicalUserId =
    input.kind === "personal"
      ? null
      : await technicalUserFor(db, input.orgId, input.kind === "group" ? input.groupId : null, now);

  const secret = generateTokenSecret(input.kind);
  const hash = await hashToken(env.TOKEN_PEPPER, secret);
  const id = crypto.randomUUID();
  const row: TokenRow = {
    id,
    kind: input.kind,
    orgId: input.orgId,
    groupId: input.kind === "org" ? null : input.groupId,
    userId: input.kind === "personal" ? input.userId : null,
    technicalUserId,
    name: input.name,
    description: input.description,
    allProjects: input.projects === "*",
    admin: input.admin,
    permissionSetId: input.permissionSetId,
    hash,
    hint: tokenHint(secret),
    expiresAt: input.expiresAt,
    expiryCut: false,
    ownExpiresAt: null,
    createdAt: now,
    regeneratedAt: null,
    createdBy: createdByOf(actor),
    secretIssuedBy: null,
    updatedAt: now,
    lastUsedAt: null,
    disabledAt: null,
    revokedAt: null,
    version: 1,
    expiredEventAt: null,
    notifiedDays: null,
    noticeClaimAt: null,
    purgeWarnedFor: null,
    allowedIps: input.allowedIps?.length ? input.allowedIps : null,
    oldHash: null,
    oldHashUntil: null,
    oldSecretIssuedBy: null,
    oldSecretUsedAt: null,
    oldSecretIps: null,
    deadAttempts: 0,
    deadAttemptAt: null,
    deadAttemptIp: null,
  };
  const statements: Statement[] = [db.insert(tokens).values(row)];
  for (const projectId of projectIds) statements.push(db.insert(tokenProjects).values({ tokenId: id, projectId }));
  for (const permission of new Set(input.permissions))
    statements.push(db.insert(tokenPermissions).values({ tokenId: id, permission }));
  statements.push(
    auditInsert(
      db,
      actor,
      {
        orgId: input.orgId,
        action: "token.created",
        targetType: "token",
        targetId: id,
        detail: {
          kind: input.kind,
          name: input.name,
          projects: input.projects,
          permissions: input.permissions,
          admin: input.admin,
          expiresAt: input.expiresAt,
          ...(row.allowedIps ? { allowedIps: row.allowedIps } : {}),
        },
      },
      now,
    ),
  );
  await batch(db, statements).catch((err: unknown) => {
    throw isNameClash(err) ? nameTaken(input.name) : err;
  });
  await refreshCache(env, hash, now);
  return { token: await tokenView(db, row, now), secret };
}

/** An expiry must be in the future and within TOKEN_MAX_LIFETIME_MS of now; null (never) is always allowed. */
function assertExpiryAllowed(expiresAt: number | null, now: number): void {
  if (expiresAt === null) return;
  if (expiresAt <= now) {
    throw new AppError("validation_failed", "The expiry date must be in the future.", {
      fields: { expiresAt: "must be in the future" },
    });
  }
  if (expiresAt > now + TOKEN_MAX_LIFETIME_MS) {
    const latest = new Date(now + TOKEN_MAX_LIFETIME_MS).toISOString();
    throw new AppError("validation_failed", `The expiry date must be no later than ${latest.slice(0, 10)}.`, {
      fields: { expiresAt: `must be no later than ${latest}` },
    });
  }
}

/** The organization's token, or 404: every action on one token starts here. */
export async function requireToken(db: Db, orgId: string, tokenId: string): Promise<TokenRow> {
  const row = await findTokenRow(db, orgId, tokenId);
  if (!row) throw new AppError("not_found", "No such token.");
  return row;
}

export const revokedTokenError = () => new AppError("conflict", "The token is revoked; revoked tokens cannot change.");

export function requireNotRevoked(row: TokenRow): void {
  if (row.revokedAt !== null) throw revokedTokenError();
}

/**
 * New secret, same scope; the old secret stops verifying at once, or keeps verifying for `graceMs`
 * (worker/tokens/rotation.ts; a secret still in an earlier grace dies now: one grace at a time). The
 * expiry stays unless a new one is given (renewal, as GitHub's regenerate does): then an expired token
 * lives again, and the expiry job and its notices count from the new date.
 */
export async function regenerateToken(
  env: TokenStoreEnv,
  orgId: string,
  tokenId: string,
  actor: Actor,
  now: number,
  renew: { expiresAt?: number | null; graceMs?: number } = {},
): Promise<TokenWithSecret> {
  const db = database(env.d1);
  const row = await requireToken(db, orgId, tokenId);
  requireNotRevoked(row);
  const graceMs = renew.graceMs ?? 0;
  // An expired secret is dead: a grace would bring it back with the renewed expiry.
  if (graceMs > 0 && row.expiresAt !== null && row.expiresAt <= now) {
    throw new AppError("validation_failed", "The token has expired, so its secret has no grace to keep.", {
      fields: { graceSeconds: "must be 0 for an expired token" },
    });
  }
  const until = graceMs > 0 ? now + graceMs : null;
  // A new expiry replaces any policy cut; either way the lifetime policy counts from this new secret.
  const expiry = {
    regeneratedAt: now,
    ...(renew.expiresAt === undefined
      ? {}
      : { expiresAt: renew.expiresAt, expiryCut: false, ownExpiresAt: null, expiredEventAt: null, notifiedDays: null }),
  };
  if (renew.expiresAt !== undefined) assertExpiryAllowed(renew.expiresAt, now);
  assertWithinPolicy(await readPolicies(db, orgId), { ...row, ...expiry }, now);
  const secret = generateTokenSecret(row.kind);
  const hash = await hashToken(env.TOKEN_PEPPER, secret);
  // The hash the row has just before the update, in its transaction: another regenerate may have moved it since the read.
  const [previous, updated] = await db.batch([
    db.select({ hash: tokens.hash, oldHash: tokens.oldHash }).from(tokens).where(eq(tokens.id, row.id)),
    db
      .update(tokens)
      .set({
        hash,
        hint: tokenHint(secret),
        secretIssuedBy: createdByOf(actor),
        version: nextVersion(),
        updatedAt: now,
        ...expiry,
        ...rotationFields(until),
      })
      .where(eq(tokens.id, row.id))
      .returning({ version: tokens.version, oldHash: tokens.oldHash }),
    auditInsert(
      db,
      actor,
      {
        orgId,
        action: until === null ? "token.regenerated" : "token.rotated",
        targetType: "token",
        targetId: row.id,
        detail: {
          name: row.name,
          ...(renew.expiresAt !== undefined && {
            expiresAt: renew.expiresAt,
            changes: changesOf({ expiresAt: row.expiresAt }, { expiresAt: renew.expiresAt }),
          }),
          ...(until !== null && { graceUntil: until }),
        },
      },
      now,
    ),
  ]);
  // Every old hash but the one kept for the grace now names no token: say so in every tier first, newer
  // than anything a slow fill could bring.
  const version = updated[0]?.version ?? row.version + 1;
  const kept = updated[0]?.oldHash ?? null;
  const replaced = [row.hash, row.oldHash, ...previous.flatMap((p) => [p.hash, p.oldHash])];
  for (const old of new Set(replaced)) {
    if (old !== null && old !== kept) await overwriteTokenCache(env.TOKEN_CACHE, old, { v: version, token: null }, now);
  }
  if (kept !== null) await refreshCache(env, kept, now);
  await refreshCache(env, hash, now);
  const fresh = await requireToken(db, orgId, tokenId);
  return { token: await tokenView(db, fresh, now), secret };
}

/** A new token with this one's kind, scope and permissions; its lifetime is the original's, counted from now. */
export async function copyToken(
  env: TokenStoreEnv,
  orgId: string,
  tokenId: string,
  overrides: { name?: string; expiresAt?: number | null },
  actor: Actor,
  now: number,
): Promise<TokenWithSecret> {
  const db = database(env.d1);
  const row = await requireToken(db, orgId, tokenId);
  const [source] = await tokenViews(db, [row], now);
  const lifetime = row.expiresAt === null ? null : row.expiresAt - row.createdAt;
  return createToken(
    env,
    {
      kind: row.kind,
      orgId,
      groupId: row.groupId,
      userId: row.userId,
      name: overrides.name ?? `${row.name} (copy)`.slice(0, 100),
      description: row.description,
      projects: source!.projects,
      permissions: source!.permissions,
      admin: row.admin,
      expiresAt: overrides.expiresAt !== undefined ? overrides.expiresAt : lifetime === null ? null : now + lifetime,
      permissionSetId: row.permissionSetId,
      allowedIps: row.allowedIps,
    },
    actor,
    now,
  );
}

export interface TokenEdit {
  name?: string;
  description?: string;
  projects?: string[];
  /** Normalized CIDR ranges; null or empty: any address. */
  allowedIps?: string[] | null;
}

export async function editToken(
  env: TokenStoreEnv,
  orgId: string,
  tokenId: string,
  edit: TokenEdit,
  actor: Actor,
  now: number,
): Promise<TokenView> {
  const db = database(env.d1);
  const row = await requireToken(db, orgId, tokenId);
  requireNotRevoked(row);
  if (edit.projects !== undefined && row.allProjects) {
    throw new AppError(
      "validation_failed",
      "A token for all projects cannot be narrowed; copy it with a project list instead.",
      {
        fields: { projects: "this token covers all projects" },
      },
    );
  }
  const projectIds =
    edit.projects === undefined ? null : await resolveProjects(db, orgId, row.groupId, row.kind, edit.projects);
  const changes = {
    name: edit.name ?? row.name,
    description: edit.description ?? row.description,
    updatedAt: now,
    ...(edit.allowedIps !== undefined && { allowedIps: edit.allowedIps?.length ? edit.allowedIps : null }),
  };
  // The project keys it named before, read only when the edit changes them (the audit's before → after).
  const keysBefore = edit.projects === undefined ? undefined : await projectKeysOf(db, row.id);
  const update = db
    .update(tokens)
    .set({ ...changes, version: nextVersion() })
    .where(eq(tokens.id, row.id))
    .returning(changedColumns);
  const rest: Statement[] = [];
  if (projectIds !== null) {
    rest.push(db.delete(tokenProjects).where(eq(tokenProjects.tokenId, row.id)));
    for (const projectId of projectIds) rest.push(db.insert(tokenProjects).values({ tokenId: row.id, projectId }));
  }
  rest.push(
    auditInsert(
      db,
      actor,
      {
        orgId,
        action: "token.updated",
        targetType: "token",
        targetId: row.id,
        detail: {
          ...edit,
          changes: changesOf(
            { name: row.name, description: row.description, projects: keysBefore, allowedIps: row.allowedIps },
            { ...edit, projects: edit.projects === undefined ? undefined : [...new Set(edit.projects)] },
          ),
        },
      },
      now,
    ),
  );
  const [updated] = await batch(db, [update, ...rest]).catch((err: unknown) => {
    throw isNameClash(err) ? nameTaken(changes.name) : err;
  });
  await refreshChanged(env, row.hash, updated[0], now);
  return tokenView(db, { ...row, ...changes }, now);
}

type StateChange = "disable" | "enable" | "revoke";

/**
 * Through the bulk revoke's statements, which change and audit the row only if it is still live in their
 * own transaction: a revoke racing with another (a bulk revoke, a leak report) is recorded once.
 */
async function revokeOne(env: TokenStoreEnv, db: Db, row: TokenRow, actor: Actor, now: number): Promise<TokenView> {
  if (row.revokedAt === null) {
    // The row as the revoke's own transaction saw it, just before its update.
    const [seen] = await revokeRows(env.d1, row.orgId, { ids: [row.id] }, actor, now);
    await refreshChanged(
      env,
      row.hash,
      seen && {
        hash: seen.hash,
        version: seen.revoked_at === null ? seen.version + 1 : seen.version,
        oldHash: seen.old_hash,
      },
      now,
    );
    await revokeWhatTheyMade(env, row.orgId, [row.id], actor, now);
  }
  return tokenView(db, await requireToken(db, row.orgId, row.id), now);
}

async function changeState(
  env: TokenStoreEnv,
  orgId: string,
  tokenId: string,
  change: StateChange,
  actor: Actor,
  now: number,
): Promise<TokenView> {
  const db = database(env.d1);
  const row = await requireToken(db, orgId, tokenId);
  if (change === "revoke") return revokeOne(env, db, row, actor, now);
  requireNotRevoked(row);
  const fields = change === "disable" ? { disabledAt: row.disabledAt ?? now } : { disabledAt: null };
  const changes = { ...fields, updatedAt: now };
  const [updated] = await db.batch([
    db
      .update(tokens)
      .set({ ...changes, version: nextVersion() })
      .where(eq(tokens.id, row.id))
      .returning(changedColumns),
    auditInsert(
      db,
      actor,
      { orgId, action: `token.${change}d`, targetType: "token", targetId: row.id, detail: { name: row.name } },
      now,
    ),
  ]);
  await refreshChanged(env, row.hash, updated[0], now);
  return tokenView(db, { ...row, ...changes }, now);
}

export const disableToken = (env: TokenStoreEnv, orgId: string, tokenId: string, actor: Actor, now: number) =>
  changeState(env, orgId, tokenId, "disable", actor, now);
export const enableToken = (env: TokenStoreEnv, orgId: string, tokenId: string, actor: Actor, now: number) =>
  changeState(env, orgId, tokenId, "enable", actor, now);
export const revokeToken = (env: TokenStoreEnv, orgId: string, tokenId: string, actor: Actor, now: number) =>
  changeState(env, orgId, tokenId, "revoke", actor, now);

const DELETE_ATTEMPTS = 3;

/**
 * The event and the delete in one transaction, both only if the row is still there at `version`: a delete
 * that finds the token changed deletes and records nothing. (An INSERT … SELECT, as the cron's events,
 * because `auditInsert` cannot depend on the row.)
 */
async function deleteRow(
  d1: D1,
  tokenId: string,
  version: number,
  actor: Actor,
  now: number,
): Promise<{ hash: string }[]> {
  const [, gone] = await d1.batch<{ hash: string }>([
    d1
      .prepare(
        `INSERT INTO audit_events (org_id, at, actor_type, actor_id, action, target_type, target_id, ip, detail)
         SELECT org_id, ?3, ?4, ?5, 'token.deleted', 'token', id, ?6, json_object('name', name, 'kind', kind)
         FROM tokens WHERE id = ?1 AND version = ?2`,
      )
      .bind(tokenId, version, now, actor.type, actor.id, actor.ip),
    d1.prepare("DELETE FROM tokens WHERE id = ?1 AND version = ?2 RETURNING hash").bind(tokenId, version),
  ]);
  return gone!.results;
}

/**
 * Revoke and erase now. The cache gets a tombstone (the token revoked, unless it already died) before the
 * row goes, through `deleteBehindTombstones` as the cron's purge and erasure do, so no tier says "valid" for
 * a token D1 no longer has. If KV fails nothing is deleted and the caller gets an error to retry. A change
 * landing between the tombstone and the delete (which only takes the row at the version the tombstone was
 * made for) starts it over.
 */
export async function deleteToken(
  env: TokenStoreEnv,
  orgId: string,
  tokenId: string,
  actor: Actor,
  now: number,
): Promise<void> {
  const db = database(env.d1);
  for (let attempt = 1; attempt <= DELETE_ATTEMPTS; attempt++) {
    const row = await requireToken(db, orgId, tokenId);
    const last = await lookupTokenByHash(env.d1, row.hash);
    // Regenerated or deleted since the row was read: read it again.
    if (!last.token) continue;
    // A replaced secret still in the row goes with it, behind its own tombstone.
    const doomed = [{ hash: row.hash, oldHash: row.oldHash, version: last.v, token: last.token }];
    const outcome = await deleteBehindTombstones(env.TOKEN_CACHE, doomed, now, () =>
      deleteRow(env.d1, row.id, last.v, actor, now),
    );
    if (outcome.deleted.length > 0) {
      logAudited(actor, { orgId, action: "token.deleted", targetType: "token", targetId: row.id });
      if (outcome.failures.length > 0)
        log.error("store.error", {
          store: "kv",
          op: "token.delete",
          tokenId: row.id,
          deleted: true,
          failures: outcome.failures,
        });
      await revokeWhatTheyMade(env, orgId, [row.id], actor, now);
      return;
    }
    if (outcome.failures.length > 0) {
      log.error("store.error", {
        store: "kv",
        op: "token.delete",
        tokenId: row.id,
        deleted: false,
        failures: outcome.failures,
      });
      throw new AppError(
        "unavailable",
        "The token could not be deleted because the token cache is unavailable. Nothing was changed; try again.",
      );
    }
  }
  throw new AppError("conflict", "The token changed while it was being deleted; try again.");
}

/**
 * Bulk revoke of a selection within one organization, in bulk statements (`revokeTokensBulk`). Ids of other
 * organizations, and those `may` refuses (the caller does not manage them), are reported as not found and
 * nothing happens to them. Tokens that were revoked already count as revoked, as revoking one again does.
 */
export async function revokeTokens(
  env: TokenStoreEnv,
  orgId: string,
  tokenIds: string[],
  actor: Actor,
  now: number,
  may: (row: Pick<TokenRow, "kind" | "groupId">) => boolean = () => true,
): Promise<{ revoked: string[]; notFound: string[] }> {
  const db = database(env.d1);
  const ids = [...new Set(tokenIds)];
  const allowed = new Set<string>();
  // One parameter goes to the organization.
  const rows = await inSlices(ids, 1, (slice) =>
    db
      .select({ id: tokens.id, kind: tokens.kind, groupId: tokens.groupId })
      .from(tokens)
      .where(and(eq(tokens.orgId, orgId), inArray(tokens.id, slice))),
  );
  for (const row of rows) if (may(row)) allowed.add(row.id);
  const report = await revokeTokensBulk(env, orgId, { ids: ids.filter((id) => allowed.has(id)) }, actor, now);
  await revokeWhatTheyMade(env, orgId, report.revoked, actor, now);
  // Deleted since it was read: gone, as far as the caller can tell.
  const found = new Set([...report.revoked, ...report.alreadyRevoked]);
  return { revoked: ids.filter((id) => found.has(id)), notFound: ids.filter((id) => !found.has(id)) };
}

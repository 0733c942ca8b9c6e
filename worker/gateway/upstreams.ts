import { and, asc, eq, inArray } from "drizzle-orm";
import { changesOf } from "../audit/changes";
import { type Actor, auditInsert } from "../audit/events";
import { database } from "../db/client";
import { isUniqueViolation } from "../db/errors";
import { permissions, upstreams } from "../db/schema";
import { type D1, primarySession } from "../db/session";
import { AppError } from "../errors";
import { generateSigningSecret, signingSecretHint } from "./signature";
import { overwriteUpstreamCache, type UpstreamEntry } from "./upstream-cache";

/** One gateway rule: requests with this method under this path prefix need this permission. */
export interface UpstreamRule {
  /** An HTTP method in upper case, or "*" for any. */
  method: string;
  /** Starts with "/"; matched against the decoded path below `/gw/<name>`, segment by segment. */
  pathPrefix: string;
  permission: string;
}

/** An upstream as the gateway reads it. */
export interface Upstream {
  name: string;
  orgId: string;
  origin: string;
  rules: UpstreamRule[];
  projectFromPath: boolean;
  /** Signs every forwarded request (signature.ts); null only for a row written outside Tessera. */
  signingSecret: string | null;
}

/** An upstream as the management API shows it: never the signing secret, only its hint. */
export interface UpstreamView {
  name: string;
  origin: string;
  rules: UpstreamRule[];
  projectFromPath: boolean;
  signingSecretHint: string | null;
  createdAt: string;
  updatedAt: string;
}

export interface NewUpstream {
  name: string;
  origin: string;
  rules: UpstreamRule[];
  projectFromPath: boolean;
}

export type UpstreamEdit = Partial<Omit<NewUpstream, "name">>;

/** The answers to create and rotate, the only two that carry the secret: it is shown once. */
export type UpstreamWithSecret = UpstreamView & { signingSecret: string };

/** Changes write D1 and overwrite the cache tiers the gateway reads (KV shares the token cache namespace). */
/** `d1`: the session of the change (worker/db/session.ts); `DB`: for the version checks at the primary. */
export type UpstreamStoreEnv = Pick<Env, "DB" | "TOKEN_CACHE"> & { d1: D1 };

type UpstreamRow = typeof upstreams.$inferSelect;

const view = (row: UpstreamRow): UpstreamView => ({
  name: row.name,
  origin: row.origin,
  rules: row.rules,
  projectFromPath: row.projectFromPath,
  signingSecretHint: signingSecretHint(row.signingSecret),
  createdAt: new Date(row.createdAt).toISOString(),
  updatedAt: new Date(row.updatedAt).toISOString(),
});

/** Rules may only name permissions of the catalog: a rule naming anything else could never admit a request. */
/** A rule as one line ("GET /v1 → report:read"), so an audit's before → after reads as a list of rules. */
const rulesText = (rules: UpstreamRule[]) => rules.map((r) => `${r.method} ${r.pathPrefix} → ${r.permission}`);

async function assertPermissionsExist(d1: D1, rules: UpstreamRule[]): Promise<void> {
  const names = [...new Set(rules.map((r) => r.permission))];
  if (names.length === 0) return;
  const found = await database(d1)
    .select({ name: permissions.name })
    .from(permissions)
    .where(inArray(permissions.name, names));
  const unknown = names.filter((n) => !found.some((f) => f.name === n));
  if (unknown.length > 0) {
    throw new AppError(
      "validation_failed",
      `Unknown permission${unknown.length > 1 ? "s" : ""}: ${unknown.join(", ")}.`,
      {
        fields: { rules: `not in the catalog: ${unknown.join(", ")}` },
      },
    );
  }
}

const gatewayView = (row: UpstreamRow): Upstream => ({
  name: row.name,
  orgId: row.orgId,
  origin: row.origin,
  rules: row.rules,
  projectFromPath: row.projectFromPath,
  signingSecret: row.signingSecret,
});

/** The gateway's read: by name across the instance (names are unique); version 0 and null when none. */
export async function findUpstream(d1: D1, name: string, now: number): Promise<UpstreamEntry> {
  const row = await database(d1).select().from(upstreams).where(eq(upstreams.name, name)).get();
  return { v: row?.updatedAt ?? 0, upstream: row ? gatewayView(row) : null, checkedAt: now };
}

/**
 * The version the cache tiers compare against: the row's `updatedAt`, or null when the name is free. It
 * guards a cache write, so it reads the primary in a session of its own (docs/DESIGN.md §3.3).
 */
export async function upstreamVersion(binding: D1Database, name: string): Promise<number | null> {
  const row = await database(primarySession(binding))
    .select({ updatedAt: upstreams.updatedAt })
    .from(upstreams)
    .where(eq(upstreams.name, name))
    .get();
  return row?.updatedAt ?? null;
}

export async function listUpstreams(d1: D1, orgId: string): Promise<UpstreamView[]> {
  const rows = await database(d1)
    .select()
    .from(upstreams)
    .where(eq(upstreams.orgId, orgId))
    .orderBy(asc(upstreams.name));
  return rows.map(view);
}

async function requireUpstream(d1: D1, orgId: string, name: string): Promise<UpstreamRow> {
  // Another organization's upstream reads as missing: its existence is not this caller's business.
  const row = await database(d1)
    .select()
    .from(upstreams)
    .where(and(eq(upstreams.name, name), eq(upstreams.orgId, orgId)))
    .get();
  if (!row) throw new AppError("not_found", `No upstream is named ${name} in this organization.`);
  return row;
}

export async function getUpstream(d1: D1, orgId: string, name: string): Promise<UpstreamView> {
  return view(await requireUpstream(d1, orgId, name));
}

const nameTaken = (name: string) =>
  new AppError("conflict", `The upstream name ${name} is already taken.`, { fields: { name: "already taken" } });

export async function createUpstream(
  env: UpstreamStoreEnv,
  orgId: string,
  input: NewUpstream,
  actor: Actor,
  now: number,
): Promise<UpstreamWithSecret> {
  await assertPermissionsExist(env.d1, input.rules);
  const db = database(env.d1);
  // Names are global: `/gw/<name>` has one meaning for the whole instance.
  const existing = await db
    .select({ name: upstreams.name })
    .from(upstreams)
    .where(eq(upstreams.name, input.name))
    .get();
  if (existing) throw nameTaken(input.name);
  const signingSecret = generateSigningSecret();
  const row: UpstreamRow = { ...input, orgId, signingSecret, createdAt: now, updatedAt: now };
  try {
    await db.batch([
      db.insert(upstreams).values(row),
      auditInsert(
        db,
        actor,
        { orgId, action: "upstream.created", targetType: "upstream", targetId: input.name, detail: { ...input } },
        now,
      ),
    ]);
  } catch (err) {
    if (isUniqueViolation(err)) throw nameTaken(input.name);
    throw err;
  }
  await overwriteUpstreamCache(
    env.TOKEN_CACHE,
    input.name,
    { v: now, upstream: gatewayView(row), checkedAt: now },
    now,
  );
  return { ...view(row), signingSecret };
}

export async function updateUpstream(
  env: UpstreamStoreEnv,
  orgId: string,
  name: string,
  edit: UpstreamEdit,
  actor: Actor,
  now: number,
): Promise<UpstreamView> {
  const row = await requireUpstream(env.d1, orgId, name);
  if (edit.rules !== undefined) await assertPermissionsExist(env.d1, edit.rules);
  const changes = {
    origin: edit.origin ?? row.origin,
    rules: edit.rules ?? row.rules,
    projectFromPath: edit.projectFromPath ?? row.projectFromPath,
    updatedAt: now,
  };
  const db = database(env.d1);
  // The row as written, not as read: a rotation landing in between keeps its new secret in the cache.
  const [written] = await db.batch([
    db
      .update(upstreams)
      .set(changes)
      .where(and(eq(upstreams.name, name), eq(upstreams.orgId, orgId)))
      .returning(),
    auditInsert(
      db,
      actor,
      {
        orgId,
        action: "upstream.updated",
        targetType: "upstream",
        targetId: name,
        detail: {
          ...edit,
          changes: changesOf(
            { origin: row.origin, rules: rulesText(row.rules), projectFromPath: row.projectFromPath },
            { ...edit, rules: edit.rules && rulesText(edit.rules) },
          ),
        },
      },
      now,
    ),
  ]);
  const updated = written[0] ?? { ...row, ...changes };
  await overwriteUpstreamCache(env.TOKEN_CACHE, name, { v: now, upstream: gatewayView(updated), checkedAt: now }, now);
  return view(updated);
}

export async function deleteUpstream(
  env: UpstreamStoreEnv,
  orgId: string,
  name: string,
  actor: Actor,
  now: number,
): Promise<void> {
  const row = await requireUpstream(env.d1, orgId, name);
  const db = database(env.d1);
  await db.batch([
    db.delete(upstreams).where(and(eq(upstreams.name, name), eq(upstreams.orgId, orgId))),
    auditInsert(
      db,
      actor,
      { orgId, action: "upstream.deleted", targetType: "upstream", targetId: name, detail: { origin: row.origin } },
      now,
    ),
  ]);
  // A tombstone, above the deleted row's version: a slow read of the row cannot bring it back.
  await overwriteUpstreamCache(
    env.TOKEN_CACHE,
    name,
    { v: Math.max(now, row.updatedAt + 1), upstream: null, checkedAt: now },
    now,
  );
}

/**
 * A new signing secret, at once: the gateway signs with it from now on (in this location at once,
 * elsewhere within KV's propagation time) and the old one stops verifying. The version moves even
 * within one millisecond, so no cache tier keeps serving the old secret as current.
 */
export async function rotateSigningSecret(
  env: UpstreamStoreEnv,
  orgId: string,
  name: string,
  actor: Actor,
  now: number,
): Promise<UpstreamWithSecret> {
  const row = await requireUpstream(env.d1, orgId, name);
  const signingSecret = generateSigningSecret();
  const updatedAt = Math.max(now, row.updatedAt + 1);
  const db = database(env.d1);
  const [written] = await db.batch([
    db
      .update(upstreams)
      .set({ signingSecret, updatedAt })
      .where(and(eq(upstreams.name, name), eq(upstreams.orgId, orgId)))
      .returning(),
    // The secret is never recorded, not even its hint: the event says only that it changed.
    auditInsert(db, actor, { orgId, action: "upstream.secret_rotated", targetType: "upstream", targetId: name }, now),
  ]);
  // Deleted in between: the deletion's tombstone stands.
  const updated = written[0];
  if (!updated) throw new AppError("not_found", `No upstream is named ${name} in this organization.`);
  await overwriteUpstreamCache(
    env.TOKEN_CACHE,
    name,
    { v: updatedAt, upstream: gatewayView(updated), checkedAt: now },
    now,
  );
  return { ...view(updated), signingSecret };
}

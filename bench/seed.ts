import { getTableColumns } from "drizzle-orm";
import { SYSTEM_ACTOR } from "../worker/audit/events";
import { batch, type Statement } from "../worker/db/batch";
import { database } from "../worker/db/client";
import { organizations, projects, technicalUsers, tokenPermissions, tokenProjects, tokens } from "../worker/db/schema";
import { primarySession } from "../worker/db/session";
import { chunk } from "../worker/db/slices";
import { createUpstream } from "../worker/gateway/upstreams";
import { D1_MAX_BOUND_PARAMETERS } from "../worker/limits";
import { overwriteTokenCache } from "../worker/tokens/cache";
import { generateTokenSecret, tokenHint } from "../worker/tokens/format";
import { hashToken } from "../worker/tokens/hash";
import { lookupTokenByHash } from "../worker/tokens/lookup";
import { memoryCache } from "../worker/tokens/memory-cache";
import { createToken, type TokenStoreEnv } from "../worker/tokens/store";
import type { TokenRow } from "../worker/tokens/views";

// Bench and soak data: one organization, its projects, and many tokens made with the worker's own
// secret generator, hint and HMAC, so every seeded token verifies exactly as a created one does.

export const BENCH_PROJECT_COUNT = 20;
/** Every seeded token holds these (both in the migration's catalog). */
export const BENCH_PERMISSIONS = ["analysis:execute", "project:browse"] as const;
/** One token in this many names three projects instead of "*", so both lookup shapes are measured. */
const NAMED_PROJECTS_EVERY = 3;
const NAMED_PROJECTS_PER_TOKEN = 3;

export interface BenchOrg {
  orgId: string;
  orgSlug: string;
  technicalUserId: string;
  projectKeys: string[];
}

export interface SeededToken {
  id: string;
  hash: string;
  secret: string;
  /** "*" or the project keys it names: a project the token reaches, for `?project=` checks. */
  projects: "*" | string[];
}

const rowsPerStatement = (columns: number) => Math.max(1, Math.floor(D1_MAX_BOUND_PARAMETERS / columns));

/** The organization every bench token belongs to, with its projects and technical user. */
export async function seedBenchOrg(d1: D1Database, now: number): Promise<BenchOrg> {
  const db = database(primarySession(d1));
  const orgId = crypto.randomUUID();
  const orgSlug = `bench-${orgId.slice(0, 8)}`;
  const technicalUserId = crypto.randomUUID();
  const projectRows = Array.from({ length: BENCH_PROJECT_COUNT }, (_, i) => ({
    id: crypto.randomUUID(),
    orgId,
    groupId: null,
    key: `${orgSlug}-p${i}`,
    name: `Bench project ${i}`,
    createdAt: now,
    updatedAt: now,
  }));
  await db.batch([
    db.insert(organizations).values({ id: orgId, slug: orgSlug, name: "Bench", createdAt: now, updatedAt: now }),
    db
      .insert(technicalUsers)
      .values({ id: technicalUserId, orgId, groupId: null, name: "organization token user", createdAt: now }),
    ...chunk(projectRows, rowsPerStatement(Object.keys(getTableColumns(projects)).length)).map((c) =>
      db.insert(projects).values(c),
    ),
  ]);
  return { orgId, orgSlug, technicalUserId, projectKeys: projectRows.map((p) => p.key) };
}

/**
 * `count` org tokens in multi-row inserts (the per-token path of `createToken` would take minutes for
 * ten thousand). Secrets, hints and hashes come from the worker's own functions.
 */
export async function seedTokens(
  env: Pick<Env, "DB" | "TOKEN_PEPPER">,
  org: BenchOrg,
  count: number,
  now: number,
): Promise<SeededToken[]> {
  const db = database(primarySession(env.DB));
  const projectIdByKey = new Map<string, string>();
  const projectRows = await db.select({ id: projects.id, key: projects.key }).from(projects);
  for (const p of projectRows) projectIdByKey.set(p.key, p.id);

  const seeded: SeededToken[] = [];
  const rows: TokenRow[] = [];
  const projectLinks: { tokenId: string; projectId: string }[] = [];
  const permissionLinks: { tokenId: string; permission: string }[] = [];
  for (let i = 0; i < count; i++) {
    const secret = generateTokenSecret("org");
    const hash = await hashToken(env.TOKEN_PEPPER, secret);
    const id = crypto.randomUUID();
    const named = i % NAMED_PROJECTS_EVERY === NAMED_PROJECTS_EVERY - 1;
    const keys = named
      ? Array.from({ length: NAMED_PROJECTS_PER_TOKEN }, (_, k) => org.projectKeys[(i + k) % org.projectKeys.length]!)
      : null;
    rows.push({
      id,
      kind: "org",
      orgId: org.orgId,
      groupId: null,
      userId: null,
      technicalUserId: org.technicalUserId,
      // Seeded in several calls, each counting from 0: the id keeps names unique per owner (migration 0006).
      name: `bench ${i} ${id}`,
      description: "",
      allProjects: !named,
      admin: false,
      permissionSetId: null,
      hash,
      hint: tokenHint(secret),
      expiresAt: null,
      createdAt: now,
      createdBy: "system",
      secretIssuedBy: null,
      oldSecretIssuedBy: null,
      updatedAt: now,
      lastUsedAt: null,
      disabledAt: null,
      revokedAt: null,
      version: 1,
      expiredEventAt: null,
      notifiedDays: null,
      noticeClaimAt: null,
      purgeWarnedFor: null,
      expiryCut: false,
      ownExpiresAt: null,
      regeneratedAt: null,
      allowedIps: null,
      oldHash: null,
      oldHashUntil: null,
      oldSecretUsedAt: null,
      oldSecretIps: null,
      deadAttempts: 0,
      deadAttemptAt: null,
      deadAttemptIp: null,
    });
    for (const key of keys ?? []) projectLinks.push({ tokenId: id, projectId: projectIdByKey.get(key)! });
    for (const permission of BENCH_PERMISSIONS) permissionLinks.push({ tokenId: id, permission });
    seeded.push({ id, hash, secret, projects: keys ?? "*" });
  }

  const statements: Statement[] = [
    ...chunk(rows, rowsPerStatement(Object.keys(getTableColumns(tokens)).length)).map((c) =>
      db.insert(tokens).values(c),
    ),
    ...chunk(projectLinks, rowsPerStatement(2)).map((c) => db.insert(tokenProjects).values(c)),
    ...chunk(permissionLinks, rowsPerStatement(2)).map((c) => db.insert(tokenPermissions).values(c)),
  ];
  if (statements.length > 0) await batch(db, statements);
  return seeded;
}

/** An admin org token made through the real `createToken`, for management traffic. */
export async function seedAdminToken(env: Omit<TokenStoreEnv, "d1">, org: BenchOrg, now: number) {
  return createToken(
    { ...env, d1: primarySession(env.DB) },
    {
      kind: "org",
      orgId: org.orgId,
      groupId: null,
      userId: null,
      name: "bench admin",
      description: "",
      projects: "*",
      permissions: [...BENCH_PERMISSIONS],
      admin: true,
      expiresAt: null,
      permissionSetId: null,
    },
    SYSTEM_ACTOR,
    now,
  );
}

/**
 * Writes the KV entry of each hash from D1 through the worker's own lookup and cache writer, as a
 * token change does; the isolate's memory tier is emptied after, so the next read comes from KV.
 */
export async function fillKvEntries(
  env: Pick<Env, "DB" | "TOKEN_CACHE">,
  hashes: string[],
  now: number,
): Promise<void> {
  const PARALLEL = 25;
  for (const slice of chunk(hashes, PARALLEL)) {
    await Promise.all(
      slice.map(async (hash) =>
        overwriteTokenCache(env.TOKEN_CACHE, hash, await lookupTokenByHash(primarySession(env.DB), hash), now),
      ),
    );
  }
  memoryCache.clear();
}

/** The gateway's upstream for the bench: every GET needs the permission every seeded token holds. */
export const BENCH_UPSTREAM = "bench";

export async function registerBenchUpstream(
  env: Pick<Env, "DB" | "TOKEN_CACHE">,
  org: BenchOrg,
  origin: string,
  now: number,
) {
  return createUpstream(
    { ...env, d1: primarySession(env.DB) },
    org.orgId,
    {
      name: BENCH_UPSTREAM,
      origin,
      rules: [{ method: "GET", pathPrefix: "/", permission: BENCH_PERMISSIONS[0] }],
      projectFromPath: false,
    },
    SYSTEM_ACTOR,
    now,
  );
}

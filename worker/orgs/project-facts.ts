import { and, eq } from "drizzle-orm";
import { MemoryTier } from "../cache/memory-tier";
import { type Read, TieredCache } from "../cache/tiered";
import type { Clock } from "../clock";
import { database } from "../db/client";
import { projects } from "../db/schema";
import { type D1, primarySession, replicaRead } from "../db/session";
import {
  KV_NEGATIVE_TTL_S,
  KV_PROJECT_KEY_PREFIX,
  KV_TOKEN_TTL_S,
  MEMORY_CACHE_MAX_ENTRIES,
  MEMORY_CACHE_TTL_MS,
  MEMORY_NEGATIVE_TTL_MS,
  MEMORY_PROJECT_MAX_BYTES,
} from "../limits";
import { type Logger, log } from "../observability/log";
import { errorKind } from "../util/error-kind";

/**
 * Whether a project key exists in an organization, and which project and group it is: the one piece of
 * an organization's structure a verification needs, cached on its own (docs/DESIGN.md "Cache tiers")
 * so that token entries hold only their own grant. `project: null` is "no such project": never there
 * (v 0) or deleted (a tombstone, v above the deleted row's). `v` is the row's `updatedAt`.
 */
export interface ProjectFact {
  v: number;
  project: { id: string; groupId: string | null } | null;
}

/** Its own memory tier: a fact is small and read by every token of the organization, so it stays hot. */
export const projectFactMemory = new MemoryTier<ProjectFact>({
  maxEntries: MEMORY_CACHE_MAX_ENTRIES,
  maxBytes: MEMORY_PROJECT_MAX_BYTES,
  ttlMs: (fact) => (fact.project ? MEMORY_CACHE_TTL_MS : MEMORY_NEGATIVE_TTL_MS),
  keepExpired: false,
});

export const projectFactCache = new TieredCache<ProjectFact>({
  what: "project",
  kvKeyPrefix: KV_PROJECT_KEY_PREFIX,
  memory: projectFactMemory,
  absent: (fact) => fact.project === null,
  tombstone: (_, v) => ({ v, project: null }),
  // A move or a deletion reaches other locations as a token change does; a key never seen, as an unknown token.
  kvTtlS: (fact) => (fact.project || fact.v > 0 ? KV_TOKEN_TTL_S : KV_NEGATIVE_TTL_S),
  // A free key can be taken later: a fill of "none" that raced a create is withdrawn.
  checkAbsent: true,
  answerNewerFromMemory: false,
});

/** Organization ids are UUIDs, so the first ":" ends it whatever the project key holds. */
export const projectFactKey = (orgId: string, key: string) => `${orgId}:${key}`;

const NONE: ProjectFact = { v: 0, project: null };

function selectProject(db: D1, orgId: string, key: string) {
  return database(db)
    .select({ id: projects.id, groupId: projects.groupId, updatedAt: projects.updatedAt })
    .from(projects)
    .where(and(eq(projects.orgId, orgId), eq(projects.key, key)))
    .get();
}

export async function loadProjectFact(db: D1, orgId: string, key: string): Promise<ProjectFact> {
  const row = await selectProject(db, orgId, key);
  return row ? { v: row.updatedAt, project: { id: row.id, groupId: row.groupId } } : NONE;
}

export interface ProjectFactDeps {
  env: Pick<Env, "DB" | "TOKEN_CACHE">;
  waitUntil: (promise: Promise<unknown>) => void;
  now: Clock;
  log?: Logger;
}

/**
 * The fact for a key a verification names, with the tier that answered. Read only for a live token of
 * the organization, so unknown tokens cannot probe keys; D1 trouble with nothing cached throws (the
 * caller fails closed).
 */
export function readProjectFact(deps: ProjectFactDeps, orgId: string, key: string): Promise<Read<ProjectFact>> {
  return projectFactCache.read(projectFactKey(orgId, key), {
    kv: deps.env.TOKEN_CACHE,
    now: deps.now,
    waitUntil: deps.waitUntil,
    log: deps.log,
    // The nearest replica for the read; the check after a fill asks a fresh primary session, which alone
    // is sure to see every committed move or deletion (docs/DESIGN.md §3.3).
    load: () => loadProjectFact(replicaRead(deps.env.DB), orgId, key),
    currentVersion: async () => (await selectProject(primarySession(deps.env.DB), orgId, key))?.updatedAt ?? null,
  });
}

/**
 * A project created, moved or deleted (`project: null`) overwrites its fact in both tiers: the only
 * cache write the change makes for the organization's structure, whatever its number of tokens. It is
 * checked against the primary afterwards (`TieredCache.overwriteChecked`): a later change whose fact
 * landed first is not buried. The change is committed by then, so a KV failure is logged, not thrown
 * (answering an error would invite a retry that fails); a failed put has deleted the old copy, and only
 * when KV refuses that too does a location keep its copy until it expires (KV_TOKEN_TTL_S).
 */
export async function overwriteProjectFact(
  env: Pick<Env, "DB" | "TOKEN_CACHE">,
  orgId: string,
  key: string,
  fact: ProjectFact,
  now: number,
): Promise<void> {
  const currentVersion = async () => (await selectProject(primarySession(env.DB), orgId, key))?.updatedAt ?? null;
  try {
    await projectFactCache.overwriteChecked(env.TOKEN_CACHE, projectFactKey(orgId, key), fact, now, currentVersion);
  } catch (err) {
    log.error("store.error", { store: "kv", op: "project.overwrite", error: errorKind(err) });
  }
}

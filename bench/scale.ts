import type { ExecutionContext } from "hono";
import { SYSTEM_ACTOR } from "../worker/audit/events";
import { primarySession } from "../worker/db/session";
import tessera from "../worker/index";
import { MEMORY_PROJECT_MAX_BYTES, MEMORY_TOKEN_MAX_BYTES } from "../worker/limits";
import { projectFactKey, projectFactMemory } from "../worker/orgs/project-facts";
import { tokenCache } from "../worker/tokens/cache";
import { hashToken } from "../worker/tokens/hash";
import { memoryCache } from "../worker/tokens/memory-cache";
import { createToken } from "../worker/tokens/store";
import { refreshEntries } from "../worker/tokens/structure-refresh";
import { BENCH_PERMISSIONS, seedBenchOrg } from "./seed";

// What the cache costs at an organization's scale (docs/DESIGN.md §3, "cost that does not grow with the
// organization"): counts, not timings, so they mean the same on any machine. One organization with
// SCALE_PROJECTS projects and SCALE_TOKENS tokens for all projects, beside a small one for comparison.

export const SCALE_PROJECTS = 10_000;
export const SCALE_TOKENS = 1_000;

export interface ScaleReport {
  projects: number;
  tokens: number;
  /** The KV entry of a token for all projects, in bytes. */
  tokenEntryBytes: number;
  /** Creating one project through the API: KV puts and deletes, and its time, here and in a small organization. */
  projectCreate: { kvWrites: number; ms: number; smallOrgKvWrites: number; smallOrgMs: number };
  /** With every token's entry and every project's fact in the isolate's memory tiers. */
  memory: { tokenBytes: number; tokenBoundBytes: number; projectFactBytes: number; projectFactBoundBytes: number };
}

/** KV with its writes counted, for one management call. */
function countingWrites(kv: KVNamespace): { kv: KVNamespace; writes: () => number } {
  let writes = 0;
  const counted = new Proxy(kv, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target) as unknown;
      if (typeof value !== "function") return value;
      if (prop === "put" || prop === "delete") {
        return (...args: unknown[]) => {
          writes++;
          return (value as (...a: unknown[]) => unknown).apply(target, args);
        };
      }
      return value.bind(target);
    },
  });
  return { kv: counted, writes: () => writes };
}

async function adminToken(env: Env, orgId: string, now: number) {
  const secret = await createToken(
    { ...env, d1: primarySession(env.DB) },
    {
      kind: "org",
      orgId,
      groupId: null,
      userId: null,
      name: `scale admin ${now}`,
      description: "",
      projects: "*",
      permissions: [...BENCH_PERMISSIONS, "manage:projects"],
      admin: true,
      expiresAt: null,
      permissionSetId: null,
    },
    SYSTEM_ACTOR,
    now,
  );
  return secret.secret;
}

/** Creates a project through the worker's own API with an admin token; KV writes counted. */
async function createProject(env: Env, ctx: ExecutionContext, orgSlug: string, secret: string, key: string) {
  const { kv, writes } = countingWrites(env.TOKEN_CACHE);
  const started = performance.now();
  const res = await tessera.fetch(
    new Request(`https://bench.local/api/orgs/${orgSlug}/projects`, {
      method: "POST",
      headers: { authorization: `Bearer ${secret}`, "content-type": "application/json" },
      body: JSON.stringify({ key, name: key }),
    }),
    { ...env, TOKEN_CACHE: kv },
    ctx,
  );
  const ms = performance.now() - started;
  if (res.status !== 201) throw new Error(`creating a project answered ${res.status}: ${await res.text()}`);
  return { kvWrites: writes(), ms: Math.round(ms * 10) / 10 };
}

export async function measureAtScale(env: Env, ctx: ExecutionContext): Promise<ScaleReport> {
  const now = Date.now();
  const small = await seedBenchOrg(env.DB, now);
  const smallAdmin = await adminToken(env, small.orgId, now);
  // The first management call of the isolate pays for its warm-up; the second is the one compared.
  await createProject(env, ctx, small.orgSlug, smallAdmin, `${small.orgSlug}-warm`);
  const smallCreate = await createProject(env, ctx, small.orgSlug, smallAdmin, `${small.orgSlug}-new`);

  const org = await seedBenchOrg(env.DB, now);
  const db = primarySession(env.DB);
  await db
    .prepare(
      `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?2)
       INSERT INTO projects (id, org_id, group_id, key, name, created_at, updated_at)
       SELECT lower(hex(randomblob(16))), ?1, NULL, printf('%s-s%05d', ?4, i), 'Scale ' || i, ?3, ?3 FROM n`,
    )
    .bind(org.orgId, SCALE_PROJECTS - org.projectKeys.length, now, org.orgSlug)
    .run();
  // One real token (its entry is written by a verification, as in production), rows standing for the rest.
  const secret = await adminToken(env, org.orgId, now);
  await db
    .prepare(
      `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?2)
       INSERT INTO tokens (id, kind, org_id, name, all_projects, hash, hint, created_at, created_by, updated_at)
       SELECT printf('%s-%05d', ?1, i), 'org', ?1, 'scale ' || i, 1, printf('%s-hash-%05d', ?1, i), 'tso_…0000',
         ?3, 'system', ?3 FROM n`,
    )
    .bind(org.orgId, SCALE_TOKENS - 1, now)
    .run();

  memoryCache.clear();
  const verified = await tessera.fetch(
    new Request(
      `https://bench.local/v1/verify?project=${org.orgSlug}-s${String(SCALE_PROJECTS - 20).padStart(5, "0")}`,
      {
        headers: { authorization: `Bearer ${secret}` },
      },
    ),
    env,
    ctx,
  );
  const answer = (await verified.json()) as { result: number };
  if (answer.result !== 0) throw new Error(`the scale token answered ${JSON.stringify(answer)}`);
  const hash = await hashToken(env.TOKEN_PEPPER, secret);
  const stored = await env.TOKEN_CACHE.get(tokenCache.kvKey(hash), "text");
  if (stored === null) throw new Error("the scale token's verification wrote no KV entry");

  const projectCreate = await createProject(env, ctx, org.orgSlug, secret, `${org.orgSlug}-new`);

  // Every token's entry rewritten as a refresh does (both tiers) and every project's fact remembered.
  memoryCache.clear();
  projectFactMemory.clear();
  const tokenRows = await db
    .prepare("SELECT hash FROM tokens WHERE org_id = ?1 AND all_projects = 1")
    .bind(org.orgId)
    .all<{ hash: string }>();
  await refreshEntries(
    { ...env, d1: db },
    tokenRows.results.map((r) => r.hash),
    Date.now(),
  );
  const facts = await db
    .prepare("SELECT key, id, group_id, updated_at FROM projects WHERE org_id = ?1")
    .bind(org.orgId)
    .all<{ key: string; id: string; group_id: string | null; updated_at: number }>();
  for (const p of facts.results) {
    projectFactMemory.remember(
      projectFactKey(org.orgId, p.key),
      { v: p.updated_at, project: { id: p.id, groupId: p.group_id } },
      Date.now(),
    );
  }
  const memory = {
    tokenBytes: memoryCache.bytes,
    tokenBoundBytes: MEMORY_TOKEN_MAX_BYTES,
    projectFactBytes: projectFactMemory.bytes,
    projectFactBoundBytes: MEMORY_PROJECT_MAX_BYTES,
  };
  memoryCache.clear();
  projectFactMemory.clear();
  return {
    projects: facts.results.length,
    tokens: tokenRows.results.length,
    tokenEntryBytes: stored.length,
    projectCreate: { ...projectCreate, smallOrgKvWrites: smallCreate.kvWrites, smallOrgMs: smallCreate.ms },
    memory,
  };
}

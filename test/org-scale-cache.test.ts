import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import {
  MEMORY_PROJECT_MAX_BYTES,
  MEMORY_TIERS_MAX_BYTES,
  MEMORY_TOKEN_MAX_BYTES,
  MEMORY_UPSTREAM_MAX_BYTES,
} from "../worker/limits";
import { projectFactCache, projectFactKey, projectFactMemory } from "../worker/orgs/project-facts";
import { memoryCache } from "../worker/tokens/memory-cache";
import { refreshEntries } from "../worker/tokens/structure-refresh";
import { OWNER, setupOwner, sudoSession } from "./support/api-client";
import { bulkTokens } from "./support/bulk-tokens";
import { countedCall } from "./support/counted-call";
import { storeEnv } from "./support/d1";
import { makeOrg, type OrgFixture } from "./support/fixtures";
import type { IoCall } from "./support/io";
import { resetIsolateCaches } from "./support/isolate";
import { kvKeyOf } from "./support/kv-entries";
import { readVerify, verifyUrl, viaEntrypoint, viaHandler } from "./support/verify-client";

// Issue 13 item 5: what the cache costs does not grow with the organization. One organization with
// 10,000 projects and 1,000 tokens for all projects, seeded in a few statements.

const PROJECTS = 10_000;
const TOKENS = 1_000;
const ENTRY_BUDGET_BYTES = 2 * 1024;
/** "A handful": the project's fact, whatever the organization's size. */
const CREATE_KV_WRITES_BUDGET = 3;

let org: OrgFixture;
let owner: string;
let secrets: string[];
let hashes: string[];

async function seedProjects(orgId: string, now: number): Promise<void> {
  await env.DB.prepare(
    `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?2)
     INSERT INTO projects (id, org_id, group_id, key, name, created_at, updated_at)
     SELECT lower(hex(randomblob(16))), ?1, NULL, printf('scale-project-%05d', i), 'Scale ' || i, ?3, ?3 FROM n`,
  )
    .bind(orgId, PROJECTS, now)
    .run();
}

/** Tokens for all projects, by the thousand: a few real ones (their secrets verify) and rows standing for the rest. */
async function seedTokens(orgId: string, now: number): Promise<void> {
  const prefix = crypto.randomUUID().slice(0, 8);
  await env.DB.prepare(
    `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?2)
     INSERT INTO tokens (id, kind, org_id, name, all_projects, hash, hint, created_at, created_by, updated_at)
     SELECT printf('%s-%05d', ?4, i), 'org', ?1, 'scale ' || i, 1, printf('%s-hash-%05d', ?4, i), 'tso_…0000',
       ?3, 'system', ?3 FROM n`,
  )
    .bind(orgId, TOKENS - secrets.length, now, prefix)
    .run();
  const rows = await env.DB.prepare("SELECT hash FROM tokens WHERE org_id = ?1 AND all_projects = 1")
    .bind(orgId)
    .all<{ hash: string }>();
  hashes = rows.results.map((r) => r.hash);
}

const kvWrites = (c: IoCall) => c.binding === "TOKEN_CACHE" && (c.op === "put" || c.op === "delete");

beforeAll(async () => {
  await setupOwner({ slug: "acme", name: "Acme" });
  owner = await sudoSession(OWNER.email, OWNER.password);
  const now = Date.now();
  org = await makeOrg(now);
  await seedProjects(org.orgId, now);
  secrets = await bulkTokens(org, 3, now);
  await seedTokens(org.orgId, now);
}, 180_000);

describe("10,000 projects and 1,000 tokens for all projects in one organization", () => {
  it("the seed holds them", async () => {
    const counted = await env.DB.prepare(
      "SELECT (SELECT count(*) FROM projects WHERE org_id = ?1) AS p, (SELECT count(*) FROM tokens WHERE org_id = ?1) AS t",
    )
      .bind(org.orgId)
      .first<{ p: number; t: number }>();
    expect(counted).toEqual({ p: PROJECTS + 3, t: TOKENS });
    expect(hashes).toHaveLength(TOKENS);
  });

  it("a token's KV entry stays under 2 KB, and verifies any of the projects", { timeout: 60_000 }, async () => {
    const [secret] = secrets;
    for (const project of ["scale-project-00001", "scale-project-10000", org.projectKeys.alpha]) {
      expect(await readVerify(await viaHandler(verifyUrl({ session: secret!, project })))).toMatchObject({
        result: 0,
      });
    }
    expect(await readVerify(await viaEntrypoint(verifyUrl({ session: secret!, project: "no-such" })))).toMatchObject({
      result: 8,
    });
    const stored = await env.TOKEN_CACHE.get(await kvKeyOf(secret!), "text");
    console.log(`token KV entry at ${PROJECTS.toLocaleString("en")} projects: ${stored?.length} bytes`);
    expect(stored!.length).toBeLessThan(ENTRY_BUDGET_BYTES);
    const fact = await env.TOKEN_CACHE.get(projectFactCache.kvKey(projectFactKey(org.orgId, "scale-project-00001")));
    expect(fact!.length).toBeLessThan(200);
  });

  it("creating a project makes a handful of KV writes, whatever the number of tokens", {
    timeout: 60_000,
  }, async () => {
    const { status, log, ms } = await countedCall(owner, "POST", `/api/orgs/${org.orgSlug}/projects`, {
      key: "scale-new",
      name: "New",
    });
    expect(status).toBe(201);
    console.log(
      `project create at ${PROJECTS.toLocaleString("en")} projects and ${TOKENS.toLocaleString("en")} "*" tokens: ` +
        `${log.count("TOKEN_CACHE", kvWrites)} KV writes, ${log.count("DB")} D1 calls, ${ms.toFixed(0)} ms`,
    );
    expect(log.count("TOKEN_CACHE", kvWrites)).toBeLessThanOrEqual(CREATE_KV_WRITES_BUDGET);
    resetIsolateCaches();
    expect(
      await readVerify(await viaEntrypoint(verifyUrl({ session: secrets[1]!, project: "scale-new" }))),
    ).toMatchObject({ result: 0 });
  });

  it("the memory tiers stay within their byte bounds with every token and every project cached", {
    timeout: 120_000,
  }, async () => {
    expect(MEMORY_TOKEN_MAX_BYTES + MEMORY_UPSTREAM_MAX_BYTES + MEMORY_PROJECT_MAX_BYTES).toBe(MEMORY_TIERS_MAX_BYTES);
    expect(MEMORY_TIERS_MAX_BYTES).toBeLessThanOrEqual(32 * 1024 * 1024);
    resetIsolateCaches();
    // Every token's entry rewritten (as a refresh does: both tiers), every project's fact remembered.
    const { refreshed } = await refreshEntries(storeEnv(env), hashes, Date.now());
    expect(refreshed).toBe(TOKENS);
    const facts = await env.DB.prepare("SELECT key, id, group_id, updated_at FROM projects WHERE org_id = ?1")
      .bind(org.orgId)
      .all<{ key: string; id: string; group_id: string | null; updated_at: number }>();
    for (const p of facts.results) {
      projectFactMemory.remember(
        projectFactKey(org.orgId, p.key),
        { v: p.updated_at, project: { id: p.id, groupId: p.group_id } },
        Date.now(),
      );
    }
    console.log(
      `memory at ${TOKENS.toLocaleString("en")} tokens and ${facts.results.length.toLocaleString("en")} projects: ` +
        `tokens ${memoryCache.entries} entries, ${memoryCache.bytes} bytes; ` +
        `project facts ${projectFactMemory.entries} entries, ${projectFactMemory.bytes} bytes`,
    );
    expect(memoryCache.entries).toBe(TOKENS);
    expect(memoryCache.bytes).toBeLessThanOrEqual(MEMORY_TOKEN_MAX_BYTES);
    expect(memoryCache.bytes / TOKENS).toBeLessThan(ENTRY_BUDGET_BYTES);
    expect(projectFactMemory.entries).toBe(facts.results.length);
    expect(projectFactMemory.bytes).toBeLessThanOrEqual(MEMORY_PROJECT_MAX_BYTES);
  });
});

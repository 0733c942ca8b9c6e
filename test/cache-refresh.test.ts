import { env } from "cloudflare:workers";
import { and, eq } from "drizzle-orm";
import { beforeAll, beforeEach, describe, expect, it } from "vitest";
import { database } from "../worker/db/client";
import { memberships, projects, tokens } from "../worker/db/schema";
import { primarySession } from "../worker/db/session";
import { HOUR_MS } from "../worker/limits";
import { overwriteProjectFact, projectFactCache, projectFactKey } from "../worker/orgs/project-facts";
import { deleteProject } from "../worker/orgs/projects";
import { memoryCache } from "../worker/tokens/memory-cache";
import { revokeToken } from "../worker/tokens/store";
import { OWNER, setupOwner, sudoSession } from "./support/api-client";
import { bulkTokens } from "./support/bulk-tokens";
import { countedCall } from "./support/counted-call";
import { storeEnv } from "./support/d1";
import { makeGroup, makeMember, makeOrg, makeToken, type OrgFixture, testActor } from "./support/fixtures";
import { countingEnv, type IoCall, type IoLog } from "./support/io";
import { resetIsolateCaches } from "./support/isolate";
import { kvEntryOf, kvKeyOf } from "./support/kv-entries";
import { readVerify, verifyUrl, viaEntrypoint, viaHandler } from "./support/verify-client";

// Structure changes (projects, groups, memberships) rewrite the cached reach of the tokens they can affect,
// and only those, in bulk and within a fixed budget whatever the organization's size.

/** Well under Workers' 1,000 per invocation, with room for everything else the request does. */
const D1_BOUND = 100;
const KV_BOUND = 500;

let owner: string;

beforeAll(async () => {
  await setupOwner({ slug: "acme", name: "Acme" });
  owner = await sudoSession(OWNER.email, OWNER.password);
});
beforeEach(() => resetIsolateCaches());

/** A management call as the owner, with counted bindings. */
const counted = (method: string, path: string, body?: unknown) => countedCall(owner, method, path, body);

const kvWrites = (c: IoCall) => c.binding === "TOKEN_CACHE" && (c.op === "put" || c.op === "delete");
const writtenKeys = (log: IoLog) => new Set(log.calls.filter(kvWrites).map((c) => c.detail));
const keysOf = async (secrets: string[]) => new Set(await Promise.all(secrets.map(kvKeyOf)));
const factKey = (org: OrgFixture, key: string) => projectFactCache.kvKey(projectFactKey(org.orgId, key));

async function resultOf(secret: string, project: string): Promise<number> {
  return (await readVerify(await viaEntrypoint(verifyUrl({ session: secret, project })))).result;
}

/** Verifies through a fresh isolate's memory: what KV (every other location) now says. */
async function resultFromKv(secret: string, project: string): Promise<number> {
  memoryCache.clear();
  return resultOf(secret, project);
}

/** The project's row, read at the primary. */
async function projectRow(org: OrgFixture, key: string) {
  const row = await database(primarySession(env.DB))
    .select()
    .from(projects)
    .where(and(eq(projects.orgId, org.orgId), eq(projects.key, key)))
    .get();
  return row!;
}

const projectId = async (org: OrgFixture, key: string): Promise<string> => (await projectRow(org, key)).id;

describe("creating a project", () => {
  // Seeding 1,005 tokens alone can pass the default 5 s on a loaded machine.
  it("rewrites no token entry, only the project's fact, with a handful of queries", { timeout: 60_000 }, async () => {
    const org = await makeOrg();
    const seeded = Date.now() - HOUR_MS;
    await bulkTokens(org, 1_000, seeded, { projectIds: [await projectId(org, org.projectKeys.alpha)] });
    const everything = await bulkTokens(org, 5, seeded);
    for (const secret of everything) expect(await resultOf(secret, "fresh")).toBe(8);

    const { status, log, ms } = await counted("POST", `/api/orgs/${org.orgSlug}/projects`, {
      key: "fresh",
      name: "Fresh",
    });

    expect(status).toBe(201);
    expect(writtenKeys(log)).toEqual(new Set([factKey(org, "fresh")]));
    expect(log.count("TOKEN_CACHE", kvWrites)).toBe(1);
    expect(log.count("DB")).toBeLessThanOrEqual(12);
    console.log(
      `project create, 1,005 tokens: ${log.count("DB")} D1 calls, ${log.count("TOKEN_CACHE")} KV calls, ${ms.toFixed(0)} ms`,
    );
    for (const secret of everything) expect(await resultOf(secret, "fresh")).toBe(0);
    for (const secret of everything) expect(await resultFromKv(secret, "fresh")).toBe(0);
  });

  it("in a group reaches that group's tokens for all projects and leaves other groups' alone", async () => {
    const org = await makeOrg();
    const otherGroup = await makeGroup(org, "other");
    const own = await makeToken(org, { kind: "group", groupId: org.groupId });
    const other = await makeToken(org, { kind: "group", groupId: otherGroup });

    const { status, log } = await counted("POST", `/api/orgs/${org.orgSlug}/projects`, {
      key: "grouped-new",
      name: "New",
      group: org.groupSlug,
    });

    expect(status).toBe(201);
    expect(writtenKeys(log)).toEqual(new Set([factKey(org, "grouped-new")]));
    expect(await resultOf(own.secret, "grouped-new")).toBe(0);
    expect(await resultOf(other.secret, "grouped-new")).toBe(8);
  });
});

describe("narrowing changes reach the caches at once", () => {
  it("deleting a project takes it out of a token that names it, in memory and in KV", async () => {
    const org = await makeOrg();
    const { secret } = await makeToken(org, { projects: [org.projectKeys.alpha, org.projectKeys.beta] });
    expect(await resultOf(secret, org.projectKeys.alpha)).toBe(0);

    const { status } = await counted("DELETE", `/api/orgs/${org.orgSlug}/projects/${org.projectKeys.alpha}`);

    expect(status).toBe(204);
    expect(await resultOf(secret, org.projectKeys.alpha)).toBe(8);
    expect((await kvEntryOf(secret))?.token?.projects).toEqual([
      { id: await projectId(org, org.projectKeys.beta), key: org.projectKeys.beta },
    ]);
    expect(await resultFromKv(secret, org.projectKeys.alpha)).toBe(8);
    expect(await resultFromKv(secret, org.projectKeys.beta)).toBe(0);
  });

  it("a group token for all projects loses a project moved out of its group", async () => {
    const org = await makeOrg();
    const { secret } = await makeToken(org, { kind: "group", groupId: org.groupId });
    expect(await resultOf(secret, org.projectKeys.grouped)).toBe(0);

    const { status } = await counted("PATCH", `/api/orgs/${org.orgSlug}/projects/${org.projectKeys.grouped}`, {
      group: null,
    });

    expect(status).toBe(200);
    expect(await resultOf(secret, org.projectKeys.grouped)).toBe(8);
    expect(await resultFromKv(secret, org.projectKeys.grouped)).toBe(8);
  });

  it("deleting a group narrows its members' personal tokens who stay in the organization", async () => {
    const org = await makeOrg();
    const userId = await makeMember(org.orgId, "group_member", { groupId: org.groupId });
    const stays = await makeGroup(org, "stays");
    const now = Date.now();
    await database(primarySession(env.DB)).insert(memberships).values({
      id: crypto.randomUUID(),
      userId,
      orgId: org.orgId,
      groupId: stays,
      role: "group_member",
      permissions: null,
      createdAt: now,
      updatedAt: now,
    });
    const { secret } = await makeToken(org, { kind: "personal", userId, projects: [org.projectKeys.grouped] });
    expect(await resultOf(secret, org.projectKeys.grouped)).toBe(0);

    const { status, log } = await counted("DELETE", `/api/orgs/${org.orgSlug}/groups/${org.groupSlug}`);

    expect(status).toBe(204);
    expect(writtenKeys(log)).toContain(await kvKeyOf(secret));
    expect(await resultOf(secret, org.projectKeys.grouped)).toBe(8);
    expect(await resultFromKv(secret, org.projectKeys.grouped)).toBe(8);
  });

  it("removing one of two memberships narrows the personal tokens of a member who stays; they stay live", async () => {
    const org = await makeOrg();
    const userId = await makeMember(org.orgId, "group_member", { groupId: org.groupId });
    const stays = await makeGroup(org, "stays-member");
    const now = Date.now();
    await database(primarySession(env.DB)).insert(memberships).values({
      id: crypto.randomUUID(),
      userId,
      orgId: org.orgId,
      groupId: stays,
      role: "group_member",
      permissions: null,
      createdAt: now,
      updatedAt: now,
    });
    const { secret, token } = await makeToken(org, { kind: "personal", userId, projects: [org.projectKeys.grouped] });
    expect(await resultOf(secret, org.projectKeys.grouped)).toBe(0);
    const removed = (await env.DB.prepare("SELECT id FROM memberships WHERE user_id = ?1 AND group_id = ?2")
      .bind(userId, org.groupId)
      .first<{ id: string }>())!;

    const { status, log } = await counted("DELETE", `/api/orgs/${org.orgSlug}/members/${removed.id}`);

    expect(status).toBe(204);
    expect(writtenKeys(log)).toContain(await kvKeyOf(secret));
    expect(await resultOf(secret, org.projectKeys.grouped)).toBe(8);
    expect(await resultFromKv(secret, org.projectKeys.grouped)).toBe(8);
    const row = await env.DB.prepare("SELECT revoked_at FROM tokens WHERE id = ?1").bind(token.id).first();
    expect(row).toEqual({ revoked_at: null });
  });

  it("a revoke landing between the bulk read and the rewrite is not buried under the older entry", async () => {
    const org = await makeOrg();
    const token = await makeToken(org, { projects: [org.projectKeys.alpha, org.projectKeys.beta] });
    expect(await resultOf(token.secret, org.projectKeys.beta)).toBe(0);
    const { env: bindings, log } = countingEnv();
    log.around = async (call, proceed) => {
      const result = await proceed();
      if (call.binding === "DB" && call.detail.includes("WHERE t.hash IN")) {
        log.around = null;
        await revokeToken(storeEnv(env), org.orgId, token.token.id, testActor, Date.now());
      }
      return result;
    };
    const project = await projectRow(org, org.projectKeys.alpha);

    await deleteProject(storeEnv(bindings), project, testActor, Date.now());

    expect(log.around).toBeNull(); // the revoke did land mid-refresh
    expect(await resultOf(token.secret, org.projectKeys.beta)).toBe(6);
    expect(await resultFromKv(token.secret, org.projectKeys.beta)).toBe(6);
  });

  it("a KV outage during the refresh does not fail the committed change", async () => {
    const org = await makeOrg();
    const { secret } = await makeToken(org, { projects: [org.projectKeys.alpha] });
    expect(await resultOf(secret, org.projectKeys.alpha)).toBe(0);
    const { env: bindings, log } = countingEnv();
    log.around = async (call, proceed) => {
      if (call.binding === "TOKEN_CACHE" && call.op !== "get") throw new Error("KV is down");
      return proceed();
    };
    const project = await projectRow(org, org.projectKeys.alpha);

    await expect(deleteProject(storeEnv(bindings), project, testActor, Date.now())).resolves.toBeUndefined();

    expect(
      await database(primarySession(env.DB)).select().from(projects).where(eq(projects.id, project.id)).get(),
    ).toBeUndefined();
  });
});

describe("a project's fact written late", () => {
  it("does not survive in KV when D1 has moved on: a move's put landing after the delete's tombstone is withdrawn", async () => {
    const org = await makeOrg();
    const everything = await makeToken(org);
    const row = await projectRow(org, org.projectKeys.alpha);
    const moveAt = Date.now();
    await deleteProject(storeEnv(env), row, testActor, moveAt + 1000);
    // A move that committed first writes its fact last (KV keeps the last put, not the newest state).
    await overwriteProjectFact(
      storeEnv(env),
      org.orgId,
      row.key,
      { v: moveAt, project: { id: row.id, groupId: null } },
      moveAt,
    );

    resetIsolateCaches();
    expect(await resultOf(everything.secret, org.projectKeys.alpha)).toBe(8);
  });

  it("is deleted from KV when its put fails, so the old fact cannot outlive the change", async () => {
    const org = await makeOrg();
    const everything = await makeToken(org);
    const { env: bindings, log } = countingEnv();
    log.around = async (call, proceed) => {
      if (call.binding === "TOKEN_CACHE" && call.op === "put") throw new Error("KV put failed");
      return proceed();
    };
    const row = await projectRow(org, org.projectKeys.alpha);

    // Other locations hold the live fact in KV.
    const live = { v: row.updatedAt, project: { id: row.id, groupId: row.groupId } };
    await projectFactCache.overwrite(env.TOKEN_CACHE, projectFactKey(org.orgId, row.key), live, Date.now());

    await deleteProject(storeEnv(bindings), row, testActor, Date.now());

    expect(await env.TOKEN_CACHE.get(factKey(org, org.projectKeys.alpha))).toBeNull();

    resetIsolateCaches();
    expect(await resultOf(everything.secret, org.projectKeys.alpha)).toBe(8);
  });
});

describe("a D1 read failing after the commit", () => {
  it("neither fails the committed change nor skips the project's tombstone; the token entries are handed on", async () => {
    const org = await makeOrg();
    const named = await makeToken(org, { projects: [org.projectKeys.alpha] });
    const everything = await makeToken(org);
    expect(await resultOf(everything.secret, org.projectKeys.alpha)).toBe(0);
    const { env: bindings, log } = countingEnv();
    log.around = async (call, proceed) => {
      // The refresh's lookup of the affected tokens, after the change has committed.
      if (call.binding === "DB" && call.detail.includes("WHERE t.hash IN")) throw new Error("D1 is down");
      return proceed();
    };
    const project = await projectRow(org, org.projectKeys.alpha);

    await expect(deleteProject(storeEnv(bindings), project, testActor, Date.now())).resolves.toBeUndefined();

    resetIsolateCaches();
    expect(await resultOf(everything.secret, org.projectKeys.alpha)).toBe(8);
    expect(await resultOf(named.secret, org.projectKeys.alpha)).toBe(8);
  });
});

describe("an organization with more tokens for all projects than the inline bound", () => {
  it("deleting a project touches none of their entries: its fact's tombstone takes it from them all", {
    timeout: 60_000,
  }, async () => {
    const org = await makeOrg();
    const seeded = Date.now() - HOUR_MS;
    const idle = await bulkTokens(org, 1_500, seeded);
    // In use: verified (cached in KV, usage recorded) before the change.
    const inUse = idle.slice(1_200, 1_203);
    for (const secret of inUse) {
      expect(
        await readVerify(await viaHandler(verifyUrl({ session: secret, project: org.projectKeys.alpha }))),
      ).toMatchObject({ result: 0 });
    }

    const { status, log, ms } = await counted("DELETE", `/api/orgs/${org.orgSlug}/projects/${org.projectKeys.alpha}`);

    expect(status).toBe(204);
    const d1 = log.count("DB");
    const kv = log.count("TOKEN_CACHE");
    console.log(`project delete, 1,500 "*" tokens: ${d1} D1 calls, ${kv} KV calls, ${ms.toFixed(0)} ms`);
    expect(d1).toBeLessThanOrEqual(D1_BOUND);
    expect(kv).toBeLessThanOrEqual(KV_BOUND);
    expect(writtenKeys(log)).toEqual(new Set([factKey(org, org.projectKeys.alpha)]));
    const versions = await database(primarySession(env.DB))
      .select({ version: tokens.version })
      .from(tokens)
      .where(eq(tokens.orgId, org.orgId));
    expect(versions.filter((t) => t.version === 1)).toHaveLength(1_500);
    for (const secret of inUse) expect(await resultFromKv(secret, org.projectKeys.alpha)).toBe(8);
    // A location that has not seen the tombstone yet: KV is what other locations read.
    resetIsolateCaches();
    for (const secret of inUse) expect(await resultOf(secret, org.projectKeys.alpha)).toBe(8);
  });
});

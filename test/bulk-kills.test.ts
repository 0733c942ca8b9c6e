import { env } from "cloudflare:workers";
import { beforeAll, beforeEach, describe, expect, it } from "vitest";
import { database } from "../worker/db/client";
import { memberships } from "../worker/db/schema";
import { primarySession } from "../worker/db/session";
import { reportLeaks } from "../worker/leaks/report";
import { BULK_KILL_INLINE_MAX, HOUR_MS } from "../worker/limits";
import { MAX_BULK_IDS } from "../worker/routes/api/token-fields";
import { revokeTokensBulk } from "../worker/tokens/bulk-revoke";
import { hashToken } from "../worker/tokens/hash";
import { memoryCache } from "../worker/tokens/memory-cache";
import { revokeToken, revokeTokens } from "../worker/tokens/store";
import { OWNER, setupOwner, sudoSession } from "./support/api-client";
import { bulkTokens } from "./support/bulk-tokens";
import { countedCall } from "./support/counted-call";
import { storeEnv } from "./support/d1";
import { makeGroup, makeMember, makeOrg, testActor } from "./support/fixtures";
import { countingEnv, type IoCall, type IoLog } from "./support/io";
import { resetIsolateCaches } from "./support/isolate";
import { kvEntryOf } from "./support/kv-entries";
import { readVerify, verifyUrl, viaEntrypoint, viaHandler } from "./support/verify-client";

// Killing many tokens at once (bulk revoke, a member's removal, a group's deletion, a leak report) fits
// Workers' per-invocation limits of 1,000 D1 queries and 1,000 KV operations, and every token it kills
// stops verifying with one audit event each.

/** Half of Workers' per-invocation limits: room for everything else a request does. */
const D1_BOUND = 500;
const KV_BOUND = 500;

let owner: string;

beforeAll(async () => {
  await setupOwner({ slug: "acme", name: "Acme" });
  owner = await sudoSession(OWNER.email, OWNER.password);
});
beforeEach(() => resetIsolateCaches());

/** A management call as the owner, with counted bindings. */
const counted = (method: string, path: string, body?: unknown) => countedCall(owner, method, path, body);

const kvPuts = (c: IoCall) => c.binding === "TOKEN_CACHE" && c.op === "put";

function report(what: string, log: IoLog): void {
  console.log(
    `${what}: ${log.count("DB")} D1 calls, ${log.count("TOKEN_CACHE")} KV calls (${log.count("TOKEN_CACHE", kvPuts)} puts)`,
  );
  expect(log.count("DB")).toBeLessThanOrEqual(D1_BOUND);
  expect(log.count("TOKEN_CACHE")).toBeLessThanOrEqual(KV_BOUND);
}

const resultOf = async (secret: string) =>
  (await readVerify(await viaEntrypoint(verifyUrl({ session: secret })))).result;

/** Verified through the worker, waiting for its cache fill and usage write: the token is now "in use". */
async function use(secret: string): Promise<void> {
  expect(await readVerify(await viaHandler(verifyUrl({ session: secret })))).toMatchObject({ result: 0 });
}

/** Token ids by secret, read before anything is deleted. */
async function idsOf(orgId: string, secrets: string[]): Promise<string[]> {
  const { results } = await env.DB.prepare("SELECT id, hash FROM tokens WHERE org_id = ?1")
    .bind(orgId)
    .all<{ id: string; hash: string }>();
  const byHash = new Map(results.map((r) => [r.hash, r.id]));
  return Promise.all(secrets.map(async (s) => byHash.get(await hashToken(env.TOKEN_PEPPER, s))!));
}

/** How many events of `action` each token of the organization has. */
async function eventsPerToken(orgId: string, action: string): Promise<Map<string, number>> {
  const { results } = await env.DB.prepare(
    "SELECT target_id, count(*) AS n FROM audit_events WHERE org_id = ?1 AND action = ?2 GROUP BY target_id",
  )
    .bind(orgId, action)
    .all<{ target_id: string; n: number }>();
  return new Map(results.map((r) => [r.target_id, r.n]));
}

async function expectOneEventEach(orgId: string, action: string, ids: string[]): Promise<void> {
  const events = await eventsPerToken(orgId, action);
  expect(ids.filter((id) => events.get(id) !== 1)).toEqual([]);
  expect(events.size).toBe(ids.length);
}

describe("bulk revoke of the largest selection", () => {
  it("revokes every token in a few queries, each fails its next verify and has one event", async () => {
    const org = await makeOrg();
    const secrets = await bulkTokens(org, MAX_BULK_IDS, Date.now() - HOUR_MS);
    const ids = await idsOf(org.orgId, secrets);
    const inUse = secrets.slice(40, 43);
    for (const secret of inUse) await use(secret);

    const { status, body, log } = await counted("POST", `/api/orgs/${org.orgSlug}/tokens/revoke`, { ids });

    expect(status).toBe(200);
    expect(body).toEqual({ revoked: ids, notFound: [] });
    report(`bulk revoke, ${MAX_BULK_IDS} tokens`, log);
    expect(log.count("DB")).toBeLessThanOrEqual(20);
    for (const secret of secrets) expect(await resultOf(secret)).toBe(6);
    // Every other location: what KV now says.
    for (const secret of inUse) expect((await kvEntryOf(secret))?.token?.revokedAt).not.toBeNull();
    await expectOneEventEach(org.orgId, "token.revoked", ids);
  });

  it("reports ids it did not find, and a second revoke of the same tokens audits nothing new", async () => {
    const org = await makeOrg();
    const secrets = await bulkTokens(org, 3);
    const ids = await idsOf(org.orgId, secrets);
    const stranger = await makeOrg();
    const [foreign] = await idsOf(stranger.orgId, await bulkTokens(stranger, 1));

    const first = await counted("POST", `/api/orgs/${org.orgSlug}/tokens/revoke`, {
      ids: [ids[0], foreign, ids[1], "no-such-id"],
    });
    const again = await counted("POST", `/api/orgs/${org.orgSlug}/tokens/revoke`, { ids });

    expect(first.body).toEqual({ revoked: [ids[0], ids[1]], notFound: [foreign, "no-such-id"] });
    expect(again.body).toEqual({ revoked: ids, notFound: [] });
    await expectOneEventEach(org.orgId, "token.revoked", ids);
    expect((await eventsPerToken(stranger.orgId, "token.revoked")).size).toBe(0);
  });
});

describe("removing a member with 300 personal tokens", () => {
  it("revokes them all within the budget; each fails its next verify and has one event", async () => {
    const org = await makeOrg();
    const userId = await makeMember(org.orgId, "org_member");
    const secrets = await bulkTokens(org, 300, Date.now() - HOUR_MS, { kind: "personal", userId });
    const ids = await idsOf(org.orgId, secrets);
    const inUse = secrets.slice(250, 253);
    for (const secret of inUse) await use(secret);
    const membership = (await env.DB.prepare("SELECT id FROM memberships WHERE user_id = ?1")
      .bind(userId)
      .first<{ id: string }>())!;

    const { status, log } = await counted("DELETE", `/api/orgs/${org.orgSlug}/members/${membership.id}`);

    expect(status).toBe(204);
    report("member removal, 300 personal tokens", log);
    // The structure refresh and the revoke each rewrite at most BULK_KILL_INLINE_MAX entries.
    expect(log.count("TOKEN_CACHE", kvPuts)).toBeLessThanOrEqual(2 * BULK_KILL_INLINE_MAX);
    for (const secret of secrets) expect(await resultOf(secret)).toBe(6);
    memoryCache.clear();
    for (const secret of inUse) expect(await resultOf(secret)).toBe(6);
    await expectOneEventEach(org.orgId, "token.revoked", ids);
  });

  it("keeps the tokens of someone who still has another membership", async () => {
    const org = await makeOrg();
    const userId = await makeMember(org.orgId, "org_member");
    const now = Date.now();
    const second = crypto.randomUUID();
    await database(primarySession(env.DB)).insert(memberships).values({
      id: second,
      userId,
      orgId: org.orgId,
      groupId: org.groupId,
      role: "group_member",
      permissions: null,
      createdAt: now,
      updatedAt: now,
    });
    const [secret] = await bulkTokens(org, 1, now, { kind: "personal", userId });

    expect(
      await revokeTokensBulk(storeEnv(env), org.orgId, { leavers: [userId] }, testActor, Date.now()),
    ).toMatchObject({
      revoked: [],
    });
    expect(await resultOf(secret!)).toBe(0);
  });
});

describe("deleting a group with 300 tokens", () => {
  it("deletes them all behind tombstones within the budget; each fails its next verify and has one event", async () => {
    const org = await makeOrg();
    const groupId = await makeGroup(org, "big");
    const seeded = Date.now() - HOUR_MS;
    const secrets = await bulkTokens(org, 300, seeded, { kind: "group", groupId });
    const ids = await idsOf(org.orgId, secrets);
    const inUse = secrets.slice(280, 283);
    for (const secret of inUse) await use(secret);
    // Cached in KV, but idle as far as D1 knows: past the inline bound, found by the KV read instead.
    const quiet = secrets[5]!;
    await use(quiet);
    await env.DB.prepare("UPDATE tokens SET last_used_at = NULL, updated_at = ?2 WHERE id = ?1")
      .bind(ids[5], seeded - HOUR_MS)
      .run();

    const { status, log } = await counted("DELETE", `/api/orgs/${org.orgSlug}/groups/${org.orgSlug}-big`);

    expect(status).toBe(204);
    report("group deletion, 300 group tokens", log);
    // A tombstone for each of the most recently used, and one for the idle token KV held an entry for.
    expect(log.count("TOKEN_CACHE", kvPuts)).toBe(BULK_KILL_INLINE_MAX + 1);
    expect(await env.DB.prepare("SELECT count(*) AS n FROM tokens WHERE group_id = ?1").bind(groupId).first("n")).toBe(
      0,
    );
    for (const secret of secrets) expect(await resultOf(secret)).not.toBe(0);
    memoryCache.clear();
    // What every other location reads: a tombstone, never the "valid" entry cached before.
    for (const secret of [...inUse, quiet]) {
      expect((await kvEntryOf(secret))?.token?.revokedAt).not.toBeNull();
      expect(await resultOf(secret)).toBe(6);
    }
    await expectOneEventEach(org.orgId, "token.deleted", ids);
  });
});

describe("a leak report naming several tokens", () => {
  it("revokes them in bulk, each with one revoke and one leak event", async () => {
    const org = await makeOrg();
    const secrets = await bulkTokens(org, 20);
    const ids = await idsOf(org.orgId, secrets);
    const { env: bindings, log } = countingEnv();

    const result = await reportLeaks(
      storeEnv(bindings),
      secrets.map((token) => ({ token })),
      { kind: "admin", orgId: org.orgId, actor: testActor },
      Date.now(),
    );

    expect(result.verdicts.map((v) => v.result)).toEqual(secrets.map(() => "revoked"));
    expect(result.verdicts.map((v) => v.tokenId)).toEqual(ids);
    expect(log.count("DB")).toBeLessThanOrEqual(10);
    for (const secret of secrets) expect(await resultOf(secret)).toBe(6);
    await expectOneEventEach(org.orgId, "token.revoked", ids);
    await expectOneEventEach(org.orgId, "token.leaked", ids);
  });
});

describe("a revoke racing with a bulk revoke", () => {
  it("a token revoked while the bulk revoke runs is recorded once", async () => {
    const org = await makeOrg();
    const secrets = await bulkTokens(org, 5);
    const ids = await idsOf(org.orgId, secrets);
    const { env: bindings, log } = countingEnv();
    log.around = async (call, proceed) => {
      if (call.binding === "DB" && call.op === "batch") {
        log.around = null;
        await revokeToken(storeEnv(env), org.orgId, ids[2]!, testActor, Date.now());
      }
      return proceed();
    };

    const result = await revokeTokens(storeEnv(bindings), org.orgId, ids, testActor, Date.now());

    expect(log.around).toBeNull(); // the single revoke did land first
    expect(result).toEqual({ revoked: ids, notFound: [] });
    for (const secret of secrets) expect(await resultOf(secret)).toBe(6);
    await expectOneEventEach(org.orgId, "token.revoked", ids);
  });

  it("a bulk revoke landing after a single revoke read the token is recorded once", async () => {
    const org = await makeOrg();
    const secrets = await bulkTokens(org, 3);
    const ids = await idsOf(org.orgId, secrets);
    const { env: bindings, log } = countingEnv();
    log.around = async (call, proceed) => {
      if (call.binding === "DB" && call.op === "batch") {
        log.around = null;
        await revokeTokensBulk(storeEnv(env), org.orgId, { ids }, testActor, Date.now());
      }
      return proceed();
    };

    const view = await revokeToken(storeEnv(bindings), org.orgId, ids[0]!, testActor, Date.now());

    expect(log.around).toBeNull();
    expect(view.status).toBe("revoked");
    for (const secret of secrets) expect(await resultOf(secret)).toBe(6);
    await expectOneEventEach(org.orgId, "token.revoked", ids);
  });
});

describe("more revoked tokens than the inline bound", () => {
  it("revokes every row in D1 and rewrites the most recently used entries first", async () => {
    const org = await makeOrg();
    const seeded = Date.now() - HOUR_MS;
    const userId = await makeMember(org.orgId, "org_member");
    const secrets = await bulkTokens(org, BULK_KILL_INLINE_MAX + 50, seeded, { kind: "personal", userId });
    const inUse = secrets.slice(-3);
    for (const secret of inUse) await use(secret);
    await env.DB.prepare("DELETE FROM memberships WHERE user_id = ?1").bind(userId).run();
    const { env: bindings, log } = countingEnv();

    const result = await revokeTokensBulk(storeEnv(bindings), org.orgId, { leavers: [userId] }, testActor, Date.now());

    expect(result.revoked).toHaveLength(secrets.length);
    expect(result).toMatchObject({ refreshed: BULK_KILL_INLINE_MAX, queued: 50, leftToExpire: 0 });
    expect(log.count("TOKEN_CACHE", kvPuts)).toBe(BULK_KILL_INLINE_MAX);
    const live = await env.DB.prepare("SELECT count(*) AS n FROM tokens WHERE user_id = ?1 AND revoked_at IS NULL")
      .bind(userId)
      .first("n");
    expect(live).toBe(0);
    memoryCache.clear();
    for (const secret of inUse) expect(await resultOf(secret)).toBe(6);
  });
});

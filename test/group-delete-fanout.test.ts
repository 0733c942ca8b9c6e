import { env } from "cloudflare:workers";
import { beforeAll, beforeEach, describe, expect, it } from "vitest";
import { SESSION_COOKIE } from "../worker/accounts/limits";
import { database } from "../worker/db/client";
import { memberships, users } from "../worker/db/schema";
import { primarySession } from "../worker/db/session";
import { BULK_KILL_INLINE_MAX, D1_MAX_BOUND_PARAMETERS, HOUR_MS, KV_TOKEN_KEY_PREFIX } from "../worker/limits";
import type { CacheFanoutMessage } from "../worker/queue/fanout-message";
import type { CacheEntry } from "../worker/tokens/cached";
import { hashToken } from "../worker/tokens/hash";
import { memoryCache } from "../worker/tokens/memory-cache";
import { ORIGIN, OWNER, setupOwner, sudoSession } from "./support/api-client";
import { bulkTokens } from "./support/bulk-tokens";
import { makeGroup, makeMember, makeOrg, makeToken, type OrgFixture } from "./support/fixtures";
import { countingEnv, type IoCall, type IoLog } from "./support/io";
import { resetIsolateCaches } from "./support/isolate";
import { kvEntryOf, kvKeyOf } from "./support/kv-entries";
import { readVerify, verifyUrl, viaEntrypoint, viaHandler } from "./support/verify-client";

// Deleting a group revokes the personal tokens of its members who belong nowhere else in the organization
// (leavers) in the same commit as the group's deletion, and refreshes only the others' (stayers). Each
// leaver token's cache entry is written once, as revoked, inline or through the fan-out queue, and is never
// rewritten as valid on the way.

let owner: string;

beforeAll(async () => {
  await setupOwner({ slug: "acme", name: "Acme" });
  owner = await sudoSession(OWNER.email, OWNER.password);
});
beforeEach(() => resetIsolateCaches());

interface Deletion {
  status: number;
  log: IoLog;
  /** Hashes sent to the fan-out queue, in order, repeats kept. */
  queued: string[];
  /** For each KV put of a token entry: its hash and whether the entry it wrote said "revoked". */
  puts: { hash: string; revoked: boolean }[];
}

/** DELETE of the group through the worker, with counted bindings and a fan-out queue that keeps what it is sent. */
async function deleteGroupCounted(
  org: OrgFixture,
  groupSlug: string,
  after?: (call: IoCall) => Promise<void>,
): Promise<Deletion> {
  const { env: bindings, log } = countingEnv();
  const queued: string[] = [];
  const puts: Deletion["puts"] = [];
  log.around = async (call, proceed) => {
    const result = await proceed();
    await after?.(call);
    if (call.binding === "TOKEN_CACHE" && call.op === "put" && call.detail.startsWith(KV_TOKEN_KEY_PREFIX)) {
      const entry = await env.TOKEN_CACHE.get<CacheEntry>(call.detail, "json");
      puts.push({ hash: call.detail.slice(KV_TOKEN_KEY_PREFIX.length), revoked: entry?.token?.revokedAt != null });
    }
    return result;
  };
  const queue = {
    async sendBatch(messages: Iterable<MessageSendRequest<CacheFanoutMessage>>) {
      for (const m of messages) queued.push(...m.body.hashes);
    },
  };
  const res = await viaHandler(
    new Request(`${ORIGIN}/api/orgs/${org.orgSlug}/groups/${groupSlug}`, {
      method: "DELETE",
      headers: { cookie: `${SESSION_COOKIE}=${owner}`, origin: ORIGIN },
    }),
    { ...bindings, CACHE_FANOUT: queue as unknown as Queue },
  );
  return { status: res.status, log, queued, puts };
}

const hashOf = (secret: string) => hashToken(env.TOKEN_PEPPER, secret);
const timesIn = (list: string[], value: string) => list.filter((v) => v === value).length;

async function resultOf(secret: string, project: string): Promise<number> {
  return (await readVerify(await viaEntrypoint(verifyUrl({ session: secret, project })))).result;
}

/** What KV, every other location, now says: verified through an empty memory tier. */
async function resultFromKv(secret: string, project: string): Promise<number> {
  memoryCache.clear();
  return resultOf(secret, project);
}

async function addMembership(userId: string, orgId: string, groupId: string | null): Promise<void> {
  const now = Date.now();
  await database(primarySession(env.DB))
    .insert(memberships)
    .values({
      id: crypto.randomUUID(),
      userId,
      orgId,
      groupId,
      role: groupId === null ? "org_member" : "group_member",
      permissions: null,
      createdAt: now,
      updatedAt: now,
    });
}

/** `count` people, each a member of `groupId` only, inserted a few rows a statement (D1's bound-parameter limit). */
async function membersOf(org: OrgFixture, groupId: string, count: number): Promise<string[]> {
  const db = database(primarySession(env.DB));
  const now = Date.now();
  const ids = Array.from({ length: count }, () => crypto.randomUUID());
  for (let i = 0; i < ids.length; i += 10) {
    const slice = ids.slice(i, i + 10);
    await db.insert(users).values(
      slice.map((id) => ({
        id,
        email: `${id}@example.com`,
        passwordHash: "x",
        passwordSalt: "x",
        passwordIterations: 1,
        createdAt: now,
        updatedAt: now,
      })),
    );
    await db.insert(memberships).values(
      slice.map((userId) => ({
        id: crypto.randomUUID(),
        userId,
        orgId: org.orgId,
        groupId,
        role: "group_member" as const,
        permissions: null,
        createdAt: now,
        updatedAt: now,
      })),
    );
  }
  return ids;
}

describe("deleting a group with a leaver and a stayer", () => {
  it("writes each leaver token's entry once, as revoked, and refreshes the stayer's once", async () => {
    const org = await makeOrg();
    const leaver = await makeMember(org.orgId, "group_member", { groupId: org.groupId });
    const stayer = await makeMember(org.orgId, "org_member");
    await addMembership(stayer, org.orgId, org.groupId);
    const leaverTokens = await Promise.all(
      [0, 1].map(() => makeToken(org, { kind: "personal", userId: leaver, projects: [org.projectKeys.grouped] })),
    );
    const stayerToken = await makeToken(org, {
      kind: "personal",
      userId: stayer,
      projects: [org.projectKeys.alpha, org.projectKeys.grouped],
    });
    for (const { secret } of leaverTokens) expect(await resultOf(secret, org.projectKeys.grouped)).toBe(0);
    expect(await resultOf(stayerToken.secret, org.projectKeys.alpha)).toBe(0);

    const deletion = await deleteGroupCounted(org, org.groupSlug);

    expect(deletion.status).toBe(204);
    expect(deletion.queued).toEqual([]);
    for (const { secret } of leaverTokens) {
      const hash = await hashOf(secret);
      expect(deletion.puts.filter((p) => p.hash === hash)).toEqual([{ hash, revoked: true }]);
      expect(await resultOf(secret, org.projectKeys.grouped)).toBe(6);
      expect(await resultFromKv(secret, org.projectKeys.grouped)).toBe(6);
      expect((await kvEntryOf(secret))?.token?.revokedAt).not.toBeNull();
    }
    const stayerHash = await hashOf(stayerToken.secret);
    expect(deletion.puts.filter((p) => p.hash === stayerHash)).toEqual([{ hash: stayerHash, revoked: false }]);
    expect(await resultFromKv(stayerToken.secret, org.projectKeys.alpha)).toBe(0);
    // Nothing else is written for these people's tokens: one put each, no deletes.
    const keys = new Set(await Promise.all([...leaverTokens.map((t) => t.secret), stayerToken.secret].map(kvKeyOf)));
    expect(deletion.log.count("TOKEN_CACHE", (c) => c.op === "delete" && keys.has(c.detail))).toBe(0);
  });
});

describe("a membership added while the group is deleted", () => {
  it("is counted: who leaves is decided in the deletion's own commit, and the one who stays is refreshed", async () => {
    const org = await makeOrg();
    const member = await makeMember(org.orgId, "group_member", { groupId: org.groupId });
    const elsewhere = await makeGroup(org, "elsewhere");
    const { secret } = await makeToken(org, { kind: "personal", userId: member, projects: [org.projectKeys.grouped] });
    expect(await resultOf(secret, org.projectKeys.grouped)).toBe(0);
    let added = false;

    // Right after the deletion read the group's members (this one had no other membership then).
    const deletion = await deleteGroupCounted(org, org.groupSlug, async (call) => {
      if (
        !added &&
        call.binding === "DB" &&
        /from "memberships" where "memberships"."group_id" = \?/.test(call.detail)
      ) {
        added = true;
        await addMembership(member, org.orgId, elsewhere);
      }
    });

    expect(deletion.status).toBe(204);
    expect(added).toBe(true);
    const hash = await hashOf(secret);
    expect(deletion.puts.filter((p) => p.hash === hash)).toEqual([{ hash, revoked: false }]);
    // Live, narrowed to what the other group gives: the moved project is no longer within their ceiling.
    expect(await resultFromKv(secret, org.projectKeys.grouped)).toBe(8);
  });
});

describe("deleting a group whose leaver has more tokens than the inline bound", () => {
  it("puts or queues each leaver token once, and the stayer's once", { timeout: 60_000 }, async () => {
    const org = await makeOrg();
    const leaver = await makeMember(org.orgId, "group_member", { groupId: org.groupId });
    const stayer = await makeMember(org.orgId, "org_member");
    await addMembership(stayer, org.orgId, org.groupId);
    const seeded = Date.now() - HOUR_MS;
    const leaverSecrets = await bulkTokens(org, BULK_KILL_INLINE_MAX + 30, seeded, {
      kind: "personal",
      userId: leaver,
    });
    const stayerSecrets = await bulkTokens(org, 3, seeded, { kind: "personal", userId: stayer });

    const deletion = await deleteGroupCounted(org, org.groupSlug);

    expect(deletion.status).toBe(204);
    const written = [...deletion.puts.map((p) => p.hash), ...deletion.queued];
    const leaverHashes = await Promise.all(leaverSecrets.map(hashOf));
    expect(leaverHashes.filter((h) => timesIn(written, h) !== 1)).toEqual([]);
    expect(deletion.puts.filter((p) => leaverHashes.includes(p.hash) && !p.revoked)).toEqual([]);
    expect(deletion.queued.filter((h) => leaverHashes.includes(h))).toHaveLength(30);
    for (const secret of stayerSecrets) expect(timesIn(written, await hashOf(secret))).toBe(1);
    const live = await env.DB.prepare("SELECT count(*) AS n FROM tokens WHERE user_id = ?1 AND revoked_at IS NULL")
      .bind(leaver)
      .first("n");
    expect(live).toBe(0);
    for (const secret of stayerSecrets) expect(await resultFromKv(secret, org.projectKeys.alpha)).toBe(0);
  });
});

describe("deleting a group with more members than a statement can bind", () => {
  it("revokes every leaver's token and refreshes every stayer's, each once", { timeout: 120_000 }, async () => {
    const org = await makeOrg();
    const many = D1_MAX_BOUND_PARAMETERS + 20;
    const leavers = await membersOf(org, org.groupId, many);
    const stayers = await membersOf(org, org.groupId, many);
    const elsewhere = await makeGroup(org, "elsewhere");
    for (const userId of stayers) await addMembership(userId, org.orgId, elsewhere);
    const secretsOf = async (userIds: string[]) =>
      (await Promise.all(userIds.map((userId) => bulkTokens(org, 1, Date.now(), { kind: "personal", userId })))).flat();
    const leaverSecrets = await secretsOf(leavers);
    const stayerSecrets = await secretsOf(stayers);

    const deletion = await deleteGroupCounted(org, org.groupSlug);

    expect(deletion.status).toBe(204);
    const written = [...deletion.puts.map((p) => p.hash), ...deletion.queued];
    for (const secret of [...leaverSecrets, ...stayerSecrets]) expect(timesIn(written, await hashOf(secret))).toBe(1);
    const { results } = await env.DB.prepare(
      "SELECT user_id, revoked_at IS NOT NULL AS revoked FROM tokens WHERE org_id = ?1 AND kind = 'personal'",
    )
      .bind(org.orgId)
      .all<{ user_id: string; revoked: number }>();
    const revoked = new Set(results.filter((r) => r.revoked).map((r) => r.user_id));
    expect(leavers.filter((u) => !revoked.has(u))).toEqual([]);
    expect(stayers.filter((u) => revoked.has(u))).toEqual([]);
    const events = await env.DB.prepare(
      "SELECT count(*) AS n FROM audit_events WHERE org_id = ?1 AND action = 'token.revoked'",
    )
      .bind(org.orgId)
      .first("n");
    expect(events).toBe(many);
    expect(await resultFromKv(leaverSecrets[0]!, org.projectKeys.alpha)).toBe(6);
  });
});

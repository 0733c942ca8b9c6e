import { env } from "cloudflare:workers";
import { eq } from "drizzle-orm";
import { beforeAll, beforeEach, describe, expect, it } from "vitest";
import { hashPassword } from "../worker/accounts/password";
import { accessIn } from "../worker/auth/access";
import { assertWithinMemberRights } from "../worker/auth/token-rights";
import { database } from "../worker/db/client";
import { groups, memberships, projects, users } from "../worker/db/schema";
import { primarySession } from "../worker/db/session";
import type { AppError } from "../worker/errors";
import { KV_TOKEN_KEY_PREFIX } from "../worker/limits";
import { api, sudoSession } from "./support/api-client";
import { makeMember, makeOrg, makeToken, type OrgFixture } from "./support/fixtures";
import { countingEnv } from "./support/io";
import { resetIsolateCaches } from "./support/isolate";
import { dropFromKv, kvEntryOf } from "./support/kv-entries";
import { bearer, readVerify, verifyUrl, viaHandler } from "./support/verify-client";

// A person's memberships reach different projects with different permission lists. A personal
// token holds a permission on a project only where a membership covering that project grants it:
// never the union of every list over the union of every reach.

const A = "analysis:execute";
const B = "environment:control:stop";
const C = "issues:write";

let org: OrgFixture;
/** A second group with one project of its own. */
let other: { groupId: string; project: string };

beforeAll(async () => {
  org = await makeOrg();
  const now = Date.now();
  const groupId = crypto.randomUUID();
  const project = `other-${crypto.randomUUID().slice(0, 8)}`;
  const db = database(primarySession(env.DB));
  await db.insert(groups).values({
    id: groupId,
    orgId: org.orgId,
    slug: `other-${groupId.slice(0, 8)}`,
    name: "Other",
    createdAt: now,
    updatedAt: now,
  });
  await db.insert(projects).values({
    id: crypto.randomUUID(),
    orgId: org.orgId,
    groupId,
    key: project,
    name: "Other",
    createdAt: now,
    updatedAt: now,
  });
  other = { groupId, project };
});
beforeEach(() => resetIsolateCaches());

async function addMembership(userId: string, groupId: string, permissions: string[] | null): Promise<void> {
  const now = Date.now();
  await database(primarySession(env.DB)).insert(memberships).values({
    id: crypto.randomUUID(),
    userId,
    orgId: org.orgId,
    groupId,
    role: "group_member",
    permissions,
    createdAt: now,
    updatedAt: now,
  });
}

/** Organization member with [A] everywhere, and member of the sandbox group (the fixture's) with every permission. */
async function mixedMember(): Promise<string> {
  const userId = await makeMember(org.orgId, "org_member", { permissions: [A] });
  await addMembership(userId, org.groupId, null);
  return userId;
}

/** Only in groups: [B] in the fixture's group, [C] in the other. */
async function twoGroupMember(): Promise<string> {
  const userId = await makeMember(org.orgId, "group_member", { groupId: org.groupId, permissions: [B] });
  await addMembership(userId, other.groupId, [C]);
  return userId;
}

describe("creating a personal token", () => {
  async function refusal(
    userId: string,
    grant: { projects: "*" | string[]; permissions: string[] },
  ): Promise<Record<string, string> | null> {
    const db = database(primarySession(env.DB));
    const access = await accessIn(
      db,
      { type: "user", userId, email: "", isOwner: false, sessionId: "", sudoUntil: null, twoFactor: false },
      { id: org.orgId, slug: org.orgSlug, name: "" },
    );
    try {
      await assertWithinMemberRights(db, access!, org.orgId, grant);
      return null;
    } catch (err) {
      expect((err as AppError).code).toBe("validation_failed");
      return ((err as AppError).details as { fields: Record<string, string> }).fields;
    }
  }

  it("allows a permission on all projects when some membership grants it somewhere", async () => {
    expect(await refusal(await mixedMember(), { projects: "*", permissions: [A, B] })).toBeNull();
  });

  it("refuses a permission that no membership covering the named projects grants", async () => {
    const userId = await mixedMember();
    const fields = await refusal(userId, { projects: [org.projectKeys.alpha], permissions: [A, B] });
    expect(fields?.permissions).toContain(B);
    expect(fields?.permissions).not.toContain(A);
    expect(
      await refusal(userId, { projects: [org.projectKeys.alpha, org.projectKeys.grouped], permissions: [A, B] }),
    ).toBeNull();
    expect(await refusal(userId, { projects: [org.projectKeys.grouped], permissions: [B] })).toBeNull();
  });

  it("judges each group membership on its own group's projects", async () => {
    const userId = await twoGroupMember();
    expect(await refusal(userId, { projects: [org.projectKeys.grouped], permissions: [B] })).toBeNull();
    expect(
      (await refusal(userId, { projects: [org.projectKeys.grouped], permissions: [B, C] }))?.permissions,
    ).toContain(C);
    expect((await refusal(userId, { projects: [other.project], permissions: [B] }))?.permissions).toContain(B);
    expect(
      await refusal(userId, { projects: [org.projectKeys.grouped, other.project], permissions: [B, C] }),
    ).toBeNull();
    // Without a project only organization-wide memberships count, and this person has none.
    expect((await refusal(userId, { projects: [], permissions: [B] }))?.permissions).toContain(B);
  });
});

describe("POST /api/me/tokens", () => {
  it("applies the same rule to a signed-in member: named projects that grant the permission nowhere are refused", async () => {
    const userId = await mixedMember();
    const password = "a long enough password for tests";
    const stored = await hashPassword(password);
    const email = `mixed-${crypto.randomUUID().slice(0, 8)}@example.com`;
    await database(primarySession(env.DB))
      .update(users)
      .set({ email, passwordHash: stored.hash, passwordSalt: stored.salt, passwordIterations: stored.iterations })
      .where(eq(users.id, userId));
    const cookie = await sudoSession(email, password);
    const body = (projects: "*" | string[]) => ({
      org: org.orgSlug,
      name: "mine",
      expiresAt: null,
      projects,
      permissions: [A, B],
    });

    const refused = await api("POST", "/api/me/tokens", { cookie, body: body([org.projectKeys.alpha]) });
    expect(refused.status).toBe(422);
    expect(refused.body.error.details.fields.permissions).toContain(B);

    const made = await api("POST", "/api/me/tokens", { cookie, body: body("*") });
    expect(made.status).toBe(201);
    expect(await verifyFrom("d1", made.body.secret, { permission: [B], project: org.projectKeys.alpha })).toMatchObject(
      { result: 7 },
    );
    expect(
      await verifyFrom("d1", made.body.secret, { permission: [B], project: org.projectKeys.grouped }),
    ).toMatchObject({ result: 0 });
  });
});

type Tier = "memory" | "kv" | "d1";

/**
 * One verification answered from `tier`: the caches are emptied down to it first, and the test
 * checks the answer came from there (no KV read for memory, no D1 lookup for memory and KV).
 */
async function verifyFrom(tier: Tier, secret: string, check: { permission?: string[]; project?: string }) {
  if (tier === "memory") await viaHandler(bearer(secret, "198.51.100.20"));
  else resetIsolateCaches();
  if (tier === "d1") await dropFromKv(secret);
  const { env: counted, log } = countingEnv();
  const body = await readVerify(await viaHandler(bearer(secret, "198.51.100.20", verifyUrl(check)), counted));
  const kvReads = log.count("TOKEN_CACHE", (c) => c.op === "get" && c.detail.startsWith(KV_TOKEN_KEY_PREFIX));
  const lookups = log.count("DB", (c) => c.detail.includes("FROM tokens t"));
  expect({ kvReads: kvReads > 0, lookups: lookups > 0 }).toEqual({
    kvReads: tier !== "memory",
    lookups: tier === "d1",
  });
  return body;
}

describe.each<Tier>(["memory", "kv", "d1"])("verifying a personal token answered from %s", (tier) => {
  it("holds a permission on a project only where a membership covering it grants it", async () => {
    const userId = await mixedMember();
    const { secret } = await makeToken(org, { kind: "personal", userId, projects: "*", permissions: [A, B] });

    const sandbox = await verifyFrom(tier, secret, { permission: [B], project: org.projectKeys.grouped });
    expect(sandbox).toMatchObject({ result: 0, token: { permissions: [A, B] } });
    expect(await verifyFrom(tier, secret, { permission: [B], project: org.projectKeys.alpha })).toMatchObject({
      result: 7,
      error: "permission_denied",
    });
    expect(await verifyFrom(tier, secret, { permission: [A], project: org.projectKeys.alpha })).toMatchObject({
      result: 0,
      token: { permissions: [A] },
    });
    // No project asked: only what organization-wide memberships grant counts.
    expect(await verifyFrom(tier, secret, { permission: [B] })).toMatchObject({ result: 7 });
    expect(await verifyFrom(tier, secret, { permission: [A] })).toMatchObject({
      result: 0,
      token: { permissions: [A] },
    });
  });

  it("keeps two group memberships' lists apart", async () => {
    const userId = await twoGroupMember();
    const { secret } = await makeToken(org, {
      kind: "personal",
      userId,
      projects: [org.projectKeys.grouped, other.project],
      permissions: [B, C],
    });

    expect(await verifyFrom(tier, secret, { permission: [B], project: org.projectKeys.grouped })).toMatchObject({
      result: 0,
      token: { permissions: [B] },
    });
    expect(await verifyFrom(tier, secret, { permission: [C], project: org.projectKeys.grouped })).toMatchObject({
      result: 7,
    });
    expect(await verifyFrom(tier, secret, { permission: [C], project: other.project })).toMatchObject({
      result: 0,
      token: { permissions: [C] },
    });
    expect(await verifyFrom(tier, secret, { permission: [B], project: other.project })).toMatchObject({ result: 7 });
    expect(await verifyFrom(tier, secret, { permission: [B] })).toMatchObject({ result: 7 });
    expect(await verifyFrom(tier, secret, {})).toMatchObject({ result: 0, token: { permissions: [] } });
  });
});

describe("the cache entry of a personal token", () => {
  it("stores the per-membership grants beside the organization-wide list, not a per-project matrix", async () => {
    const userId = await mixedMember();
    const { secret } = await makeToken(org, { kind: "personal", userId, projects: "*", permissions: [A, B] });
    const entry = await kvEntryOf(secret);
    expect(entry?.token?.permissions).toEqual([A]);
    // Per group, not per project: which projects a group holds is their own cached fact.
    expect(entry?.token?.ceiling).toEqual({ orgWide: true, groups: [{ id: org.groupId, more: [B] }] });
  });

  it("adds nothing for organization tokens or for a person whose organization-wide list covers the token", async () => {
    const { secret: orgSecret } = await makeToken(org);
    expect(await kvEntryOf(orgSecret)).not.toHaveProperty("token.ceiling");
    const userId = await makeMember(org.orgId, "org_member", { permissions: null });
    await addMembership(userId, org.groupId, [B]);
    const { secret } = await makeToken(org, { kind: "personal", userId, permissions: [A, B] });
    expect((await kvEntryOf(secret))?.token?.ceiling).toEqual({
      orgWide: true,
      groups: [{ id: org.groupId, more: [] }],
    });
  });
});

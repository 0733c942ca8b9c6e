import { env } from "cloudflare:workers";
import { eq } from "drizzle-orm";
import { beforeAll, beforeEach, describe, expect, it } from "vitest";
import { database } from "../worker/db/client";
import { memberships, projects, users } from "../worker/db/schema";
import { primarySession } from "../worker/db/session";
import { createProject, deleteProject } from "../worker/orgs/projects";
import { refreshOrgTokenCaches } from "../worker/tokens/structure-refresh";
import { storeEnv } from "./support/d1";
import { makeMember, makeOrg, makeToken, type OrgFixture, testActor } from "./support/fixtures";
import { resetIsolateCaches } from "./support/isolate";
import { kvEntryOf, kvKeyOf } from "./support/kv-entries";
import { readVerify, verifyUrl, viaEntrypoint } from "./support/verify-client";

let org: OrgFixture;
let stranger: OrgFixture;

beforeAll(async () => {
  org = await makeOrg();
  stranger = await makeOrg();
});
beforeEach(() => resetIsolateCaches());

async function resultOf(secret: string, check: { permission?: string[]; project?: string } = {}): Promise<number> {
  return (await readVerify(await viaEntrypoint(verifyUrl({ session: secret, ...check })))).result;
}

describe("permission checks", () => {
  it("needs every permission asked for, and names the missing one", async () => {
    const { secret } = await makeToken(org, { permissions: ["analysis:execute", "project:browse"] });
    expect(await resultOf(secret, { permission: ["analysis:execute"] })).toBe(0);
    expect(await resultOf(secret, { permission: ["analysis:execute", "project:browse"] })).toBe(0);
    const res = await viaEntrypoint(
      verifyUrl({ session: secret, permission: ["analysis:execute", "environment:control:stop"] }),
    );
    expect(res.status).toBe(403);
    expect(await readVerify(res)).toMatchObject({
      result: 7,
      error: "permission_denied",
      message: expect.stringContaining("environment:control:stop"),
    });
  });

  it("treats permission names exactly: no prefix, case or wildcard match", async () => {
    const { secret } = await makeToken(org, { permissions: ["environment:control:stop"] });
    for (const asked of ["environment:control", "environment:*", "Environment:control:stop", "*"]) {
      expect(await resultOf(secret, { permission: [asked] }), asked).toBe(7);
    }
  });

  it("checks permissions before the project", async () => {
    const { secret } = await makeToken(org, { projects: [org.projectKeys.alpha] });
    expect(await resultOf(secret, { permission: ["environment:control:stop"], project: org.projectKeys.beta })).toBe(7);
  });
});

describe("project checks", () => {
  it("an organization token for all projects reaches every project of its organization, the grouped ones too", async () => {
    const { secret } = await makeToken(org);
    for (const key of Object.values(org.projectKeys)) expect(await resultOf(secret, { project: key }), key).toBe(0);
    expect(await resultOf(secret, { project: stranger.projectKeys.alpha })).toBe(8);
  });

  it("a token with a project list reaches those projects only", async () => {
    const { secret } = await makeToken(org, { projects: [org.projectKeys.alpha, org.projectKeys.grouped] });
    expect(await resultOf(secret, { project: org.projectKeys.alpha })).toBe(0);
    expect(await resultOf(secret, { project: org.projectKeys.grouped })).toBe(0);
    expect(await resultOf(secret, { project: org.projectKeys.beta })).toBe(8);
  });

  it("a group token for all projects reaches its group's projects, not the rest of the organization", async () => {
    const { secret } = await makeToken(org, { kind: "group", groupId: org.groupId });
    expect(await resultOf(secret, { project: org.projectKeys.grouped })).toBe(0);
    expect(await resultOf(secret, { project: org.projectKeys.alpha })).toBe(8);
  });

  it('"*" covers a project made after the token, once the project is created', async () => {
    const { secret } = await makeToken(org);
    const key = `late-${crypto.randomUUID().slice(0, 8)}`;
    expect(await resultOf(secret, { project: key })).toBe(8);
    await createProject(storeEnv(env), org.orgId, { key, name: key, groupId: null }, testActor, Date.now());
    // No cache cleared: the creation itself must reach the memory tier and KV.
    expect(await resultOf(secret, { project: key })).toBe(0);
  });

  it("a named project deleted and re-created under the same key is not covered by the old link", async () => {
    const key = `again-${crypto.randomUUID().slice(0, 8)}`;
    const made = await createProject(
      storeEnv(env),
      org.orgId,
      { key, name: key, groupId: null },
      testActor,
      Date.now(),
    );
    const { secret } = await makeToken(org, { projects: [key, org.projectKeys.alpha] });
    expect(await resultOf(secret, { project: key })).toBe(0);
    // A location whose copy of the token's entry still holds the link (a refresh it never got).
    const stale = await kvEntryOf(secret);
    const row = (await database(primarySession(env.DB)).select().from(projects).where(eq(projects.id, made.id)).get())!;
    await deleteProject(storeEnv(env), row, testActor, Date.now());
    await createProject(storeEnv(env), org.orgId, { key, name: key, groupId: null }, testActor, Date.now());
    expect(await resultOf(secret, { project: key })).toBe(8);
    await env.TOKEN_CACHE.put(await kvKeyOf(secret), JSON.stringify(stale));
    resetIsolateCaches();
    expect(await resultOf(secret, { project: key })).toBe(8);
    expect(await resultOf(secret, { project: org.projectKeys.alpha })).toBe(0);
  });
});

describe("a personal token never holds more than its user may do", () => {
  it("narrows permissions to the member's own", async () => {
    const userId = await makeMember(org.orgId, "org_member", { permissions: ["analysis:execute"] });
    const { secret } = await makeToken(org, {
      kind: "personal",
      userId,
      permissions: ["analysis:execute", "project:browse"],
    });
    expect(await resultOf(secret, { permission: ["analysis:execute"] })).toBe(0);
    expect(await resultOf(secret, { permission: ["project:browse"] })).toBe(7);
  });

  it('narrows "*" to the projects of the member\'s groups', async () => {
    const userId = await makeMember(org.orgId, "group_member", { groupId: org.groupId });
    const { secret } = await makeToken(org, { kind: "personal", userId });
    expect(await resultOf(secret, { project: org.projectKeys.grouped })).toBe(0);
    expect(await resultOf(secret, { project: org.projectKeys.alpha })).toBe(8);
  });

  it("never answers from an entry written in the shape before project facts (it had no ceiling)", async () => {
    const userId = await makeMember(org.orgId, "group_member", { groupId: org.groupId });
    const { secret } = await makeToken(org, { kind: "personal", userId });
    expect(await resultOf(secret, { project: org.projectKeys.grouped })).toBe(0);
    const { ceiling: _, ...grant } = (await kvEntryOf(secret))!.token!;
    const before = { ...grant, scopeKeys: [org.projectKeys.alpha, org.projectKeys.grouped] };
    await env.TOKEN_CACHE.put(await kvKeyOf(secret), JSON.stringify({ v: 1, token: before }));
    resetIsolateCaches();
    expect(await resultOf(secret, { project: org.projectKeys.alpha })).toBe(8);
    expect(await resultOf(secret, { project: org.projectKeys.grouped })).toBe(0);
  });

  it("lets the instance owner's personal token reach everything in the organization", async () => {
    const userId = await makeMember(org.orgId, "group_member", { groupId: org.groupId, permissions: [] });
    await database(primarySession(env.DB)).update(users).set({ isOwner: true }).where(eq(users.id, userId));
    const { secret } = await makeToken(org, { kind: "personal", userId });
    expect(await resultOf(secret, { project: org.projectKeys.alpha, permission: ["project:browse"] })).toBe(0);
  });

  it("follows the member's rights when they shrink, once the user's caches are refreshed", async () => {
    const userId = await makeMember(org.orgId, "org_member");
    const { secret } = await makeToken(org, { kind: "personal", userId });
    expect(await resultOf(secret, { permission: ["project:browse"], project: org.projectKeys.alpha })).toBe(0);
    await database(primarySession(env.DB))
      .update(memberships)
      .set({ permissions: ["analysis:execute"] })
      .where(eq(memberships.userId, userId));
    await refreshOrgTokenCaches(storeEnv(env), org.orgId, Date.now(), { personalOf: [userId] });
    expect(await resultOf(secret, { permission: ["project:browse"] })).toBe(7);
    expect(await resultOf(secret, { permission: ["analysis:execute"] })).toBe(0);
  });

  it("dies with the membership however it ended: a user with no membership left verifies as revoked", async () => {
    const userId = await makeMember(org.orgId, "group_member", { groupId: org.groupId });
    const { secret } = await makeToken(org, { kind: "personal", userId });
    expect(await resultOf(secret)).toBe(0);
    // As when the user's only group is deleted: no route revoked the token, the membership just went.
    await database(primarySession(env.DB)).delete(memberships).where(eq(memberships.userId, userId));
    await refreshOrgTokenCaches(storeEnv(env), org.orgId, Date.now(), { personalOf: [userId] });
    const res = await viaEntrypoint(verifyUrl({ session: secret }));
    expect(res.status).toBe(401);
    expect(await readVerify(res)).toMatchObject({
      result: 6,
      error: "token_revoked",
      message: expect.stringContaining("no longer a member"),
    });
  });
});

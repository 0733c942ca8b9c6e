import { env } from "cloudflare:workers";
import { type Actor, SYSTEM_ACTOR } from "../../worker/audit/events";
import { database } from "../../worker/db/client";
import { groups, memberships, organizations, projects, users } from "../../worker/db/schema";
import { primarySession } from "../../worker/db/session";
import { createToken, type NewToken } from "../../worker/tokens/store";
import { storeEnv } from "./d1";

let counter = 0;
const unique = (prefix: string) => `${prefix}-${++counter}-${crypto.randomUUID().slice(0, 8)}`;

export interface OrgFixture {
  orgId: string;
  orgSlug: string;
  groupId: string;
  groupSlug: string;
  /** Keys: two org-level projects and one in the group. */
  projectKeys: { alpha: string; beta: string; grouped: string };
}

/** An organization with one group and three projects, inserted straight into D1. */
export async function makeOrg(now = Date.now()): Promise<OrgFixture> {
  const db = database(primarySession(env.DB));
  const orgId = crypto.randomUUID();
  const groupId = crypto.randomUUID();
  const orgSlug = unique("org");
  const groupSlug = unique("grp");
  const projectKeys = { alpha: unique("alpha"), beta: unique("beta"), grouped: unique("grouped") };
  await db.insert(organizations).values({ id: orgId, slug: orgSlug, name: orgSlug, createdAt: now, updatedAt: now });
  await db
    .insert(groups)
    .values({ id: groupId, orgId, slug: groupSlug, name: groupSlug, createdAt: now, updatedAt: now });
  await db.insert(projects).values([
    {
      id: crypto.randomUUID(),
      orgId,
      groupId: null,
      key: projectKeys.alpha,
      name: "Alpha",
      createdAt: now,
      updatedAt: now,
    },
    {
      id: crypto.randomUUID(),
      orgId,
      groupId: null,
      key: projectKeys.beta,
      name: "Beta",
      createdAt: now,
      updatedAt: now,
    },
    {
      id: crypto.randomUUID(),
      orgId,
      groupId,
      key: projectKeys.grouped,
      name: "Grouped",
      createdAt: now,
      updatedAt: now,
    },
  ]);
  return { orgId, orgSlug, groupId, groupSlug, projectKeys };
}

/** Another group in the organization, inserted straight into D1; its slug is prefixed with the org's. */
export async function makeGroup(org: OrgFixture, slug: string, now = Date.now()): Promise<string> {
  const id = crypto.randomUUID();
  await database(primarySession(env.DB))
    .insert(groups)
    .values({ id, orgId: org.orgId, slug: `${org.orgSlug}-${slug}`, name: slug, createdAt: now, updatedAt: now });
  return id;
}

/** A user with a membership in the organization (no password login: tests of the API make their own). */
export async function makeMember(
  orgId: string,
  role: "org_admin" | "org_member" | "group_admin" | "group_member",
  opts: { groupId?: string; permissions?: string[] | null } = {},
  now = Date.now(),
) {
  const db = database(primarySession(env.DB));
  const userId = crypto.randomUUID();
  await db.insert(users).values({
    id: userId,
    email: `${unique("user")}@example.com`,
    passwordHash: "x",
    passwordSalt: "x",
    passwordIterations: 1,
    createdAt: now,
    updatedAt: now,
  });
  await db.insert(memberships).values({
    id: crypto.randomUUID(),
    userId,
    orgId,
    groupId: opts.groupId ?? null,
    role,
    permissions: opts.permissions === undefined ? null : opts.permissions,
    createdAt: now,
    updatedAt: now,
  });
  return userId;
}

export const testActor: Actor = { type: "system", id: null, ip: "203.0.113.9" };

/** A token through the real data layer; defaults to an org token for all projects with two permissions. */
export function makeToken(org: OrgFixture, overrides: Partial<NewToken> = {}, now = Date.now()) {
  return createToken(
    storeEnv(env),
    {
      kind: "org",
      orgId: org.orgId,
      groupId: null,
      userId: null,
      // Names are unique per owner (worker/tokens/names.ts): each fixture token gets its own.
      name: `CI token ${crypto.randomUUID().slice(0, 8)}`,
      description: "",
      projects: "*",
      permissions: ["analysis:execute", "project:browse"],
      admin: false,
      expiresAt: null,
      permissionSetId: null,
      ...overrides,
    },
    overrides.kind === undefined ? testActor : SYSTEM_ACTOR,
    now,
  );
}

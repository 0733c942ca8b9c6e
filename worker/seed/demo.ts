import { eq } from "drizzle-orm";
import { isSetupNeeded, runSetup } from "../accounts/setup";
import { findUserByEmail, newUserRow, type UserRow } from "../accounts/users";
import { auditInsert, SYSTEM_ACTOR } from "../audit/events";
import { type Db, database } from "../db/client";
import { organizations, users } from "../db/schema";
import { DAY_MS } from "../limits";
import { createGroup } from "../orgs/groups";
import { addMember } from "../orgs/members";
import { createOrg } from "../orgs/orgs";
import { createProject } from "../orgs/projects";
import { createToken, type TokenStoreEnv } from "../tokens/store";

// `npm run seed`: a demo organization for local development, made through the same data functions as
// the management API (so the password hash, token format, hashes and cache entries are the real ones).

export const DEMO_ORG = { slug: "demo", name: "Demo" } as const;
export const DEMO_GROUP = { slug: "platform", name: "Platform" } as const;
export const DEMO_EMAIL = "demo@tessera.local";
const SEED_IP = "127.0.0.1";
const PASSWORD_LENGTH = 20;
const PASSWORD_ALPHABET = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";

export interface SeededToken {
  kind: "org" | "group" | "personal";
  name: string;
  /** Shown once by the seed script, never stored. */
  secret: string;
  /** A check this token passes, for the printed curl line. */
  example: { permission: string; project: string };
}

export type SeedResult =
  | { created: false }
  | {
      created: true;
      user: { email: string; role: "owner" | "org_admin"; password: string | null };
      tokens: SeededToken[];
    };

/** A password from an alphabet without look-alike characters, drawn without modulo bias. */
function randomPassword(): string {
  let out = "";
  const limit = 256 - (256 % PASSWORD_ALPHABET.length);
  while (out.length < PASSWORD_LENGTH) {
    for (const byte of crypto.getRandomValues(new Uint8Array(PASSWORD_LENGTH * 2))) {
      if (byte < limit && out.length < PASSWORD_LENGTH) out += PASSWORD_ALPHABET[byte % PASSWORD_ALPHABET.length];
    }
  }
  return out;
}

/**
 * The demo account, made by whoever runs the seed against their own local D1: the one place an
 * account is made without its owner choosing the password, because the operator is that owner.
 */
async function createDemoUser(db: Db, password: string, now: number): Promise<UserRow> {
  const user = await newUserRow({ email: DEMO_EMAIL, name: "Demo", password, isOwner: false }, now);
  await db.batch([
    db.insert(users).values(user),
    auditInsert(
      db,
      SYSTEM_ACTOR,
      {
        orgId: null,
        action: "user.created",
        targetType: "user",
        targetId: user.id,
        detail: { email: user.email, via: "seed" },
      },
      now,
    ),
  ]);
  return user;
}

/**
 * Creates the demo organization, its group, three projects, the demo user and one token of each kind.
 * Does nothing when the demo organization already exists, so a second run prints no secret.
 */
export async function seedDemo(env: TokenStoreEnv, now: number): Promise<SeedResult> {
  const db = database(env.d1);
  if (
    await db.select({ id: organizations.id }).from(organizations).where(eq(organizations.slug, DEMO_ORG.slug)).get()
  ) {
    return { created: false };
  }

  const password = randomPassword();
  let orgId: string;
  let role: "owner" | "org_admin";
  let passwordSet = true;
  if (await isSetupNeeded(db)) {
    // An empty instance: the demo user becomes its owner, exactly as the console's first-run setup does.
    ({ orgId } = await runSetup(
      env.d1,
      db,
      { email: DEMO_EMAIL, name: "Demo", password, org: DEMO_ORG },
      SEED_IP,
      now,
    ));
    role = "owner";
  } else {
    ({ id: orgId } = await createOrg(db, DEMO_ORG, null, SYSTEM_ACTOR, now));
    const existing = await findUserByEmail(db, DEMO_EMAIL);
    passwordSet = existing === null;
    const account = existing ?? (await createDemoUser(db, password, now));
    await addMember(env, orgId, account, { role: "org_admin", groupId: null, permissions: null }, SYSTEM_ACTOR, now);
    role = "org_admin";
  }
  const user = await findUserByEmail(db, DEMO_EMAIL);

  const group = await createGroup(db, orgId, DEMO_GROUP, SYSTEM_ACTOR, now);
  await createProject(env, orgId, { key: "web", name: "Web", groupId: null }, SYSTEM_ACTOR, now);
  await createProject(env, orgId, { key: "api", name: "API", groupId: null }, SYSTEM_ACTOR, now);
  await createProject(env, orgId, { key: "mobile", name: "Mobile", groupId: group.id }, SYSTEM_ACTOR, now);

  const common = { orgId, description: "Made by npm run seed", admin: false };
  const org = await createToken(
    env,
    {
      ...common,
      kind: "org",
      groupId: null,
      userId: null,
      name: "Demo CI",
      projects: "*",
      permissions: ["analysis:execute", "project:browse"],
      permissionSetId: "pset_execute_analysis",
      // No expiry, as README.md's sample answer shows; the other two show an expiry date.
      expiresAt: null,
    },
    SYSTEM_ACTOR,
    now,
  );
  const grp = await createToken(
    env,
    {
      ...common,
      kind: "group",
      groupId: group.id,
      userId: null,
      name: "Platform deploys",
      projects: "*",
      permissions: ["analysis:execute", "analysis:read", "project:browse"],
      permissionSetId: null,
      expiresAt: now + 30 * DAY_MS,
    },
    SYSTEM_ACTOR,
    now,
  );
  const personal = await createToken(
    env,
    {
      ...common,
      kind: "personal",
      groupId: null,
      userId: user!.id,
      name: "Demo laptop",
      projects: ["web", "api"],
      permissions: ["project:browse", "issues:read"],
      permissionSetId: null,
      expiresAt: now + 60 * DAY_MS,
    },
    { type: "user", id: user!.id, ip: SEED_IP },
    now,
  );

  return {
    created: true,
    user: { email: DEMO_EMAIL, role, password: passwordSet ? password : null },
    tokens: [
      {
        kind: "org",
        name: org.token.name,
        secret: org.secret,
        example: { permission: "analysis:execute", project: "web" },
      },
      {
        kind: "group",
        name: grp.token.name,
        secret: grp.secret,
        example: { permission: "analysis:read", project: "mobile" },
      },
      {
        kind: "personal",
        name: personal.token.name,
        secret: personal.secret,
        example: { permission: "issues:read", project: "api" },
      },
    ],
  };
}

import { type Actor, logAudited } from "../audit/events";
import type { Db } from "../db/client";
import { isUniqueViolation } from "../db/errors";
import { users } from "../db/schema";
import type { D1 } from "../db/session";
import { AppError } from "../errors";
import { SETUP_TOKEN_MIN } from "./limits";
import { findUserById, newUserRow, type UserRow } from "./users";

const digest = async (text: string) =>
  new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)));

/**
 * Only the operator claims a fresh instance: setup asks for the deployment's SETUP_TOKEN secret,
 * compared through SHA-256 digests in constant time. Unset or too short, setup stays locked, so a
 * deployment that forgot it is closed rather than open to whoever finds it first.
 */
export async function assertSetupToken(configured: string | undefined, given: string): Promise<void> {
  if (configured === undefined || configured.length < SETUP_TOKEN_MIN) {
    throw new AppError(
      "forbidden",
      `Setup is locked: set the SETUP_TOKEN secret (at least ${SETUP_TOKEN_MIN} characters; openssl rand -hex 16 | npx wrangler secret put SETUP_TOKEN), then enter it here.`,
      { fields: { setupToken: "this deployment has no SETUP_TOKEN secret yet" } },
    );
  }
  if (!crypto.subtle.timingSafeEqual(await digest(configured), await digest(given))) {
    throw new AppError("forbidden", "The setup token is not this deployment's SETUP_TOKEN.", {
      fields: { setupToken: "not this deployment's SETUP_TOKEN" },
    });
  }
}

export async function isSetupNeeded(db: Db): Promise<boolean> {
  return (await db.select({ id: users.id }).from(users).limit(1).get()) === undefined;
}

export interface SetupInput {
  email: string;
  name: string;
  password: string;
  org: { slug: string; name: string };
}

/**
 * Creates the instance owner and the first organization, only while no user exists. Every insert is
 * conditional and in one batch (one transaction), so two setups racing leave exactly one owner.
 */
export async function runSetup(
  d1: D1,
  db: Db,
  input: SetupInput,
  ip: string,
  now: number,
): Promise<{ user: UserRow; orgId: string }> {
  if (!(await isSetupNeeded(db))) throw new AppError("conflict", "Setup has already been done; log in instead.");
  const user = await newUserRow({ email: input.email, name: input.name, password: input.password, isOwner: true }, now);
  const orgId = crypto.randomUUID();
  const made = "WHERE EXISTS (SELECT 1 FROM users WHERE id = ?1)";
  const audit = (action: string, targetType: string, targetId: string, detail: Record<string, unknown>) =>
    d1
      .prepare(
        `INSERT INTO audit_events (org_id, at, actor_type, actor_id, action, target_type, target_id, ip, detail)
         SELECT ?2, ?3, 'user', ?1, ?4, ?5, ?6, ?7, ?8 ${made}`,
      )
      .bind(user.id, orgId, now, action, targetType, targetId, ip, JSON.stringify(detail));
  try {
    await d1.batch([
      d1
        .prepare(
          `INSERT INTO users (id, email, name, password_hash, password_salt, password_iterations, is_owner, created_at, updated_at)
           SELECT ?1, ?2, ?3, ?4, ?5, ?6, 1, ?7, ?7 WHERE NOT EXISTS (SELECT 1 FROM users)`,
        )
        .bind(user.id, user.email, user.name, user.passwordHash, user.passwordSalt, user.passwordIterations, now),
      d1
        .prepare(`INSERT INTO organizations (id, slug, name, created_at, updated_at) SELECT ?2, ?3, ?4, ?5, ?5 ${made}`)
        .bind(user.id, orgId, input.org.slug, input.org.name, now),
      d1
        .prepare(
          `INSERT INTO memberships (id, user_id, org_id, group_id, role, permissions, created_at, updated_at)
           SELECT ?2, ?1, ?3, NULL, 'org_admin', NULL, ?4, ?4 ${made}`,
        )
        .bind(user.id, crypto.randomUUID(), orgId, now),
      audit("setup.completed", "user", user.id, { email: user.email }),
      audit("org.created", "org", orgId, { slug: input.org.slug, name: input.org.name }),
    ]);
  } catch (err) {
    if (isUniqueViolation(err)) {
      throw new AppError("conflict", "An organization with this slug already exists.", {
        fields: { "org.slug": "already taken" },
      });
    }
    throw err;
  }
  const created = await findUserById(db, user.id);
  if (!created) throw new AppError("conflict", "Setup has already been done; log in instead.");
  const owner: Actor = { type: "user", id: user.id, ip };
  logAudited(owner, { orgId, action: "setup.completed", targetType: "user", targetId: user.id });
  logAudited(owner, { orgId, action: "org.created", targetType: "org", targetId: orgId });
  return { user: created, orgId };
}

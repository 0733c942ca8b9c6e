import { and, asc, count, eq, gt, isNull, type SQL, sql } from "drizzle-orm";
import { INVITATION_TTL_MS, MAX_PENDING_INVITATIONS_PER_ORG } from "../accounts/limits";
import { isLinkSecret, linkSecretHash, newLinkSecret } from "../accounts/link-secret";
import { findUserByEmail, findUserById, newUserRow, normalizeEmail, type UserRow } from "../accounts/users";
import { type Actor, auditInsert } from "../audit/events";
import type { Statement } from "../db/batch";
import { type Db, database } from "../db/client";
import { isUniqueViolation } from "../db/errors";
import { type Page, pastCursor, splitPage } from "../db/paging";
import { auditEvents, groups, invitations, type MembershipRole, memberships, organizations, users } from "../db/schema";
import { AppError } from "../errors";
import type { TokenStoreEnv } from "../tokens/store";
import { commitWithCacheRefresh } from "../tokens/structure-refresh";
import { assertKnownPermissions } from "./catalog";
import { assertRoleFits, type MemberView, memberViewOf, type NewMember } from "./members";

/*
 * An invitation is how a person without an account joins: the inviter gets a one-time link whose
 * secret (`tsi_`) is shown once and stored only as its SHA-256; the invitee chooses their own name
 * and password, or accepts into the account they are signed in to. The link is a bearer secret and
 * the email is its binding: an account is only ever created with, or joined from, that email.
 */

type InvitationRow = typeof invitations.$inferSelect;

export interface InvitationView {
  id: string;
  email: string;
  role: MembershipRole;
  group: { id: string; slug: string; name: string } | null;
  permissions: string[] | null;
  createdAt: string;
  expiresAt: string;
}

/** What the link's holder learns before choosing a password: nothing about who else is there. */
export interface InvitationPreview {
  org: { name: string };
  group: { name: string } | null;
  email: string;
  role: MembershipRole;
  expiresAt: string;
}

export const INVITATION_PREFIX = "tsi_";

/** One answer for expired, revoked, used and unknown links: the holder cannot tell which. */
const linkInvalid = () =>
  new AppError(
    "not_found",
    "This invitation link is not valid: it may have expired, been revoked or been used already. Ask the person who invited you for a new one.",
  );

const pendingAt = (now: number): SQL =>
  and(isNull(invitations.acceptedAt), isNull(invitations.revokedAt), gt(invitations.expiresAt, now))!;

const iso = (ms: number) => new Date(ms).toISOString();

function invitationQuery(db: Db) {
  return db
    .select({ i: invitations, groupSlug: groups.slug, groupName: groups.name, orgName: organizations.name })
    .from(invitations)
    .innerJoin(organizations, eq(organizations.id, invitations.orgId))
    .leftJoin(groups, eq(groups.id, invitations.groupId));
}

type Joined = Awaited<ReturnType<ReturnType<typeof invitationQuery>["all"]>>[number];

const invitationView = (r: Joined): InvitationView => ({
  id: r.i.id,
  email: r.i.email,
  role: r.i.role,
  group: r.i.groupId ? { id: r.i.groupId, slug: r.groupSlug!, name: r.groupName! } : null,
  permissions: r.i.permissions ?? null,
  createdAt: iso(r.i.createdAt),
  expiresAt: iso(r.i.expiresAt),
});

const createdByOf = (actor: Actor) => `${actor.type}:${actor.id ?? "-"}`;

/** A pending invitation for `email` (which has no account). The secret is returned once and never kept. */
export async function createInvitation(
  db: Db,
  orgId: string,
  email: string,
  input: NewMember,
  actor: Actor,
  now: number,
): Promise<{ invitation: InvitationView; secret: string }> {
  assertRoleFits(input.role, input.groupId);
  if (input.permissions) await assertKnownPermissions(db, input.permissions, "permissions");
  const address = normalizeEmail(email);
  const pending = await db
    .select({ n: count() })
    .from(invitations)
    .where(and(eq(invitations.orgId, orgId), pendingAt(now)))
    .get();
  if ((pending?.n ?? 0) >= MAX_PENDING_INVITATIONS_PER_ORG) {
    throw new AppError(
      "conflict",
      `This organization has ${MAX_PENDING_INVITATIONS_PER_ORG} pending invitations; revoke some before inviting more.`,
    );
  }
  const same = await db
    .select({ id: invitations.id })
    .from(invitations)
    .where(and(eq(invitations.orgId, orgId), eq(invitations.email, address), pendingAt(now)))
    .get();
  if (same)
    throw new AppError("conflict", "This person has a pending invitation already; revoke it to send a new link.");
  const secret = newLinkSecret(INVITATION_PREFIX);
  const id = crypto.randomUUID();
  const expiresAt = now + INVITATION_TTL_MS;
  await db.batch([
    db.insert(invitations).values({
      id,
      orgId,
      email: address,
      role: input.role,
      groupId: input.groupId,
      permissions: input.permissions,
      secretHash: await linkSecretHash(secret),
      createdBy: createdByOf(actor),
      createdAt: now,
      expiresAt,
    }),
    auditInsert(
      db,
      actor,
      {
        orgId,
        action: "member.invited",
        targetType: "invitation",
        targetId: id,
        detail: {
          email: address,
          role: input.role,
          groupId: input.groupId,
          permissions: input.permissions,
          expiresAt: iso(expiresAt),
        },
      },
      now,
    ),
  ]);
  const row = await invitationQuery(db).where(eq(invitations.id, id)).get();
  return { invitation: invitationView(row!), secret };
}

/** Pending invitations (not accepted, revoked or expired), oldest first. */
export async function listPendingInvitations(
  db: Db,
  orgId: string,
  page: { cursor?: string; limit: number },
  now: number,
): Promise<Page<InvitationView>> {
  const conditions = [eq(invitations.orgId, orgId), pendingAt(now)];
  const rows = await invitationQuery(db)
    .where(
      and(...conditions, pastCursor(page.cursor, "asc", [invitations.createdAt, "number"], [invitations.id, "string"])),
    )
    .orderBy(asc(invitations.createdAt), asc(invitations.id))
    .limit(page.limit + 1);
  const kept = splitPage(rows, page.limit, (last) => [last.i.createdAt, last.i.id]);
  return { items: kept.rows.map(invitationView), next: kept.next };
}

/** Revokes a pending invitation of the organization; its link stops working at once. */
export async function revokeInvitation(db: Db, orgId: string, id: string, actor: Actor, now: number): Promise<void> {
  const found = await db
    .select({ email: invitations.email })
    .from(invitations)
    .where(and(eq(invitations.orgId, orgId), eq(invitations.id, id), pendingAt(now)))
    .get();
  if (!found) throw new AppError("not_found", "No such pending invitation.");
  const [revoked] = await db.batch([
    db
      .update(invitations)
      .set({ revokedAt: now })
      .where(and(eq(invitations.orgId, orgId), eq(invitations.id, id), pendingAt(now)))
      .returning({ id: invitations.id, email: invitations.email }),
    // Written only when the update above changed a row (same transaction).
    auditIf(
      db,
      and(eq(invitations.id, id), eq(invitations.revokedAt, now))!,
      actor,
      { orgId, action: "invitation.revoked", targetType: "invitation", targetId: id, detail: { email: found.email } },
      now,
    ),
  ]);
  if (revoked.length === 0) throw new AppError("not_found", "No such pending invitation.");
}

/** The pending invitation a link's secret names, or the one refusal for every other case. */
async function liveInvitation(db: Db, secret: string, now: number): Promise<Joined> {
  if (!isLinkSecret(INVITATION_PREFIX, secret)) throw linkInvalid();
  const row = await invitationQuery(db)
    .where(and(eq(invitations.secretHash, await linkSecretHash(secret)), pendingAt(now)))
    .get();
  if (!row) throw linkInvalid();
  return row;
}

export async function previewInvitation(db: Db, secret: string, now: number): Promise<InvitationPreview> {
  const r = await liveInvitation(db, secret, now);
  return {
    org: { name: r.orgName },
    group: r.i.groupId ? { name: r.groupName! } : null,
    email: r.i.email,
    role: r.i.role,
    expiresAt: iso(r.i.expiresAt),
  };
}

/** A bound value as a selected column, for INSERT ... SELECT. */
const value = <T>(v: T, name: string) => sql<T>`${v}`.as(name);

/**
 * An audit insert that only happens when the invitation row matches `where`: in a batch after the
 * conditional claim of an invitation, it records the event only when this request won the claim.
 */
function auditIf(
  db: Db,
  where: SQL,
  actor: Actor,
  event: { orgId: string; action: string; targetType: string; targetId: string; detail?: Record<string, unknown> },
  now: number,
) {
  return db.insert(auditEvents).select(
    db
      .select({
        id: sql<number>`NULL`.as("id"),
        orgId: value(event.orgId, "org_id"),
        at: value(now, "at"),
        actorType: value(actor.type, "actor_type"),
        actorId: value(actor.id, "actor_id"),
        action: value(event.action, "action"),
        targetType: value(event.targetType, "target_type"),
        targetId: value(event.targetId, "target_id"),
        ip: value(actor.ip, "ip"),
        detail: value(JSON.stringify(event.detail ?? {}), "detail"),
      })
      .from(invitations)
      .where(where),
  );
}

/** The invitation row after this request claimed it: accepted by this user at this instant. */
const claimedBy = (inviteId: string, userId: string, now: number) =>
  and(eq(invitations.id, inviteId), eq(invitations.acceptedBy, userId), eq(invitations.acceptedAt, now))!;

const stillPending = (inviteId: string, now: number) => and(eq(invitations.id, inviteId), pendingAt(now))!;

/**
 * The statements that turn a claimed invitation into a membership: the membership copies role, group
 * and permissions from the invitation row itself, and both it and the audit event exist only if the
 * claim succeeded in the same transaction.
 */
function membershipFromClaim(
  db: Db,
  invite: InvitationRow,
  userId: string,
  membershipId: string,
  actor: Actor,
  detail: Record<string, unknown>,
  now: number,
): Statement[] {
  // Membership before audit: the audit trigger (migrations/0010) describes `member.added` by reading
  // this membership and its account, so a reordered batch would deliver `"member": null`.
  return [
    db.insert(memberships).select(
      db
        .select({
          id: value(membershipId, "id"),
          userId: value(userId, "user_id"),
          orgId: invitations.orgId,
          groupId: invitations.groupId,
          role: invitations.role,
          permissions: invitations.permissions,
          createdAt: value(now, "created_at"),
          updatedAt: value(now, "updated_at"),
        })
        .from(invitations)
        .where(claimedBy(invite.id, userId, now)),
    ),
    auditIf(
      db,
      claimedBy(invite.id, userId, now),
      actor,
      {
        orgId: invite.orgId,
        action: "invitation.accepted",
        targetType: "invitation",
        targetId: invite.id,
        detail: { ...detail, userId, email: invite.email, memberId: membershipId },
      },
      now,
    ),
  ];
}

/** Marks the invitation accepted by `userId`, only while it is pending (and `extra` holds). */
const claim = (db: Db, inviteId: string, userId: string, now: number, extra?: SQL) =>
  db
    .update(invitations)
    .set({ acceptedAt: now, acceptedBy: userId })
    .where(and(stillPending(inviteId, now), extra));

async function wonClaim(db: Db, inviteId: string, userId: string, now: number): Promise<boolean> {
  const row = await db
    .select({ by: invitations.acceptedBy, at: invitations.acceptedAt })
    .from(invitations)
    .where(eq(invitations.id, inviteId))
    .get();
  return row?.by === userId && row.at === now;
}

/**
 * A new account for the invitation's email, with the name and password its owner chose, and the
 * membership, in one transaction that also marks the link used: two racing registrations make one account.
 */
export async function registerFromInvitation(
  db: Db,
  secret: string,
  input: { name: string; password: string },
  ip: string,
  now: number,
): Promise<{ user: UserRow; member: MemberView }> {
  const invite = (await liveInvitation(db, secret, now)).i;
  if (await findUserByEmail(db, invite.email)) throw conflictIfAccount();
  const user = await newUserRow(
    { email: invite.email, name: input.name, password: input.password, isOwner: false },
    now,
  );
  const actor: Actor = { type: "user", id: user.id, ip };
  const memberId = crypto.randomUUID();
  try {
    await db.batch([
      // The email comes from the invitation row: the link can only ever make the account it was issued for.
      db.insert(users).select(
        db
          .select({
            id: value(user.id, "id"),
            email: invitations.email,
            name: value(user.name, "name"),
            passwordHash: value(user.passwordHash, "password_hash"),
            passwordSalt: value(user.passwordSalt, "password_salt"),
            passwordIterations: value(user.passwordIterations, "password_iterations"),
            isOwner: sql<boolean>`0`.as("is_owner"),
            createdAt: value(now, "created_at"),
            updatedAt: value(now, "updated_at"),
          })
          .from(invitations)
          .where(stillPending(invite.id, now)),
      ),
      auditIf(
        db,
        stillPending(invite.id, now),
        actor,
        {
          orgId: invite.orgId,
          action: "user.created",
          targetType: "user",
          targetId: user.id,
          detail: { email: invite.email, via: "invitation" },
        },
        now,
      ),
      claim(db, invite.id, user.id, now),
      ...membershipFromClaim(db, invite, user.id, memberId, actor, { newAccount: true }, now),
    ]);
  } catch (err) {
    if (isUniqueViolation(err)) throw conflictIfAccount();
    throw err;
  }
  if (!(await wonClaim(db, invite.id, user.id, now))) throw linkInvalid();
  return { user: (await findUserById(db, user.id))!, member: await memberViewOf(db, memberId) };
}

/** Register's answer when the email has an account (made since the invitation, or by a racing registration). */
const conflictIfAccount = () =>
  new AppError(
    "conflict",
    "An account with this email exists already: sign in with it, then open the invitation link again to accept.",
  );

/**
 * Joins the signed-in account to the invitation's organization. Only the account whose email the
 * invitation names may: a link for a@x forwarded to b@y does not add b@y's account.
 */
export async function acceptInvitation(
  env: TokenStoreEnv,
  secret: string,
  caller: { userId: string; email: string },
  ip: string,
  now: number,
): Promise<MemberView> {
  const db = database(env.d1);
  const invite = (await liveInvitation(db, secret, now)).i;
  if (normalizeEmail(caller.email) !== invite.email) {
    throw new AppError(
      "forbidden",
      "This invitation is for another email address. Sign in with the account it was sent to, or ask for an invitation to your own.",
    );
  }
  const memberId = crypto.randomUUID();
  const actor: Actor = { type: "user", id: caller.userId, ip };
  const change = [
    claim(db, invite.id, caller.userId, now, eq(invitations.email, normalizeEmail(caller.email))),
    ...membershipFromClaim(db, invite, caller.userId, memberId, actor, { newAccount: false }, now),
  ];
  try {
    // New rights may widen what the person's personal tokens reach: their cached entries are refilled.
    await commitWithCacheRefresh(env, invite.orgId, { personalOf: [caller.userId] }, change, now);
  } catch (err) {
    if (isUniqueViolation(err))
      throw new AppError(
        "conflict",
        "You already have this membership in the organization; ask one of its admins to change your role instead.",
      );
    throw err;
  }
  if (!(await wonClaim(db, invite.id, caller.userId, now))) throw linkInvalid();
  return memberViewOf(db, memberId);
}

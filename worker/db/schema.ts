import { sql } from "drizzle-orm";
import { index, integer, primaryKey, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";

// Every time is an integer of epoch milliseconds: the hot path compares numbers, never parses dates.

export const organizations = sqliteTable("organizations", {
  id: text("id").primaryKey(),
  slug: text("slug").notNull().unique(),
  name: text("name").notNull(),
  webhookUrl: text("webhook_url"),
  webhookSecret: text("webhook_secret"),
  createdAt: integer("created_at").notNull(),
  updatedAt: integer("updated_at").notNull(),
});

export const groups = sqliteTable(
  "groups",
  {
    id: text("id").primaryKey(),
    orgId: text("org_id")
      .notNull()
      .references(() => organizations.id, { onDelete: "cascade" }),
    slug: text("slug").notNull(),
    name: text("name").notNull(),
    createdAt: integer("created_at").notNull(),
    updatedAt: integer("updated_at").notNull(),
  },
  (t) => [uniqueIndex("groups_org_slug").on(t.orgId, t.slug)],
);

export const projects = sqliteTable(
  "projects",
  {
    id: text("id").primaryKey(),
    orgId: text("org_id")
      .notNull()
      .references(() => organizations.id, { onDelete: "cascade" }),
    groupId: text("group_id").references(() => groups.id, { onDelete: "set null" }),
    key: text("key").notNull(),
    name: text("name").notNull(),
    createdAt: integer("created_at").notNull(),
    updatedAt: integer("updated_at").notNull(),
  },
  (t) => [uniqueIndex("projects_org_key").on(t.orgId, t.key), index("projects_group").on(t.groupId)],
);

export const users = sqliteTable("users", {
  id: text("id").primaryKey(),
  email: text("email").notNull().unique(),
  name: text("name").notNull().default(""),
  passwordHash: text("password_hash").notNull(),
  passwordSalt: text("password_salt").notNull(),
  passwordIterations: integer("password_iterations").notNull(),
  isOwner: integer("is_owner", { mode: "boolean" }).notNull().default(false),
  createdAt: integer("created_at").notNull(),
  updatedAt: integer("updated_at").notNull(),
});

export const MEMBERSHIP_ROLES = ["org_admin", "org_member", "group_admin", "group_member"] as const;
export type MembershipRole = (typeof MEMBERSHIP_ROLES)[number];

export const memberships = sqliteTable(
  "memberships",
  {
    id: text("id").primaryKey(),
    userId: text("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    orgId: text("org_id")
      .notNull()
      .references(() => organizations.id, { onDelete: "cascade" }),
    // Null for an organization-wide role; set for group_admin and group_member.
    groupId: text("group_id").references(() => groups.id, { onDelete: "cascade" }),
    role: text("role", { enum: MEMBERSHIP_ROLES }).notNull(),
    // JSON array of permission names the member may use; null means every permission in the catalog.
    permissions: text("permissions", { mode: "json" }).$type<string[] | null>(),
    createdAt: integer("created_at").notNull(),
    updatedAt: integer("updated_at").notNull(),
  },
  (t) => [
    // SQLite treats NULLs as distinct, so the organization-wide row needs its own partial index.
    uniqueIndex("memberships_user_org").on(t.userId, t.orgId).where(sql`${t.groupId} IS NULL`),
    uniqueIndex("memberships_user_group").on(t.userId, t.orgId, t.groupId).where(sql`${t.groupId} IS NOT NULL`),
    index("memberships_org").on(t.orgId),
    // A person's memberships in one organization, whatever their groups: the partial unique indexes above
    // cannot serve that lookup, which then read every membership of the organization (token lookups,
    // access checks).
    index("memberships_user").on(t.userId, t.orgId),
  ],
);

// The service principal behind organization and group tokens, so they outlive the person who made them.
export const technicalUsers = sqliteTable(
  "technical_users",
  {
    id: text("id").primaryKey(),
    orgId: text("org_id")
      .notNull()
      .references(() => organizations.id, { onDelete: "cascade" }),
    groupId: text("group_id").references(() => groups.id, { onDelete: "cascade" }),
    name: text("name").notNull(),
    createdAt: integer("created_at").notNull(),
  },
  (t) => [
    uniqueIndex("technical_users_org").on(t.orgId).where(sql`${t.groupId} IS NULL`),
    uniqueIndex("technical_users_group").on(t.orgId, t.groupId).where(sql`${t.groupId} IS NOT NULL`),
  ],
);

export const permissions = sqliteTable("permissions", {
  name: text("name").primaryKey(),
  description: text("description").notNull().default(""),
  createdAt: integer("created_at").notNull(),
});

export const permissionSets = sqliteTable("permission_sets", {
  id: text("id").primaryKey(),
  name: text("name").notNull().unique(),
  description: text("description").notNull().default(""),
  builtin: integer("builtin", { mode: "boolean" }).notNull().default(false),
  createdAt: integer("created_at").notNull(),
});

export const permissionSetItems = sqliteTable(
  "permission_set_items",
  {
    setId: text("set_id")
      .notNull()
      .references(() => permissionSets.id, { onDelete: "cascade" }),
    permission: text("permission")
      .notNull()
      .references(() => permissions.name, { onDelete: "cascade" }),
  },
  (t) => [primaryKey({ columns: [t.setId, t.permission] })],
);

export const TOKEN_KINDS = ["org", "group", "personal"] as const;
export type TokenKind = (typeof TOKEN_KINDS)[number];

export const tokens = sqliteTable(
  "tokens",
  {
    id: text("id").primaryKey(),
    kind: text("kind", { enum: TOKEN_KINDS }).notNull(),
    orgId: text("org_id")
      .notNull()
      .references(() => organizations.id, { onDelete: "cascade" }),
    groupId: text("group_id").references(() => groups.id, { onDelete: "cascade" }),
    // The person for a personal token; null for org and group tokens.
    userId: text("user_id").references(() => users.id, { onDelete: "cascade" }),
    technicalUserId: text("technical_user_id").references(() => technicalUsers.id),
    name: text("name").notNull(),
    description: text("description").notNull().default(""),
    allProjects: integer("all_projects", { mode: "boolean" }).notNull(),
    admin: integer("admin", { mode: "boolean" }).notNull().default(false),
    permissionSetId: text("permission_set_id").references(() => permissionSets.id, { onDelete: "set null" }),
    // HMAC-SHA256(TOKEN_PEPPER, secret) as hex; the secret itself is never stored.
    hash: text("hash").notNull().unique(),
    hint: text("hint").notNull(),
    // The effective expiry: the token's own, or the organization's lifetime policy's cut when earlier
    // (worker/orgs/policy-cut.ts). Everything that judges a token (verify, status, the cron) reads this alone.
    expiresAt: integer("expires_at"),
    // True while `expires_at` is the policy's cut; `own_expires_at` then keeps the token's own (null: never).
    expiryCut: integer("expiry_cut", { mode: "boolean" }).notNull().default(false),
    ownExpiresAt: integer("own_expires_at"),
    createdAt: integer("created_at").notNull(),
    // When its current secret was issued by a regenerate (null: at creation): a lifetime policy counts from here.
    regeneratedAt: integer("regenerated_at"),
    // "user:<id>" or "token:<id>".
    createdBy: text("created_by").notNull(),
    // Who issued the current secret by a regenerate, in `created_by`'s form (null: its creator did). A
    // secret an admin token issued dies with that token, as what it created does (worker/tokens/cascade.ts).
    secretIssuedBy: text("secret_issued_by"),
    updatedAt: integer("updated_at").notNull(),
    lastUsedAt: integer("last_used_at"),
    disabledAt: integer("disabled_at"),
    revokedAt: integer("revoked_at"),
    // Bumped by every change; a cache fill carrying an older version never overwrites a newer one.
    version: integer("version").notNull().default(1),
    // Cron bookkeeping: each is set once, so reruns do not repeat the work.
    expiredEventAt: integer("expired_event_at"),
    // The smallest expiry-notice lead time (days) already sent for the current expiry; null: none yet.
    notifiedDays: integer("notified_days"),
    // A notice (expiry or purge warning) being sent by a run since this time; null when none is.
    noticeClaimAt: integer("notice_claim_at"),
    // The idle period (its start: last use, or creation) a purge warning was sent for.
    purgeWarnedFor: integer("purge_warned_for"),
    // IP allowlist: normalized CIDR ranges (worker/verify/ip-allowlist.ts); null: any address.
    allowedIps: text("allowed_ips", { mode: "json" }).$type<string[]>(),
    // Rotation with a grace period (worker/tokens/rotation.ts): the replaced secret's hash verifies until
    // `old_hash_until`; its own use is recorded apart from the token's.
    oldHash: text("old_hash"),
    oldHashUntil: integer("old_hash_until"),
    // The replaced secret's `secret_issued_by`: while it verifies, it too dies with an admin token that issued it.
    oldSecretIssuedBy: text("old_secret_issued_by"),
    oldSecretUsedAt: integer("old_secret_used_at"),
    oldSecretIps: text("old_secret_ips", { mode: "json" }).$type<string[]>(),
    // Verifications refused because the token was dead (revoked, expired, disabled) since it last died, and the
    // latest of them: how an admin finds what still holds a dead secret. Never moves lastUsedAt.
    deadAttempts: integer("dead_attempts").notNull().default(0),
    deadAttemptAt: integer("dead_attempt_at"),
    deadAttemptIp: text("dead_attempt_ip"),
  },
  (t) => [
    index("tokens_org_created").on(t.orgId, t.createdAt),
    // The verify miss looks a hash up as the secret or the old one (`hash = ? OR old_hash = ?`).
    index("tokens_old_hash").on(t.oldHash),
    index("tokens_user").on(t.userId),
    index("tokens_group").on(t.groupId),
    index("tokens_expires").on(t.expiresAt),
    index("tokens_purge").on(t.expiresAt, t.lastUsedAt, t.createdAt),
    index("tokens_revoked").on(t.revokedAt),
    // What a token made, or a secret it issued, is revoked with it (worker/tokens/cascade.ts).
    index("tokens_created_by").on(t.orgId, t.createdBy),
    index("tokens_secret_issued_by").on(t.orgId, t.secretIssuedBy),
    index("tokens_old_secret_issued_by").on(t.orgId, t.oldSecretIssuedBy),
    // One live token per name and owner (the organization, a group, a person in an organization): worker/tokens/names.ts.
    uniqueIndex("tokens_owner_name")
      .on(t.orgId, t.kind, sql`coalesce(${t.groupId}, '')`, sql`coalesce(${t.userId}, '')`, t.name)
      .where(sql`${t.revokedAt} IS NULL`),
  ],
);

export const tokenProjects = sqliteTable(
  "token_projects",
  {
    tokenId: text("token_id")
      .notNull()
      .references(() => tokens.id, { onDelete: "cascade" }),
    projectId: text("project_id")
      .notNull()
      .references(() => projects.id, { onDelete: "cascade" }),
  },
  (t) => [primaryKey({ columns: [t.tokenId, t.projectId] }), index("token_projects_project").on(t.projectId)],
);

export const tokenPermissions = sqliteTable(
  "token_permissions",
  {
    tokenId: text("token_id")
      .notNull()
      .references(() => tokens.id, { onDelete: "cascade" }),
    permission: text("permission").notNull(),
  },
  (t) => [primaryKey({ columns: [t.tokenId, t.permission] })],
);

// Last distinct client addresses of a token (docs/DESIGN.md §2 keeps five).
export const tokenUsage = sqliteTable(
  "token_usage",
  {
    tokenId: text("token_id")
      .notNull()
      .references(() => tokens.id, { onDelete: "cascade" }),
    ip: text("ip").notNull(),
    lastSeenAt: integer("last_seen_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.tokenId, t.ip] })],
);

// Verifications per token and UTC day, split by result; written with the usage write (worker/tokens/usage-counts.ts),
// kept USAGE_WINDOW_DAYS by the retention job.
export const tokenDailyCounts = sqliteTable(
  "token_daily_counts",
  {
    tokenId: text("token_id")
      .notNull()
      .references(() => tokens.id, { onDelete: "cascade" }),
    // The UTC day's first millisecond.
    day: integer("day").notNull(),
    valid: integer("valid").notNull().default(0),
    // Refused for a permission or project the live token does not cover.
    denied: integer("denied").notNull().default(0),
    // Refused because the token was revoked, expired or disabled.
    dead: integer("dead").notNull().default(0),
  },
  (t) => [primaryKey({ columns: [t.tokenId, t.day] }), index("token_daily_counts_day").on(t.day)],
);

export const auditEvents = sqliteTable(
  "audit_events",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    orgId: text("org_id"),
    at: integer("at").notNull(),
    actorType: text("actor_type", { enum: ["user", "token", "system"] }).notNull(),
    actorId: text("actor_id"),
    action: text("action").notNull(),
    targetType: text("target_type"),
    targetId: text("target_id"),
    ip: text("ip"),
    detail: text("detail", { mode: "json" }).$type<Record<string, unknown>>(),
  },
  // Target and actor: a token's history and the log's filters find their events without a scan.
  (t) => [
    index("audit_org_id").on(t.orgId, t.id),
    index("audit_at").on(t.at),
    index("audit_target").on(t.targetId, t.id),
    index("audit_actor").on(t.actorId, t.id),
  ],
);

export const sessions = sqliteTable(
  "sessions",
  {
    // SHA-256 of the cookie value: a leaked table cannot be replayed as cookies.
    id: text("id").primaryKey(),
    userId: text("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    createdAt: integer("created_at").notNull(),
    lastSeenAt: integer("last_seen_at").notNull(),
    expiresAt: integer("expires_at").notNull(),
    sudoUntil: integer("sudo_until"),
    ip: text("ip"),
    userAgent: text("user_agent"),
  },
  (t) => [index("sessions_user").on(t.userId), index("sessions_expires").on(t.expiresAt)],
);

// Password-attempt counters per key (worker/accounts/throttle.ts: "email-net:", "email:", "net:", "confirm:") in fixed windows.
export const loginThrottle = sqliteTable(
  "login_throttle",
  {
    key: text("key").primaryKey(),
    windowStart: integer("window_start").notNull(),
    failures: integer("failures").notNull(),
  },
  (t) => [index("login_throttle_window").on(t.windowStart)],
);

export const upstreams = sqliteTable(
  "upstreams",
  {
    name: text("name").primaryKey(),
    orgId: text("org_id")
      .notNull()
      .references(() => organizations.id, { onDelete: "cascade" }),
    origin: text("origin").notNull(),
    rules: text("rules", { mode: "json" })
      .notNull()
      .$type<{ method: string; pathPrefix: string; permission: string }[]>(),
    projectFromPath: integer("project_from_path", { mode: "boolean" }).notNull().default(false),
    // HMAC key for X-Tessera-Signature on forwarded requests, so the upstream can tell a request
    // came through its own gateway entry. Shown once at creation and rotation; Tessera must keep it
    // to sign with, as it keeps a webhook secret.
    signingSecret: text("signing_secret"),
    createdAt: integer("created_at").notNull(),
    updatedAt: integer("updated_at").notNull(),
  },
  (t) => [index("upstreams_org").on(t.orgId)],
);

// An organization's token policies (docs/DESIGN.md §2 "Policies"): one row, absent while every field has
// its default. Columns, not a JSON blob, so more policies (e.g. "require 2FA for admins") are more columns.
export const orgPolicies = sqliteTable("org_policies", {
  orgId: text("org_id")
    .primaryKey()
    .references(() => organizations.id, { onDelete: "cascade" }),
  // Maximum lifetime in days per token kind; null: only the instance's ceiling.
  orgMaxDays: integer("org_max_days"),
  groupMaxDays: integer("group_max_days"),
  personalMaxDays: integer("personal_max_days"),
  orgExpiryRequired: integer("org_expiry_required", { mode: "boolean" }).notNull().default(false),
  groupExpiryRequired: integer("group_expiry_required", { mode: "boolean" }).notNull().default(false),
  personalExpiryRequired: integer("personal_expiry_required", { mode: "boolean" }).notNull().default(false),
  // Permission set ids personal tokens may use; null: any permissions.
  personalPermissionSets: text("personal_permission_sets", { mode: "json" }).$type<string[] | null>(),
  // Expiry notice lead times in days, descending; null: the default (worker/orgs/policies.ts).
  expiryNoticeDays: text("expiry_notice_days", { mode: "json" }).$type<number[] | null>(),
  updatedAt: integer("updated_at").notNull(),
});

// Cron jobs: a cursor to resume from, a lease against overlapping runs, and the last run's summary.
export const jobState = sqliteTable("job_state", {
  name: text("name").primaryKey(),
  cursor: text("cursor"),
  leaseUntil: integer("lease_until"),
  leaseOwner: text("lease_owner"),
  lastRunAt: integer("last_run_at"),
  lastSummary: text("last_summary", { mode: "json" }).$type<Record<string, unknown>>(),
});

// A one-time link that lets a person join an organization with an account they make themselves
// (or accept into the one they have): nobody chooses another person's password.
export const invitations = sqliteTable(
  "invitations",
  {
    id: text("id").primaryKey(),
    orgId: text("org_id")
      .notNull()
      .references(() => organizations.id, { onDelete: "cascade" }),
    email: text("email").notNull(),
    role: text("role", { enum: MEMBERSHIP_ROLES }).notNull(),
    groupId: text("group_id").references(() => groups.id, { onDelete: "cascade" }),
    permissions: text("permissions", { mode: "json" }).$type<string[] | null>(),
    // SHA-256 of the link's secret as hex: the secret itself is shown once to the inviter.
    secretHash: text("secret_hash").notNull().unique(),
    // "user:<id>" or "token:<id>".
    createdBy: text("created_by").notNull(),
    createdAt: integer("created_at").notNull(),
    expiresAt: integer("expires_at").notNull(),
    acceptedAt: integer("accepted_at"),
    acceptedBy: text("accepted_by").references(() => users.id, { onDelete: "set null" }),
    revokedAt: integer("revoked_at"),
  },
  (t) => [index("invitations_org").on(t.orgId, t.createdAt), index("invitations_email").on(t.orgId, t.email)],
);

// A one-time link the instance owner issues for a person who lost their password; they choose the new one.
export const passwordResets = sqliteTable(
  "password_resets",
  {
    id: text("id").primaryKey(),
    userId: text("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    // SHA-256 of the link's secret as hex.
    secretHash: text("secret_hash").notNull().unique(),
    createdBy: text("created_by").notNull(),
    createdAt: integer("created_at").notNull(),
    expiresAt: integer("expires_at").notNull(),
    usedAt: integer("used_at"),
  },
  (t) => [index("password_resets_user").on(t.userId)],
);

// A person's TOTP second factor (RFC 6238; docs/DESIGN.md §5, "Two-factor sign-in"). One row per user:
// enrolling (enabled_at null) until a first valid code turns it on.
export const userTwoFactor = sqliteTable("user_two_factor", {
  userId: text("user_id")
    .primaryKey()
    .references(() => users.id, { onDelete: "cascade" }),
  // The shared secret sealed with AES-GCM under a key derived from TOKEN_PEPPER (worker/accounts/totp-seal.ts);
  // never answered after enrollment.
  secretSealed: text("secret_sealed").notNull(),
  createdAt: integer("created_at").notNull(),
  enabledAt: integer("enabled_at"),
  // The last 30-second step a code was accepted for: a code of that step or an earlier one is refused (no replay).
  lastStep: integer("last_step").notNull().default(0),
});

// One-time recovery codes: SHA-256 of each, shown once; a used code stays (used_at) so it cannot work again.
export const recoveryCodes = sqliteTable(
  "recovery_codes",
  {
    userId: text("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    codeHash: text("code_hash").notNull(),
    createdAt: integer("created_at").notNull(),
    usedAt: integer("used_at"),
  },
  (t) => [primaryKey({ columns: [t.userId, t.codeHash] })],
);

// Organizations whose admins must sign in with two factors: a row means required (its own table, apart
// from the other organization policies, so each can change alone).
export const orgTwoFactorPolicies = sqliteTable("org_two_factor_policies", {
  orgId: text("org_id")
    .primaryKey()
    .references(() => organizations.id, { onDelete: "cascade" }),
  requiredSince: integer("required_since").notNull(),
});
// Webhook events (docs/API.md "Webhook events"). The event types an organization subscribes to; no row:
// the defaults of worker/webhooks/events.ts.
export const webhookSettings = sqliteTable("webhook_settings", {
  orgId: text("org_id")
    .primaryKey()
    .references(() => organizations.id, { onDelete: "cascade" }),
  events: text("events", { mode: "json" }).notNull().$type<string[]>(),
  updatedAt: integer("updated_at").notNull(),
});

// Audit actions that queue a webhook event: worker/webhooks/events.ts's AUDIT_WEBHOOK_EVENTS, as the
// `audit_events` trigger reads it (seeded by migration 0009).
export const webhookEventMap = sqliteTable("webhook_event_map", {
  action: text("action").primaryKey(),
  eventType: text("event_type").notNull(),
});

// The durable outbox and the delivery log in one: a row per event, written in the transaction of the
// change that caused it, delivered by the cron with backoff (worker/webhooks/outbox.ts).
export const webhookOutbox = sqliteTable(
  "webhook_outbox",
  {
    // The Standard Webhooks message id (`webhook-id`): the same on every attempt and redelivery.
    id: text("id").primaryKey(),
    orgId: text("org_id")
      .notNull()
      .references(() => organizations.id, { onDelete: "cascade" }),
    type: text("type").notNull(),
    data: text("data", { mode: "json" }).notNull().$type<Record<string, unknown>>(),
    createdAt: integer("created_at").notNull(),
    state: text("state", { enum: ["pending", "delivered", "failed"] }).notNull(),
    attempts: integer("attempts").notNull().default(0),
    // When the cron may try it; null: not the cron's (done, given up, or an expiry notice, which the
    // notices job retries itself).
    nextAttemptAt: integer("next_attempt_at"),
    // Set while an attempt is under way (the cron's or a redelivery), so no other sends it at once.
    claimedAt: integer("claimed_at"),
    lastAttemptAt: integer("last_attempt_at"),
    lastStatus: integer("last_status"),
    lastError: text("last_error"),
  },
  (t) => [
    index("webhook_outbox_due").on(t.nextAttemptAt),
    index("webhook_outbox_org").on(t.orgId, t.createdAt),
    index("webhook_outbox_created").on(t.createdAt),
  ],
);

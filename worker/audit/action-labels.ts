import type { AuditAction } from "./events";

/**
 * What each audit action is called on screen and in exports: one table, typed by the closed list in
 * events.ts so a new action cannot ship without its words. The console imports it too.
 */
export const ACTION_LABELS: Record<AuditAction, string> = {
  "setup.completed": "Completed setup",
  "org.created": "Created organization",
  "org.updated": "Changed organization",
  "group.created": "Created group",
  "group.updated": "Changed group",
  "group.deleted": "Deleted group",
  "project.created": "Created project",
  "project.updated": "Changed project",
  "project.deleted": "Deleted project",
  "member.added": "Added member",
  "member.invited": "Invited member",
  "member.updated": "Changed member",
  "member.removed": "Removed member",
  "invitation.accepted": "Accepted invitation",
  "invitation.revoked": "Revoked invitation",
  "user.created": "Created account",
  "user.password_changed": "Changed password",
  "user.password_reset_issued": "Issued password reset link",
  "user.password_reset": "Reset password",
  "session.login": "Signed in",
  "session.login_failed": "Failed sign-in",
  "session.logout": "Signed out",
  "session.sudo": "Confirmed password",
  "session.sudo_failed": "Failed password confirmation",
  "session.password_change_failed": "Failed password change",
  "token.created": "Created token",
  "token.updated": "Changed token",
  "token.regenerated": "Regenerated token",
  "token.disabled": "Disabled token",
  "token.enabled": "Enabled token",
  "token.revoked": "Revoked token",
  "token.deleted": "Deleted token",
  "token.expired": "Token expired",
  "token.purged": "Removed unused token",
  "token.erased": "Erased dead token",
  "token.expiry_notice": "Sent expiry notice",
  "token.leaked": "Reported leaked token",
  "webhook.leak_alert": "Sent leak alert",
  "upstream.created": "Created upstream",
  "upstream.updated": "Changed upstream",
  "upstream.deleted": "Deleted upstream",
  "upstream.secret_rotated": "Rotated upstream signing secret",
  "permission.created": "Created permission",
  "permission.updated": "Changed permission",
  "permission.deleted": "Deleted permission",
  "permission_set.created": "Created permission set",
  "permission_set.updated": "Changed permission set",
  "permission_set.deleted": "Deleted permission set",
  "jobs.run": "Ran the cron jobs",
};

/** The label, or the action's own name when it has none (an action added since, or since renamed). */
export const actionLabel = (action: string): string =>
  Object.hasOwn(ACTION_LABELS, action) ? ACTION_LABELS[action as AuditAction] : action;

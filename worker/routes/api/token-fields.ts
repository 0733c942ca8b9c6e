import { z } from "zod";
import type { Db } from "../../db/client";
import { AppError } from "../../errors";
import { ROTATION_GRACE_MAX_S, TOKEN_ALLOWED_IPS_MAX } from "../../limits";
import { getPermissionSet } from "../../orgs/catalog";
import { TOKEN_SORTS } from "../../tokens/list";
import { TOKEN_STATUSES } from "../../tokens/status";
import { normalizeRange } from "../../verify/ip-allowlist";
import { descriptionField, isoDate, nameField, pageQuery, permissionNameField, projectKeyField } from "./schemas";

// Request shapes shared by the organization token routes and the personal ones.

export const MAX_TOKEN_PROJECTS = 100;
export const MAX_TOKEN_PERMISSIONS = 100;
export const MAX_BULK_IDS = 100;

const projectList = z
  .array(projectKeyField)
  .min(1, 'must name at least one project (or use "*")')
  .max(MAX_TOKEN_PROJECTS);

/**
 * IPv4 and IPv6 CIDR ranges, a bare address meaning one address; each normalized (host bits cleared,
 * IPv6 compressed in lowercase) and duplicates dropped. Null or empty: any address.
 */
const allowedIpsField = z
  .array(z.string().max(64))
  .max(TOKEN_ALLOWED_IPS_MAX, `at most ${TOKEN_ALLOWED_IPS_MAX} ranges`)
  .nullable()
  .transform((list, ctx) => {
    if (list === null) return null;
    const normalized: string[] = [];
    for (const entry of list) {
      const range = normalizeRange(entry);
      if (range === null) {
        ctx.addIssue({
          code: "custom",
          message: `"${entry.slice(0, 64)}" is not an IPv4 or IPv6 address or CIDR range`,
        });
        return z.NEVER;
      }
      if (!normalized.includes(range)) normalized.push(range);
    }
    return normalized;
  })
  .describe("IPv4/IPv6 addresses or CIDR ranges the token may be used from; null or empty: any address");

export const grantFields = {
  name: nameField,
  description: descriptionField.optional(),
  /** Required, so that "never expires" is always a deliberate null. */
  expiresAt: isoDate.nullable(),
  projects: z.union([z.literal("*"), projectList]),
  permissions: z
    .array(permissionNameField)
    .min(1, "must name at least one permission")
    .max(MAX_TOKEN_PERMISSIONS)
    .optional(),
  /** A permission set id: its permissions are used when `permissions` is left out. */
  permissionSet: z.string().min(1).max(100).optional(),
  allowedIps: allowedIpsField.optional(),
};

const statusList = z
  .string()
  .max(100)
  .transform((s) =>
    s
      .split(",")
      .map((x) => x.trim())
      .filter(Boolean),
  )
  .pipe(z.array(z.enum(TOKEN_STATUSES, { message: `each status must be one of ${TOKEN_STATUSES.join(", ")}` })));

/** What the per-status counts take: the list's search without its paging and status filter. */
export const countFields = { q: z.string().max(100).optional() };

export const listFields = {
  ...pageQuery,
  ...countFields,
  /** One status or several, comma-separated: "active,expiring". */
  status: statusList.optional(),
  /** The column to sort by (default: created) and the direction (default: desc). */
  sort: z.enum(TOKEN_SORTS).optional(),
  order: z.enum(["asc", "desc"]).optional(),
};

export const editBody = z
  .object({
    name: nameField.optional(),
    description: descriptionField.optional(),
    projects: projectList.optional(),
    allowedIps: allowedIpsField.optional(),
  })
  .refine(
    (b) =>
      b.name !== undefined || b.description !== undefined || b.projects !== undefined || b.allowedIps !== undefined,
    "send at least one of name, description, projects, allowedIps",
  );

export const copyBody = z.object({ name: nameField.optional(), expiresAt: isoDate.nullable().optional() });

/**
 * Renewal: a new expiry (null: never) with the new secret; without it the expiry stays. `graceSeconds`:
 * how long the replaced secret keeps verifying (0, the default: it dies at once).
 */
export const regenerateBody = z.object({
  expiresAt: isoDate.nullable().optional(),
  graceSeconds: z
    .number()
    .int("must be a whole number of seconds")
    .min(0)
    .max(ROTATION_GRACE_MAX_S, `at most ${ROTATION_GRACE_MAX_S} (7 days)`)
    .optional(),
});

export const bulkBody = z.object({
  ids: z.array(z.string().min(1).max(100)).min(1, "must list at least one id").max(MAX_BULK_IDS),
});

export const toEpoch = (iso: string | null): number | null => (iso === null ? null : Date.parse(iso));

/** The permission list of a create request: named one by one, or taken from a set (or both, when they agree). */
export async function resolvePermissions(
  db: Db,
  body: { permissions?: string[]; permissionSet?: string },
): Promise<{ permissions: string[]; permissionSetId: string | null }> {
  if (body.permissionSet === undefined) {
    if (!body.permissions)
      throw new AppError("validation_failed", "Name the permissions, or a permission set.", {
        fields: { permissions: "required without permissionSet" },
      });
    return { permissions: [...new Set(body.permissions)], permissionSetId: null };
  }
  let set: Awaited<ReturnType<typeof getPermissionSet>>;
  try {
    set = await getPermissionSet(db, body.permissionSet);
  } catch (err) {
    if (err instanceof AppError && err.code === "not_found") {
      throw new AppError("validation_failed", "No such permission set.", {
        fields: { permissionSet: "unknown permission set" },
      });
    }
    throw err;
  }
  if (body.permissions) {
    const given = [...new Set(body.permissions)].sort();
    if (given.join(",") !== set.permissions.join(",")) {
      throw new AppError(
        "validation_failed",
        "The permissions differ from the set's; leave the set out for a custom selection.",
        {
          fields: { permissions: "must equal the permission set's, or leave permissionSet out" },
        },
      );
    }
  }
  return { permissions: set.permissions, permissionSetId: set.id };
}

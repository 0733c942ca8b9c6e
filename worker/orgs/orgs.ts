import { and, asc, eq, inArray } from "drizzle-orm";
import { changesOf } from "../audit/changes";
import { type Actor, auditInsert } from "../audit/events";
import type { Db } from "../db/client";
import { isUniqueViolation } from "../db/errors";
import { type Page, pastCursor, splitPage } from "../db/paging";
import { memberships, organizations } from "../db/schema";
import { AppError } from "../errors";

type OrgRow = typeof organizations.$inferSelect;

export interface OrgView {
  id: string;
  slug: string;
  name: string;
  /** Shown to organization admins only; the secret itself never leaves the store. */
  webhook?: { url: string; hasSecret: boolean } | null;
  createdAt: string;
  updatedAt: string;
}

export function orgView(row: OrgRow, withWebhook: boolean): OrgView {
  const view: OrgView = {
    id: row.id,
    slug: row.slug,
    name: row.name,
    createdAt: new Date(row.createdAt).toISOString(),
    updatedAt: new Date(row.updatedAt).toISOString(),
  };
  if (withWebhook)
    view.webhook = row.webhookUrl ? { url: row.webhookUrl, hasSecret: row.webhookSecret !== null } : null;
  return view;
}

export async function getOrg(db: Db, orgId: string): Promise<OrgRow> {
  const row = await db.select().from(organizations).where(eq(organizations.id, orgId)).get();
  if (!row) throw new AppError("not_found", "No such organization.");
  return row;
}

/** Which organizations a caller sees: all (owner), those with a membership (user), or one (token). */
export type OrgScope = { all: true } | { userId: string } | { orgId: string };

export async function listOrgs(
  db: Db,
  scope: OrgScope,
  page: { cursor?: string; limit: number },
): Promise<Page<OrgView>> {
  const conditions = [];
  if ("userId" in scope) {
    conditions.push(
      inArray(
        organizations.id,
        db.select({ id: memberships.orgId }).from(memberships).where(eq(memberships.userId, scope.userId)),
      ),
    );
  }
  if ("orgId" in scope) conditions.push(eq(organizations.id, scope.orgId));
  const rows = await db
    .select()
    .from(organizations)
    .where(and(...conditions, pastCursor(page.cursor, "asc", [organizations.slug, "string"])))
    .orderBy(asc(organizations.slug))
    .limit(page.limit + 1);
  const kept = splitPage(rows, page.limit, (last) => [last.slug]);
  return { items: kept.rows.map((r) => orgView(r, false)), next: kept.next };
}

/** A new organization; a user who makes one becomes its first admin. */
export async function createOrg(
  db: Db,
  input: { slug: string; name: string },
  creatorUserId: string | null,
  actor: Actor,
  now: number,
): Promise<OrgView> {
  const row: OrgRow = {
    id: crypto.randomUUID(),
    slug: input.slug,
    name: input.name,
    webhookUrl: null,
    webhookSecret: null,
    createdAt: now,
    updatedAt: now,
  };
  const audit = auditInsert(
    db,
    actor,
    {
      orgId: row.id,
      action: "org.created",
      targetType: "org",
      targetId: row.id,
      detail: { slug: row.slug, name: row.name },
    },
    now,
  );
  try {
    if (creatorUserId) {
      await db.batch([
        db.insert(organizations).values(row),
        db.insert(memberships).values({
          id: crypto.randomUUID(),
          userId: creatorUserId,
          orgId: row.id,
          groupId: null,
          role: "org_admin",
          permissions: null,
          createdAt: now,
          updatedAt: now,
        }),
        audit,
      ]);
    } else {
      await db.batch([db.insert(organizations).values(row), audit]);
    }
  } catch (err) {
    if (isUniqueViolation(err))
      throw new AppError("conflict", "An organization with this slug already exists.", {
        fields: { slug: "already taken" },
      });
    throw err;
  }
  return orgView(row, true);
}

export interface OrgPatch {
  name?: string;
  /** null removes the webhook; without a secret, the stored one is kept and only the URL changes. */
  webhook?: { url: string; secret?: string } | null;
}

export async function updateOrg(db: Db, orgId: string, patch: OrgPatch, actor: Actor, now: number): Promise<OrgView> {
  const row = await getOrg(db, orgId);
  const changes: Partial<OrgRow> = { updatedAt: now };
  const detail: Record<string, unknown> = {};
  if (patch.name !== undefined) {
    changes.name = patch.name;
    detail.name = patch.name;
  }
  if (patch.webhook === null) {
    changes.webhookUrl = null;
    changes.webhookSecret = null;
    detail.webhook = null;
  } else if (patch.webhook !== undefined) {
    const { url, secret } = patch.webhook;
    // Deliveries are always signed: a URL alone needs a secret already stored.
    if (secret === undefined && row.webhookSecret === null) {
      throw new AppError("validation_failed", "No signing secret is stored yet: give one with the URL.", {
        fields: { "webhook.secret": "required: no secret is stored yet" },
      });
    }
    changes.webhookUrl = url;
    if (secret !== undefined) changes.webhookSecret = secret;
    // The audit trail says whether the secret changed, never what it is.
    detail.webhook = { url, secretChanged: secret !== undefined };
  }
  // The webhook's URL only: whether its secret changed is in `detail.webhook`, never the secret.
  detail.changes = changesOf(
    { name: row.name, webhookUrl: row.webhookUrl },
    { name: changes.name, webhookUrl: changes.webhookUrl },
  );
  await db.batch([
    db.update(organizations).set(changes).where(eq(organizations.id, orgId)),
    auditInsert(db, actor, { orgId, action: "org.updated", targetType: "org", targetId: orgId, detail }, now),
  ]);
  return orgView({ ...row, ...changes }, true);
}

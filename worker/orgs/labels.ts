import { eq, inArray, sql } from "drizzle-orm";
import { batch } from "../db/batch";
import type { Db } from "../db/client";
import {
  groups,
  memberships,
  organizations,
  permissionSets,
  permissions,
  projects,
  tokens,
  upstreams,
  users,
} from "../db/schema";
import { chunk, sliceSize } from "../db/slices";

// Display labels for the ids that events and tokens record (a person's email, a token's name...),
// looked up in one D1 batch for a whole page, whatever its size, instead of one query per row.

/** How the cron jobs, leak reports and other work of Tessera itself are named. */
export const SYSTEM_LABEL = "Tessera";

/** What can be labelled: one lookup by id each. */
export type LabelKind =
  | "user"
  | "token"
  | "group"
  | "project"
  | "member"
  | "org"
  | "permission_set"
  | "upstream"
  | "permission";

export interface Labelled {
  /** Email, name, slug or key: what a person recognizes. */
  label: string;
  /** A token's hint (`tso_…JGmi`), so two tokens of one name can be told apart; null otherwise. */
  hint: string | null;
}

interface LabelRow extends Labelled {
  id: string;
  /** The organization the record belongs to; null for instance-wide records (people, permission sets). */
  orgId: string | null;
}

/**
 * The label of a record, or null when it no longer exists or belongs to another organization than
 * `orgId`. `orgId: null` asks from the instance's point of view (the owner's log), where any record fits.
 */
export type LabelBook = (kind: LabelKind, id: string | null | undefined, orgId: string | null) => Labelled | null;

// Aliased: D1 hands batch rows back keyed by column name, so two same-named columns would collide.
const none = (alias: string) => sql<string | null>`NULL`.as(alias);
const noOrg = () => none("label_org");
const noHint = () => none("label_hint");

function lookup(db: Db, kind: LabelKind, ids: string[]) {
  switch (kind) {
    case "user":
      return db
        .select({ id: users.id, orgId: noOrg(), label: users.email, hint: noHint() })
        .from(users)
        .where(inArray(users.id, ids));
    case "token":
      return db
        .select({ id: tokens.id, orgId: tokens.orgId, label: tokens.name, hint: tokens.hint })
        .from(tokens)
        .where(inArray(tokens.id, ids));
    case "group":
      return db
        .select({ id: groups.id, orgId: groups.orgId, label: groups.slug, hint: noHint() })
        .from(groups)
        .where(inArray(groups.id, ids));
    case "project":
      return db
        .select({ id: projects.id, orgId: projects.orgId, label: projects.key, hint: noHint() })
        .from(projects)
        .where(inArray(projects.id, ids));
    case "member":
      return db
        .select({ id: memberships.id, orgId: memberships.orgId, label: users.email, hint: noHint() })
        .from(memberships)
        .innerJoin(users, eq(users.id, memberships.userId))
        .where(inArray(memberships.id, ids));
    case "org":
      return db
        .select({
          id: organizations.id,
          orgId: sql<string>`${organizations.id}`.as("label_org"),
          label: organizations.slug,
          hint: noHint(),
        })
        .from(organizations)
        .where(inArray(organizations.id, ids));
    case "permission_set":
      return db
        .select({ id: permissionSets.id, orgId: noOrg(), label: permissionSets.name, hint: noHint() })
        .from(permissionSets)
        .where(inArray(permissionSets.id, ids));
    // Named by their ids: looked up only to tell whether they still exist.
    case "upstream":
      return db
        .select({ id: upstreams.name, orgId: upstreams.orgId, label: upstreams.name, hint: noHint() })
        .from(upstreams)
        .where(inArray(upstreams.name, ids));
    case "permission":
      return db
        .select({ id: permissions.name, orgId: noOrg(), label: permissions.name, hint: noHint() })
        .from(permissions)
        .where(inArray(permissions.name, ids));
  }
}

/** Collects the ids a page needs, then loads all their labels at once. */
export class LabelRequest {
  private readonly wanted = new Map<LabelKind, Set<string>>();

  add(kind: LabelKind, id: string | null | undefined): void {
    if (!id) return;
    const ids = this.wanted.get(kind) ?? new Set<string>();
    this.wanted.set(kind, ids);
    ids.add(id);
  }

  async load(db: Db): Promise<LabelBook> {
    const kinds: LabelKind[] = [];
    const statements: ReturnType<typeof lookup>[] = [];
    for (const [kind, ids] of this.wanted) {
      for (const slice of chunk([...ids], sliceSize(0))) {
        kinds.push(kind);
        statements.push(lookup(db, kind, slice));
      }
    }
    const found = new Map<string, LabelRow>();
    (await batch(db, statements)).forEach((rows, i) => {
      for (const row of rows) found.set(`${kinds[i]}:${row.id}`, row);
    });
    return (kind, id, orgId) => {
      const row = id ? found.get(`${kind}:${id}`) : undefined;
      if (!row) return null;
      // The scope check is what keeps one organization's names out of another's answers.
      if (orgId !== null && row.orgId !== null && row.orgId !== orgId) return null;
      return { label: row.label, hint: row.hint };
    };
  }
}

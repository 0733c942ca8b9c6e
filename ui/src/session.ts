// The signed-in person and what they may manage, from `GET /api/me`.
import type { Me, Token } from "./client";
import { store } from "./store";

/** undefined while loading, null when signed out. */
export const session = store<Me | null | undefined>(undefined);

export function isOrgAdmin(me: Me, org: string): boolean {
  return me.user.isOwner || me.memberships.some((m) => m.org.slug === org && m.role === "org_admin");
}

/** Groups of `org` whose tokens the person manages (all of them for org admins: null). */
export function adminGroups(me: Me, org: string): string[] | null {
  if (isOrgAdmin(me, org)) return null;
  return me.memberships
    .filter((m) => m.org.slug === org && m.role === "group_admin" && m.group)
    .map((m) => m.group!.slug);
}

/** Whether the person sees the organization's token list (its admins, and admins of one of its groups). */
export function managesTokens(me: Me, org: string): boolean {
  return adminGroups(me, org)?.length !== 0;
}

/** Whether the person may create, change or kill this token (the API decides; this hides what it would refuse). */
export function canManage(me: Me, t: Token): boolean {
  if (t.kind === "personal") return t.user?.id === me.user.id || me.user.isOwner;
  const groups = adminGroups(me, t.org.slug);
  return groups === null || (t.kind === "group" && !!t.group && groups.includes(t.group.slug));
}

/** Organizations the person belongs to (slug -> name), for the switcher and personal tokens. */
export function orgsOf(me: Me): Map<string, string> {
  return new Map(me.memberships.map((m) => [m.org.slug, m.org.name]));
}

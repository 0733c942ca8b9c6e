import type { ProjectFact } from "../orgs/project-facts";
import type { CachedToken } from "../tokens/cached";
import { ceilingAddsOn, ceilingCovers } from "../tokens/personal-ceiling";

/** The project a query names, as its fact says: null when the organization has no project under that key. */
export type FactProject = ProjectFact["project"];

/**
 * Whether answering needs the project's fact: only when the query names a project the token might
 * reach. A key missing from a token's own list is out of its scope whatever the organization holds.
 */
export const needsProjectFact = (token: CachedToken, project: string | null): project is string =>
  project !== null && (token.projects === "*" || token.projects.some((p) => p.key === project));

/**
 * Whether the token reaches the project (docs/DESIGN.md §3): a named project by its id, so a project
 * deleted and re-created under the same key is not covered by an old link; a group token only in its
 * group; a personal token only where its owner's memberships reach (personal-ceiling.ts).
 */
export function reaches(token: CachedToken, project: FactProject): boolean {
  if (project === null) return false;
  if (token.projects !== "*" && !token.projects.some((p) => p.id === project.id)) return false;
  if (token.kind === "group") return project.groupId === token.groupId;
  if (token.ceiling) return ceilingCovers(token.ceiling, project.groupId);
  return true;
}

/** The token's permissions on the project: those it holds everywhere, and what a group membership adds there. */
export function heldOn(token: CachedToken, project: FactProject): string[] {
  if (!token.ceiling || project === null || !reaches(token, project)) return token.permissions;
  const more = ceilingAddsOn(token.ceiling, project.groupId);
  return more.length === 0 ? token.permissions : [...token.permissions, ...more].sort();
}

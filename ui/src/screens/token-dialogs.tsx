// Opens the create dialog. Its module (create.tsx, the console's largest form) is fetched the first time
// a dialog opens, not with the first screen.
import type { Me, Scope, Token, WithSecret } from "../client";
import { lazy, open } from "../ui";

const CreateDialog = lazy(() => import("./create").then((m) => m.CreateDialog));

/** Resolves to the new token and its one-time secret, or null when cancelled. */
export function createToken(scope: Scope, me: Me, group?: string): Promise<WithSecret | null> {
  return open((done) => <CreateDialog scope={scope} me={me} group={group} done={done} />);
}

/**
 * Copy: the create form filled in from `source` (same owner), so the copy may narrow its projects and
 * permissions or take another expiry; a copy of an expired token starts with no expiry chosen.
 */
export function copyToken(scope: Scope, me: Me, source: Token): Promise<WithSecret | null> {
  return open((done) => <CreateDialog scope={scope} me={me} source={source} done={done} />);
}

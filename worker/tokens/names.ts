import { isUniqueViolation } from "../db/errors";
import { AppError } from "../errors";

// Token names are unique per owner among tokens not revoked (the unique index tokens_owner_name,
// migration 0006): the organization's own tokens, each group's, and each person's in each organization.
// A revoked token keeps its name in the audit log but frees it, so its replacement may take it.

/** The index name D1 reports when two tokens of one owner would share a name. */
const OWNER_NAME_INDEX = "tokens_owner_name";

export const nameTaken = (name: string) =>
  new AppError("conflict", `A token named “${name}” already exists for this owner. Choose another name.`, {
    fields: { name: "already used by another token of this owner" },
  });

/**
 * Whether a write failed on the name index: the index is the check (no read before each create, so
 * bulk creation costs no extra query), and the caller answers 409 with `nameTaken`.
 */
export function isNameClash(err: unknown): boolean {
  const text = err instanceof Error ? `${err.message} ${err.cause}` : String(err);
  return isUniqueViolation(err) && (text.includes(OWNER_NAME_INDEX) || text.includes("tokens.name"));
}

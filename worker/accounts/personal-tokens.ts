import { and, eq } from "drizzle-orm";
import type { Db } from "../db/client";
import { tokens } from "../db/schema";
import type { TokenRow } from "../tokens/views";

/** A personal token of this person, or null: nobody else's token is ever found this way. */
export async function findPersonalToken(db: Db, userId: string, tokenId: string): Promise<TokenRow | null> {
  const row = await db
    .select()
    .from(tokens)
    .where(and(eq(tokens.id, tokenId), eq(tokens.userId, userId), eq(tokens.kind, "personal")))
    .get();
  return row ?? null;
}

/** The ids among these that are this person's personal tokens. */
export async function ownPersonalTokenIds(
  db: Db,
  userId: string,
  ids: string[],
): Promise<{ id: string; orgId: string }[]> {
  const found: { id: string; orgId: string }[] = [];
  for (const id of new Set(ids)) {
    const row = await findPersonalToken(db, userId, id);
    if (row) found.push({ id: row.id, orgId: row.orgId });
  }
  return found;
}

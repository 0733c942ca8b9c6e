import { env } from "cloudflare:workers";
import { database } from "../../worker/db/client";
import { tokens } from "../../worker/db/schema";
import { generateTokenSecret, tokenHint } from "../../worker/tokens/format";
import { hashToken } from "../../worker/tokens/hash";
import type { OrgFixture } from "./fixtures";

const ROWS_PER_INSERT = 4; // D1 allows 100 bound parameters per statement; a token row binds 24

/**
 * Many live organization tokens for all projects, with no permissions, written straight to D1 with the
 * worker's own secret format and hash (createToken costs ~75 ms each here). They are in no cache.
 */
export async function bulkTokens(org: OrgFixture, count: number, now = Date.now()): Promise<string[]> {
  const db = database(env.DB);
  const secrets = Array.from({ length: count }, () => generateTokenSecret("org"));
  const rows = await Promise.all(
    secrets.map(async (secret, i) => ({
      id: crypto.randomUUID(),
      kind: "org" as const,
      orgId: org.orgId,
      name: `bulk ${i}`,
      allProjects: true,
      hash: await hashToken(env.TOKEN_PEPPER, secret),
      hint: tokenHint(secret),
      createdAt: now,
      createdBy: "system",
      updatedAt: now,
    })),
  );
  for (let i = 0; i < rows.length; i += ROWS_PER_INSERT) await db.insert(tokens).values(rows.slice(i, i + ROWS_PER_INSERT));
  return secrets;
}

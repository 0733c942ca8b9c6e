import { env } from "cloudflare:workers";
import { database } from "../../worker/db/client";
import { type TokenKind, tokenProjects, tokens } from "../../worker/db/schema";
import { primarySession } from "../../worker/db/session";
import { generateTokenSecret, tokenHint } from "../../worker/tokens/format";
import { hashToken } from "../../worker/tokens/hash";
import type { OrgFixture } from "./fixtures";

const ROWS_PER_INSERT = 4; // D1 allows 100 bound parameters per statement; a token row binds 24
const LINKS_PER_INSERT = 50; // a token_projects row binds 2

export interface BulkShape {
  kind?: TokenKind;
  /** For group tokens. */
  groupId?: string | null;
  /** For personal tokens. */
  userId?: string | null;
  /** Project ids named on every token; absent: tokens for all projects. */
  projectIds?: string[];
}

/**
 * Many live tokens, by default organization tokens for all projects, with no permissions, written straight
 * to D1 with the worker's own secret format and hash (createToken costs ~75 ms each here). They are in no cache.
 */
export async function bulkTokens(
  org: OrgFixture,
  count: number,
  now = Date.now(),
  shape: BulkShape = {},
): Promise<string[]> {
  const db = database(primarySession(env.DB));
  const kind = shape.kind ?? "org";
  const secrets = Array.from({ length: count }, () => generateTokenSecret(kind));
  const rows = await Promise.all(
    secrets.map(async (secret, i) => ({
      id: crypto.randomUUID(),
      kind,
      orgId: org.orgId,
      groupId: kind === "org" ? null : (shape.groupId ?? null),
      userId: kind === "personal" ? (shape.userId ?? null) : null,
      // Names are unique per owner among live tokens (migration 0006): two calls for one org must not clash.
      name: `bulk ${i} ${crypto.randomUUID()}`,
      allProjects: shape.projectIds === undefined,
      hash: await hashToken(env.TOKEN_PEPPER, secret),
      hint: tokenHint(secret),
      createdAt: now,
      createdBy: "system",
      secretIssuedBy: null,
      oldSecretIssuedBy: null,
      updatedAt: now,
    })),
  );
  for (let i = 0; i < rows.length; i += ROWS_PER_INSERT)
    await db.insert(tokens).values(rows.slice(i, i + ROWS_PER_INSERT));
  const links = rows.flatMap((r) => (shape.projectIds ?? []).map((projectId) => ({ tokenId: r.id, projectId })));
  for (let i = 0; i < links.length; i += LINKS_PER_INSERT)
    await db.insert(tokenProjects).values(links.slice(i, i + LINKS_PER_INSERT));
  return secrets;
}

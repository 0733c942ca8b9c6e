import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { primarySession, replicaRead } from "../worker/db/session";
import { hashToken } from "../worker/tokens/hash";
import { lookupTokenByHash, lookupTokensByHashes } from "../worker/tokens/lookup";
import { forward, hookD1 } from "./support/d1";
import { makeMember, makeOrg, makeToken, type OrgFixture } from "./support/fixtures";

// A verify miss reads one token's rows, not its organization's: what D1 reads (and bills, `rows_read`) for
// a personal token's lookup stays small however many people the organization has.

const MEMBERS = 5_000;
/** The token, its organization, group, projects, permissions, its owner and their memberships: a few dozen at most. */
const LOOKUP_ROWS_BUDGET = 50;

let org: OrgFixture;
let hash: string;

/** `real`, with every `first()` and `all()` answered through `all()` so that D1's `rows_read` is recorded. */
function rowsRead(real: D1Database) {
  const reads: number[] = [];
  const counted = (stmt: D1PreparedStatement): D1PreparedStatement =>
    new Proxy(stmt, {
      get(t, prop) {
        if (prop === "bind") return (...values: unknown[]) => counted(t.bind(...values));
        if (prop === "all" || prop === "first") {
          return async () => {
            const result = await t.all();
            reads.push(result.meta.rows_read);
            return prop === "all" ? result : (result.results[0] ?? null);
          };
        }
        return forward(t, prop);
      },
    });
  return { db: hookD1(real, { prepare: (target, sql) => counted(target.prepare(sql)) }), reads };
}

async function seedMembers(orgId: string, count: number, now: number): Promise<void> {
  const prefix = crypto.randomUUID().slice(0, 8);
  await env.DB.batch([
    env.DB.prepare(
      `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?2)
       INSERT INTO users (id, email, password_hash, password_salt, password_iterations, created_at, updated_at)
       SELECT printf('%s-user-%05d', ?1, i), printf('%s-%05d@example.com', ?1, i), 'x', 'x', 1, ?3, ?3 FROM n`,
    ).bind(prefix, count, now),
    env.DB.prepare(
      `INSERT INTO memberships (id, user_id, org_id, group_id, role, permissions, created_at, updated_at)
       SELECT 'm-' || id, id, ?2, NULL, 'org_member', NULL, ?3, ?3 FROM users WHERE id LIKE ?1 || '-user-%'`,
    ).bind(prefix, orgId, now),
  ]);
}

beforeAll(async () => {
  const now = Date.now();
  org = await makeOrg(now);
  await seedMembers(org.orgId, MEMBERS, now);
  const userId = await makeMember(org.orgId, "org_member");
  const { secret } = await makeToken(org, { kind: "personal", userId });
  hash = await hashToken(env.TOKEN_PEPPER, secret);
}, 60_000);

describe(`a personal token in an organization of ${MEMBERS.toLocaleString("en")} people`, () => {
  it("the verify miss's lookup reads its owner's memberships, not everyone's", async () => {
    const { db, reads } = rowsRead(env.DB);
    const entry = await lookupTokenByHash(replicaRead(db), hash);
    expect(entry.token?.kind).toBe("personal");
    expect(reads).toHaveLength(1);
    console.log(`personal token lookup among ${MEMBERS.toLocaleString("en")} members: ${reads[0]} rows read`);
    expect(reads[0]).toBeLessThan(LOOKUP_ROWS_BUDGET);
  });

  it("so does the bulk lookup a refresh makes", async () => {
    const { db, reads } = rowsRead(env.DB);
    const entries = await lookupTokensByHashes(primarySession(db), [hash]);
    expect(entries.get(hash)?.token?.kind).toBe("personal");
    expect(reads.reduce((a, b) => a + b, 0)).toBeLessThan(LOOKUP_ROWS_BUDGET);
  });
});

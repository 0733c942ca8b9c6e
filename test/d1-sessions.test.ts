// D1 read replication through the Sessions API (docs/DESIGN.md §3.3): which reads may come from a
// replica, that the cache never keeps what a lagging replica said, that nothing queries the bare
// binding, and the console's read-your-writes bookmark.
import { env } from "cloudflare:workers";
import { beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createSession } from "../worker/accounts/sessions";
import { database } from "../worker/db/client";
import { primarySession } from "../worker/db/session";
import { D1_BOOKMARK_HEADER } from "../worker/http/d1-bookmark";
import { revokeToken } from "../worker/tokens/store";
import { api, OWNER, setupOwner, sudoSession } from "./support/api-client";
import { runCronAt } from "./support/cron";
import { type D1Target, hookD1, type Opened, storeEnv } from "./support/d1";
import { makeMember, makeOrg, makeToken, type OrgFixture, testActor } from "./support/fixtures";
import { resetIsolateCaches } from "./support/isolate";
import { dropFromKv, kvEntryOf } from "./support/kv-entries";
import { bearer, readVerify, viaHandler } from "./support/verify-client";

beforeAll(async () => {
  await setupOwner({ slug: "acme", name: "Acme" });
});

const STATEMENT_READS = ["first", "all", "raw"] as const;
type Read = (typeof STATEMENT_READS)[number];

/**
 * A binding whose replicas can fall behind. While `recording`, every read on any session is answered by D1
 * and remembered by statement, bound values and method; while `lagging`, a session that may read a replica
 * (any but "first-primary") answers a read it has seen from what it remembered: the database as it was.
 * "first-primary" sessions always answer the truth.
 */
function laggingReplica(real: D1Database) {
  let mode: "recording" | "lagging" | "caught up" = "caught up";
  const seen = new Map<string, unknown>();
  const staleAnswers: string[] = [];
  const statement = (stmt: D1PreparedStatement, sql: string, opened: Opened, values: unknown[]): D1PreparedStatement =>
    new Proxy(stmt, {
      get(target, prop) {
        if (prop === "bind") return (...v: unknown[]) => statement(target.bind(...v), sql, opened, v);
        if (typeof prop === "string" && (STATEMENT_READS as readonly string[]).includes(prop)) {
          return async (...args: unknown[]) => {
            const key = JSON.stringify([sql, values, prop, args]);
            if (mode === "lagging" && opened !== "first-primary" && seen.has(key)) {
              staleAnswers.push(sql);
              return structuredClone(seen.get(key));
            }
            const answer = await (target[prop as Read] as (...a: unknown[]) => Promise<unknown>)(...args);
            if (mode === "recording") seen.set(key, structuredClone(answer));
            return answer;
          };
        }
        const value: unknown = Reflect.get(target, prop, target);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
  const db = hookD1(real, {
    prepare: (target: D1Target, sql, opened) => statement(target.prepare(sql), sql, opened, []),
  });
  return {
    db,
    staleAnswers,
    record: () => {
      mode = "recording";
    },
    lag: () => {
      mode = "lagging";
    },
    catchUp: () => {
      mode = "caught up";
    },
  };
}

describe("a lagging replica", () => {
  let org: OrgFixture;
  beforeAll(async () => {
    org = await makeOrg();
  });
  beforeEach(() => resetIsolateCaches());

  it("never gets a revoked token re-cached as valid: the fill's version check reads the primary", async () => {
    const { secret, token } = await makeToken(org);
    const replica = laggingReplica(env.DB);
    const lagged = { ...env, DB: replica.db };
    const verify = async () => readVerify(await viaHandler(bearer(secret), lagged));

    // The replica's snapshot: the token valid, as a miss and its fill read it.
    await dropFromKv(secret);
    resetIsolateCaches();
    replica.record();
    expect(await verify()).toMatchObject({ result: 0 });

    // Revoked at the primary. The revoked entry then leaves KV (its TTL ran out) and this isolate's
    // memory, while the replica near this location has not caught up yet.
    await revokeToken(storeEnv(), org.orgId, token.id, testActor, Date.now());
    await dropFromKv(secret);
    resetIsolateCaches();
    replica.lag();

    // The miss reads the replica's stale row: within the replica's lag, it is answered valid...
    expect(await verify()).toMatchObject({ result: 0 });
    expect(replica.staleAnswers.some((sql) => sql.includes("FROM tokens t"))).toBe(true);
    // ...but the fill's check at the primary saw the revoke and withdrew the entry from both tiers,
    expect(await kvEntryOf(secret)).toBeNull();
    // so once the replica has caught up, nothing cached says "valid".
    replica.catchUp();
    expect(await verify()).toMatchObject({ result: 6 });
    expect((await kvEntryOf(secret))?.token?.revokedAt).not.toBeNull();
  });
});

describe("authentication and access read the primary, whatever the replica says", () => {
  let org: OrgFixture;
  beforeAll(async () => {
    org = await makeOrg();
  });

  /** A console session for a member of `org`, as sign-in makes one. */
  async function memberSession(role: "org_admin" | "org_member") {
    const userId = await makeMember(org.orgId, role);
    const db = database(primarySession(env.DB));
    const { cookie } = await createSession(db, userId, { ip: "198.51.100.20", userAgent: null }, Date.now());
    return { userId, cookie };
  }

  it("a signed-out session's cookie, replayed on a read, is refused although the replica still holds it", async () => {
    const { cookie } = await memberSession("org_member");
    const replica = laggingReplica(env.DB);
    const lagged = { ...env, DB: replica.db };
    const read = () => api("GET", `/api/orgs/${org.orgSlug}/projects`, { cookie, bindings: lagged });

    replica.record();
    expect((await read()).status).toBe(200);
    expect((await api("GET", "/api/me", { cookie, bindings: lagged })).status).toBe(200);
    expect((await api("DELETE", "/api/session", { cookie })).status).toBe(204);
    replica.lag();

    for (const path of [`/api/orgs/${org.orgSlug}/projects`, "/api/me"]) {
      const res = await api("GET", path, { cookie, bindings: lagged });
      expect(res.status, path).toBe(401);
      expect(res.body.error.code).toBe("unauthenticated");
    }
  });

  it("a removed member reads nothing of the organization while the replica lags", async () => {
    const member = await memberSession("org_member");
    const replica = laggingReplica(env.DB);
    const lagged = { ...env, DB: replica.db };
    const orgs = async () =>
      (await api("GET", "/api/orgs", { cookie: member.cookie, bindings: lagged })).body.items.map(
        (o: { slug: string }) => o.slug,
      );

    replica.record();
    expect(
      (await api("GET", `/api/orgs/${org.orgSlug}/projects`, { cookie: member.cookie, bindings: lagged })).status,
    ).toBe(200);
    expect(await orgs()).toContain(org.orgSlug);

    await env.DB.prepare("DELETE FROM memberships WHERE user_id = ?1").bind(member.userId).run();
    replica.lag();

    const res = await api("GET", `/api/orgs/${org.orgSlug}/projects`, { cookie: member.cookie, bindings: lagged });
    expect(res.status).toBe(404);
    expect(await orgs()).not.toContain(org.orgSlug);
  });
});

describe("every D1 access goes through a session", () => {
  /** The binding refuses `prepare` and `batch` on itself; its sessions work. Refusals are also recorded. */
  function sessionsOnly(real: D1Database) {
    const bare: string[] = [];
    const refuse = (what: string): never => {
      bare.push(what);
      throw new Error(`D1 ${what} on the bare binding (test)`);
    };
    const db = hookD1(real, {
      prepare: (target, sql, opened) => (opened === null ? refuse(`prepare ${sql}`) : target.prepare(sql)),
      batch: (target, statements, opened) => (opened === null ? refuse("batch") : target.batch(statements)),
    });
    return { db, bare };
  }

  it("console routes, verification, the cron jobs and a manual run never query the bare binding", async () => {
    const strict = sessionsOnly(env.DB);
    const bindings = { ...env, DB: strict.db };
    const ok = async (method: string, path: string, opts: Parameters<typeof api>[2] = {}) => {
      const res = await api(method, path, { ...opts, bindings });
      expect(res.status, `${method} ${path}: ${JSON.stringify(res.body)}`).toBeLessThan(300);
      return res.body;
    };

    const signedIn = await api("POST", "/api/session", { body: OWNER, bindings });
    expect(signedIn.status).toBe(200);
    const cookie = signedIn.setCookie!;
    await ok("POST", "/api/session/confirm", { cookie, body: { password: OWNER.password } });
    await ok("GET", "/api/me", { cookie });
    await ok("POST", "/api/orgs/acme/projects", { cookie, body: { key: "web", name: "Web" } });
    await ok("POST", "/api/orgs/acme/groups", { cookie, body: { slug: "team", name: "Team" } });
    const made = await ok("POST", "/api/orgs/acme/tokens", {
      cookie,
      body: { kind: "org", name: "ci", expiresAt: null, projects: ["web"], permissions: ["analysis:execute"] },
    });
    await ok("GET", "/api/orgs/acme/tokens", { cookie });
    await ok("PATCH", `/api/orgs/acme/tokens/${made.token.id}`, { cookie, body: { name: "ci 2" } });
    await ok("POST", `/api/orgs/acme/tokens/${made.token.id}/disable`, { cookie });
    await ok("POST", `/api/orgs/acme/tokens/${made.token.id}/enable`, { cookie });
    await ok("POST", "/api/orgs/acme/members", { cookie, body: { email: "new@example.com", role: "org_member" } });
    await ok("GET", "/api/orgs/acme/invitations", { cookie });
    await ok("GET", "/api/orgs/acme/audit", { cookie });
    await ok("GET", "/api/jobs", { cookie });
    await ok("POST", "/api/jobs/run", { cookie });

    resetIsolateCaches();
    await dropFromKv(made.secret);
    expect((await readVerify(await viaHandler(bearer(made.secret), bindings))).result).toBe(0);
    await ok("POST", `/api/orgs/acme/tokens/${made.token.id}/revoke`, { cookie });
    await ok("DELETE", "/api/session", { cookie });
    await runCronAt(Date.now(), bindings);

    expect(strict.bare).toEqual([]);
  });
});

describe("read-your-writes for the console", () => {
  let cookie: string;
  beforeAll(async () => {
    cookie = await sudoSession(OWNER.email, OWNER.password);
  });

  /** The binding, telling which sessions the worker opened and with what. */
  function watchedSessions() {
    const opened: string[] = [];
    return { opened, bindings: { ...env, DB: hookD1(env.DB, { session: (asked) => opened.push(asked) }) } };
  }

  it("a change answers with a bookmark; a read that sends it back resumes the session from it", async () => {
    const watch = watchedSessions();
    const created = await api("POST", "/api/orgs/acme/tokens", {
      cookie,
      body: { kind: "org", name: "fresh", expiresAt: null, projects: "*", permissions: ["analysis:execute"] },
      bindings: watch.bindings,
    });
    expect(created.status).toBe(201);
    expect(watch.opened[0]).toBe("first-primary");
    const bookmark = created.headers.get(D1_BOOKMARK_HEADER);
    expect(bookmark).toMatch(/^[0-9a-f-]+$/);

    watch.opened.length = 0;
    const list = await api("GET", "/api/orgs/acme/tokens", {
      cookie,
      headers: { [D1_BOOKMARK_HEADER]: bookmark! },
      bindings: watch.bindings,
    });
    expect(list.status).toBe(200);
    // Authentication and access at the primary, the route's own reads resumed from the bookmark.
    expect(watch.opened).toEqual(["first-primary", bookmark]);
    expect(list.body.items.map((t: { id: string }) => t.id)).toContain(created.body.token.id);
    // The answer names a state at least as new as the one it resumed.
    expect(list.headers.get(D1_BOOKMARK_HEADER)! >= bookmark!).toBe(true);
  });

  it("without a bookmark a read goes to the nearest replica and a change to the primary; a change ignores one", async () => {
    const watch = watchedSessions();
    expect((await api("GET", "/api/me", { cookie, bindings: watch.bindings })).status).toBe(200);
    // The cookie's session is looked up at the primary; what the route reads comes from the replica.
    expect(watch.opened).toEqual(["first-primary", "first-unconstrained"]);

    watch.opened.length = 0;
    const stale = "00000000-00000001-00000000-00000000000000000000000000000000";
    const made = await api("POST", "/api/orgs/acme/projects", {
      cookie,
      body: { key: "ignored-bookmark", name: "X" },
      headers: { [D1_BOOKMARK_HEADER]: stale },
      bindings: watch.bindings,
    });
    expect(made.status).toBe(201);
    // The request's session, and the version checks' own (they always start at the primary).
    expect(new Set(watch.opened)).toEqual(new Set(["first-primary"]));
  });

  it("an audit download, a plain link that carries no bookmark, includes the change made just before it", async () => {
    const replica = laggingReplica(env.DB);
    const lagged = { ...env, DB: replica.db };
    const download = async () => {
      const res = await api("GET", "/api/orgs/acme/audit/export?format=json&action=project.", {
        cookie,
        bindings: lagged,
      });
      expect(res.status).toBe(200);
      return (res.body.items as { target: { id: string } | null }[]).map((e) => e.target?.id);
    };
    replica.record();
    await download();
    const made = await api("POST", "/api/orgs/acme/projects", {
      cookie,
      body: { key: "just-made", name: "Just made" },
    });
    expect(made.status).toBe(201);
    replica.lag();
    expect(await download()).toContain(made.body.id);
    expect(replica.staleAnswers).toEqual([]);
  });

  it("refuses what cannot be a bookmark with 422, not 500", async () => {
    for (const bad of ["not a bookmark", "x".repeat(20), "0".repeat(129)]) {
      const res = await api("GET", "/api/me", { cookie, headers: { [D1_BOOKMARK_HEADER]: bad } });
      expect(res.status, bad).toBe(422);
      expect(res.body.error.code).toBe("validation_failed");
    }
  });
});

import { env } from "cloudflare:workers";
import { beforeAll, beforeEach, describe, expect, it } from "vitest";
import { VERIFY_CODES } from "../worker/errors";
import { generateTokenSecret } from "../worker/tokens/format";
import { disableToken, revokeToken } from "../worker/tokens/store";
import { storeEnv } from "./support/d1";
import { envWithFailing, refusingLimiter } from "./support/failing";
import { makeOrg, makeToken, type OrgFixture, testActor } from "./support/fixtures";
import { resetIsolateCaches } from "./support/isolate";
import { bearer, readVerify, verifyUrl, viaEntrypoint, viaHandler } from "./support/verify-client";

const DAY = 86_400_000;
let org: OrgFixture;

beforeAll(async () => {
  org = await makeOrg();
});
beforeEach(() => resetIsolateCaches());

/** One request per result code of docs/DESIGN.md §3, and the code, status and error it must produce. */
const cases: { result: number; status: number; error: string; run: () => Promise<Response> }[] = [
  { result: 1, status: 401, error: "token_missing", run: () => viaEntrypoint(verifyUrl()) },
  {
    result: 2,
    status: 401,
    error: "token_malformed",
    run: () => viaEntrypoint(verifyUrl({ session: "tso_not-a-token" })),
  },
  {
    result: 3,
    status: 401,
    error: "token_unknown",
    run: () => viaEntrypoint(verifyUrl({ session: generateTokenSecret("org") })),
  },
  {
    result: 4,
    status: 401,
    error: "token_expired",
    run: async () => {
      const created = Date.now() - 2 * DAY;
      const { secret } = await makeToken(org, { expiresAt: created + DAY }, created);
      return viaEntrypoint(verifyUrl({ session: secret }));
    },
  },
  {
    result: 5,
    status: 401,
    error: "token_disabled",
    run: async () => {
      const { secret, token } = await makeToken(org);
      await disableToken(storeEnv(env), org.orgId, token.id, testActor, Date.now());
      return viaEntrypoint(verifyUrl({ session: secret }));
    },
  },
  {
    result: 6,
    status: 401,
    error: "token_revoked",
    run: async () => {
      const { secret, token } = await makeToken(org);
      await revokeToken(storeEnv(env), org.orgId, token.id, testActor, Date.now());
      return viaEntrypoint(verifyUrl({ session: secret }));
    },
  },
  {
    result: 7,
    status: 403,
    error: "permission_denied",
    run: async () =>
      viaEntrypoint(verifyUrl({ session: (await makeToken(org)).secret, permission: ["environment:control:stop"] })),
  },
  {
    result: 8,
    status: 403,
    error: "project_out_of_scope",
    run: async () => {
      const { secret } = await makeToken(org, { projects: [org.projectKeys.alpha] });
      return viaEntrypoint(verifyUrl({ session: secret, project: org.projectKeys.beta }));
    },
  },
  {
    result: 9,
    status: 429,
    error: "rate_limited",
    run: () => viaHandler(bearer(generateTokenSecret("org")), { ...env, UNKNOWN_TOKEN_LIMITER: refusingLimiter }),
  },
  {
    result: 10,
    status: 503,
    error: "unavailable",
    run: async () => {
      const { secret } = await makeToken(org);
      resetIsolateCaches();
      return viaHandler(bearer(secret), envWithFailing(["DB", "TOKEN_CACHE"]).env);
    },
  },
  {
    result: 11,
    status: 400,
    error: "invalid_request",
    run: () => viaEntrypoint(verifyUrl(), { headers: { Authorization: "Digest x" } }),
  },
  {
    result: 14,
    status: 403,
    error: "ip_not_allowed",
    run: async () => {
      const { secret } = await makeToken(org, { allowedIps: ["203.0.113.0/24"] });
      return viaEntrypoint(bearer(secret, "198.51.100.7"));
    },
  },
];

describe("result codes (docs/DESIGN.md §3)", () => {
  for (const c of cases) {
    it(`answers ${c.result} ${c.error} with HTTP ${c.status}, as JSON that no cache keeps`, async () => {
      const res = await c.run();
      expect(res.status).toBe(c.status);
      expect(res.headers.get("Content-Type")).toMatch(/^application\/json/);
      expect(res.headers.get("Cache-Control")).toBe("no-store");
      expect(res.headers.get("Referrer-Policy")).toBe("no-referrer");
      const body = await readVerify(res);
      expect(Object.keys(body).sort()).toEqual(["error", "message", "result", "valid"]);
      expect(body).toMatchObject({ result: c.result, valid: false, error: c.error });
      expect(typeof (body as { message: string }).message).toBe("string");
    });
  }

  it("covers every code the verify surface defines for /v1/verify", () => {
    const own = Object.entries(VERIFY_CODES).filter(([code]) => !code.startsWith("upstream_"));
    expect(cases.map((c) => c.error).sort()).toEqual(own.map(([code]) => code).sort());
    for (const c of cases)
      expect(VERIFY_CODES[c.error as keyof typeof VERIFY_CODES]).toEqual({ result: c.result, status: c.status });
  });

  it("answers 0 with the documented token object, as JSON that no cache keeps", async () => {
    const expiresAt = Date.now() + 30 * DAY;
    const { secret, token } = await makeToken(org, {
      name: "deploy",
      expiresAt,
      projects: [org.projectKeys.beta, org.projectKeys.alpha],
    });
    const res = await viaEntrypoint(
      verifyUrl({ session: secret, permission: ["analysis:execute"], project: org.projectKeys.alpha }),
    );
    expect(res.status).toBe(200);
    expect(res.headers.get("Cache-Control")).toBe("no-store");
    expect(res.headers.get("Referrer-Policy")).toBe("no-referrer");
    expect(await res.json()).toEqual({
      result: 0,
      valid: true,
      token: {
        id: token.id,
        kind: "org",
        name: "deploy",
        org: { id: org.orgId, slug: org.orgSlug },
        group: null,
        user: null,
        projects: [org.projectKeys.alpha, org.projectKeys.beta].sort(),
        permissions: ["analysis:execute", "project:browse"],
        admin: false,
        expiresAt: new Date(expiresAt).toISOString(),
        status: "active",
      },
    });
  });

  it("answers an unknown path or method on the verify surface in the same envelope", async () => {
    for (const res of [
      await viaEntrypoint(`${verifyUrl()}/extra`),
      await viaEntrypoint(verifyUrl(), { method: "PUT" }),
    ]) {
      expect(res.status).toBeGreaterThanOrEqual(400);
      expect(res.status).toBeLessThan(500);
      expect(res.headers.get("Cache-Control")).toBe("no-store");
      expect(res.headers.get("Referrer-Policy")).toBe("no-referrer");
      expect(await readVerify(res)).toMatchObject({ valid: false, result: 11 });
    }
  });
});

import { env, exports } from "cloudflare:workers";
import { describe, expect, expectTypeOf, it } from "vitest";
import exampleSource from "../examples/downstream/src/index.ts?raw";
import type { TesseraBinding } from "../examples/downstream/src/tessera";
import exampleConfig from "../examples/downstream/wrangler.toml?raw";
import type { TesseraRpc } from "../worker/rpc";
import { generateTokenSecret } from "../worker/tokens/format";
import { disableToken, revokeToken } from "../worker/tokens/store";
import { storeEnv } from "./support/d1";
import { docExample } from "./support/doc-examples";
import { makeOrg, makeToken, testActor } from "./support/fixtures";

// examples/downstream runs as its own Worker (bundled from its wrangler.toml by
// test/support/build-examples.mjs) and reaches Tessera only through its TESSERA service binding
// to the TesseraRpc entrypoint. Every answer it gives is compared with /v1/verify's for the same
// request: the example must say exactly what Tessera says.

const DOWNSTREAM = "https://downstream.test";
const TESSERA = "https://tessera.test";
const DAY = 86_400_000;

interface Carriers {
  headers?: Record<string, string>;
  query?: Record<string, string>;
}

interface Answer {
  status: number;
  body: Record<string, unknown>;
}

async function read(res: Response): Promise<Answer> {
  return { status: res.status, body: await res.json<Record<string, unknown>>() };
}

function withQuery(url: string, query: Record<string, string> = {}): string {
  const u = new URL(url);
  for (const [k, v] of Object.entries(query)) u.searchParams.append(k, v);
  return u.toString();
}

/** The example's project route and /v1/verify asked the same question with the same carriers. */
async function both(project: string, carriers: Carriers): Promise<{ example: Answer; verify: Answer }> {
  const example = await env.DOWNSTREAM_EXAMPLE.fetch(
    withQuery(`${DOWNSTREAM}/projects/${project}/analyses`, carriers.query),
    {
      headers: carriers.headers,
    },
  );
  const verify = await exports.default.fetch(
    withQuery(`${TESSERA}/v1/verify?permission=analysis:read&project=${encodeURIComponent(project)}`, carriers.query),
    { headers: carriers.headers },
  );
  return { example: await read(example), verify: await read(verify) };
}

const bearer = (token: string) => ({ headers: { Authorization: `Bearer ${token}` } });

describe("the example downstream Worker over the service binding", () => {
  it("types its binding as Tessera's RPC entrypoint really is", () => {
    expectTypeOf<TesseraRpc["verify"]>().toExtend<TesseraBinding["verify"]>();
  });

  it("is what docs/INTEGRATION.md shows: its binding and its routes, verbatim", () => {
    expect(exampleConfig).toContain(docExample("binding"));
    expect(exampleSource).toContain(docExample("middleware"));
  });

  it("serves a valid token's request and hands the handler the same token /v1/verify describes", async () => {
    const org = await makeOrg();
    const made = await makeToken(org, { permissions: ["analysis:read"] });
    const { example, verify } = await both(org.projectKeys.alpha, bearer(made.secret));
    expect(verify).toMatchObject({ status: 200, body: { result: 0 } });
    expect(example).toEqual({
      status: 200,
      body: { project: org.projectKeys.alpha, analyses: [], readBy: made.token.id },
    });

    const whoami = await read(await env.DOWNSTREAM_EXAMPLE.fetch(`${DOWNSTREAM}/whoami`, bearer(made.secret)));
    const plain = await read(await exports.default.fetch(`${TESSERA}/v1/verify`, bearer(made.secret)));
    expect(whoami.body.token).toEqual(plain.body.token);
  });

  it("accepts the token from every carrier Tessera accepts", async () => {
    const org = await makeOrg();
    const { secret } = await makeToken(org);
    const ways: Carriers[] = [
      bearer(secret),
      { headers: { Authorization: `Basic ${btoa(`${secret}:`)}` } },
      { headers: { "X-Api-Key": secret } },
      { query: { session: secret } },
      { query: { access_token: secret } },
    ];
    for (const carriers of ways) {
      const res = await env.DOWNSTREAM_EXAMPLE.fetch(withQuery(`${DOWNSTREAM}/whoami`, carriers.query), {
        headers: carriers.headers,
      });
      expect(res.status).toBe(200);
    }
    expect((await env.DOWNSTREAM_EXAMPLE.fetch(`${DOWNSTREAM}/health`)).status).toBe(200);
  });

  it("answers exactly as /v1/verify for every refusal, codes 1 to 11", async () => {
    const now = Date.now();
    const org = await makeOrg(now);
    const reader = await makeToken(org, { permissions: ["analysis:read"] });
    const expired = await makeToken(org, { permissions: ["analysis:read"], expiresAt: now - DAY }, now - 2 * DAY);
    const disabled = await makeToken(org, { permissions: ["analysis:read"] });
    await disableToken(storeEnv(env), org.orgId, disabled.token.id, testActor, now);
    const revoked = await makeToken(org, { permissions: ["analysis:read"] });
    await revokeToken(storeEnv(env), org.orgId, revoked.token.id, testActor, now);
    const browser = await makeToken(org, { permissions: ["project:browse"] });
    const betaOnly = await makeToken(org, { permissions: ["analysis:read"], projects: [org.projectKeys.beta] });

    const cases: [number, Carriers][] = [
      [1, {}],
      [2, bearer("tso_not-even-close")],
      [3, bearer(generateTokenSecret("org"))],
      [4, bearer(expired.secret)],
      [5, bearer(disabled.secret)],
      [6, bearer(revoked.secret)],
      [7, bearer(browser.secret)],
      [8, bearer(betaOnly.secret)],
      [11, { headers: { Authorization: `Bearer ${reader.secret}`, "X-Api-Key": browser.secret } }],
    ];
    for (const [code, carriers] of cases) {
      const { example, verify } = await both(org.projectKeys.alpha, carriers);
      expect(verify.body.result, `code ${code}`).toBe(code);
      expect(example, `code ${code}`).toEqual(verify);
    }
  });

  it("answers code 9 as /v1/verify does once the end client's address floods unknown tokens", async () => {
    const org = await makeOrg();
    // The middleware passes CF-Connecting-IP on as clientIp, so the flood is counted per end client.
    const client = "198.51.100.99";
    let last: Answer | undefined;
    for (let i = 0; i < 200 && last?.body.result !== 9; i++) {
      const res = await exports.default.fetch(`${TESSERA}/v1/verify`, {
        headers: { "X-Api-Key": generateTokenSecret("org"), "CF-Connecting-IP": client },
      });
      last = await read(res);
    }
    expect(last?.body.result).toBe(9);
    const { example, verify } = await both(org.projectKeys.alpha, {
      headers: { "X-Api-Key": generateTokenSecret("org"), "CF-Connecting-IP": client },
    });
    expect(verify).toMatchObject({ status: 429, body: { result: 9, error: "rate_limited" } });
    expect(example).toEqual(verify);
  });

  it("answers code 10 as /v1/verify does when the token store is down and nothing is cached", async () => {
    const org = await makeOrg();
    // Taking the tokens table away makes every D1 lookup fail, as an outage would.
    await env.DB.exec("ALTER TABLE tokens RENAME TO tokens_offline");
    try {
      const { example, verify } = await both(org.projectKeys.alpha, bearer(generateTokenSecret("org")));
      expect(verify).toMatchObject({ status: 503, body: { result: 10, error: "unavailable" } });
      expect(example).toEqual(verify);
    } finally {
      await env.DB.exec("ALTER TABLE tokens_offline RENAME TO tokens");
    }
  });
});

import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type RpcVerifyOptions, type RpcVerifyResult, TesseraRpc } from "../worker/rpc";
import { generateTokenSecret } from "../worker/tokens/format";
import { disableToken, revokeToken } from "../worker/tokens/store";
import { storeEnv } from "./support/d1";
import { envWithFailing, refusingLimiter } from "./support/failing";
import { makeOrg, makeToken, type OrgFixture, testActor } from "./support/fixtures";
import { countingEnv } from "./support/io";
import { resetIsolateCaches } from "./support/isolate";
import { dropFromKv } from "./support/kv-entries";
import { verifyUrl, viaEntrypoint, viaHandler } from "./support/verify-client";

const DAY = 86_400_000;
let org: OrgFixture;

beforeAll(async () => {
  org = await makeOrg();
});
beforeEach(() => resetIsolateCaches());

interface Scenario {
  token: string | null;
  permission?: string[];
  project?: string;
  /** Bindings other than the test env's (a failing D1, a refusing limiter). */
  bindings?: Env;
}

async function overHttp(s: Scenario) {
  const url = verifyUrl({ permission: s.permission, project: s.project });
  const init = s.token === null ? {} : { headers: { Authorization: `Bearer ${s.token}` } };
  const res = s.bindings ? await viaHandler(new Request(url, init), s.bindings) : await viaEntrypoint(url, init);
  return { ...(await res.json<object>()), status: res.status };
}

async function overRpc(s: Scenario): Promise<RpcVerifyResult> {
  const options: RpcVerifyOptions = { permission: s.permission, project: s.project };
  if (!s.bindings) return exports.TesseraRpc.verify(s.token, options);
  const ctx = createExecutionContext();
  const result = await new TesseraRpc(ctx, s.bindings).verify(s.token, options);
  await waitOnExecutionContext(ctx);
  return result;
}

const scenarios: [number, () => Promise<Scenario>][] = [
  [
    0,
    async () => ({
      token: (await makeToken(org)).secret,
      permission: ["analysis:execute"],
      project: org.projectKeys.alpha,
    }),
  ],
  [1, async () => ({ token: null })],
  [2, async () => ({ token: "tsg_0000" })],
  [3, async () => ({ token: generateTokenSecret("org") })],
  [
    4,
    async () => {
      const created = Date.now() - 2 * DAY;
      return { token: (await makeToken(org, { expiresAt: created + DAY }, created)).secret };
    },
  ],
  [
    5,
    async () => {
      const { secret, token } = await makeToken(org);
      await disableToken(storeEnv(env), org.orgId, token.id, testActor, Date.now());
      return { token: secret };
    },
  ],
  [
    6,
    async () => {
      const { secret, token } = await makeToken(org);
      await revokeToken(storeEnv(env), org.orgId, token.id, testActor, Date.now());
      return { token: secret };
    },
  ],
  [
    7,
    async () => ({
      token: (await makeToken(org)).secret,
      permission: ["analysis:execute", "environment:control:stop"],
    }),
  ],
  [
    8,
    async () => ({
      token: (await makeToken(org, { projects: [org.projectKeys.alpha] })).secret,
      project: org.projectKeys.beta,
    }),
  ],
  [
    9,
    async () => ({ token: generateTokenSecret("group"), bindings: { ...env, UNKNOWN_TOKEN_LIMITER: refusingLimiter } }),
  ],
  [
    10,
    async () => {
      const { secret } = await makeToken(org);
      await dropFromKv(secret);
      return { token: secret, bindings: envWithFailing("DB").env };
    },
  ],
  [11, async () => ({ token: (await makeToken(org)).secret, permission: ["not a permission"] })],
];

describe("TesseraRpc.verify answers exactly as /v1/verify", () => {
  for (const [code, make] of scenarios) {
    it(`result ${code}`, async () => {
      const scenario = await make();
      // Both ways in start from the same cold caches, so both take the full path to D1.
      const cold = async () => {
        resetIsolateCaches();
        if (scenario.token) await dropFromKv(scenario.token);
      };
      await cold();
      const http = await overHttp(scenario);
      await cold();
      const rpc = await overRpc(scenario);
      expect(http).toMatchObject({ result: code });
      expect(rpc).toEqual(http);
    });
  }
});

describe("TesseraRpc.verify with what other Workers may send", () => {
  it("treats undefined and empty tokens as missing, and missing options as no checks", async () => {
    const { secret } = await makeToken(org);
    expect(await exports.TesseraRpc.verify(undefined)).toMatchObject({ result: 1, status: 401 });
    expect(await exports.TesseraRpc.verify("")).toMatchObject({ result: 1, status: 401 });
    expect(await exports.TesseraRpc.verify(secret)).toMatchObject({ result: 0, status: 200, valid: true });
    expect(await exports.TesseraRpc.verify(secret, null as unknown as RpcVerifyOptions)).toMatchObject({ result: 0 });
    expect(await exports.TesseraRpc.verify(secret, { permission: "analysis:execute" })).toMatchObject({ result: 0 });
  });

  it("answers 11 (not an exception) for arguments of the wrong type", async () => {
    const { secret } = await makeToken(org);
    const wrong: [unknown, unknown][] = [
      [42, {}],
      [{ token: secret }, {}],
      [secret, "analysis:execute"],
      [secret, { permission: [1, 2] }],
      [secret, { permission: { name: "analysis:execute" } }],
      [secret, { project: ["a", "b"] }],
      [secret, { clientIp: 1 }],
    ];
    for (const [token, options] of wrong) {
      const answer = await exports.TesseraRpc.verify(token as string, options as RpcVerifyOptions);
      expect(answer, JSON.stringify([typeof token, options])).toMatchObject({
        result: 11,
        valid: false,
        error: "invalid_request",
        status: 400,
      });
    }
  });

  it("counts unknown tokens against the caller's clientIp, or the binding as one client", async () => {
    const { env: counted, log } = countingEnv();
    const rpc = (ctx: ExecutionContext) => new TesseraRpc(ctx, counted);
    const ctx = createExecutionContext();
    await rpc(ctx).verify(generateTokenSecret("org"), { clientIp: "192.0.2.77" });
    await rpc(ctx).verify(generateTokenSecret("org"));
    await waitOnExecutionContext(ctx);
    expect(log.calls.filter((c) => c.binding === "UNKNOWN_TOKEN_LIMITER").map((c) => c.detail)).toEqual([
      "192.0.2.77",
      "service-binding",
    ]);
  });
});

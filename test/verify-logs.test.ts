import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { afterAll, beforeAll, expect, it, type MockInstance, vi } from "vitest";
import { TesseraRpc } from "../worker/rpc";
import { generateTokenSecret } from "../worker/tokens/format";
import { disableToken, regenerateToken, revokeToken } from "../worker/tokens/store";
import { envWithFailing, refusingLimiter } from "./support/failing";
import { makeOrg, makeToken, type OrgFixture, testActor } from "./support/fixtures";
import { countingEnv } from "./support/io";
import { resetIsolateCaches } from "./support/isolate";
import { dropFromKv } from "./support/kv-entries";
import { bearer, verifyUrl, viaEntrypoint, viaHandler } from "./support/verify-client";

const METHODS = ["log", "info", "warn", "error", "debug", "trace"] as const;
const spies: MockInstance[] = [];
const secrets: string[] = [];
let org: OrgFixture;

function printed(): string {
  const text = (arg: unknown) =>
    arg instanceof Error
      ? `${arg.name}: ${arg.message}\n${arg.stack ?? ""}`
      : typeof arg === "string"
        ? arg
        : JSON.stringify(arg);
  return spies.flatMap((s) => s.mock.calls.flat().map(text)).join("\n");
}

/** A secret that took part in this run: none of it may reach the console. */
function used<T extends { secret: string }>(made: T): T {
  secrets.push(made.secret);
  return made;
}

/** A well-formed token no store knows, remembered like the real ones. */
function unknownToken(kind: "org" | "group" | "personal"): string {
  return used({ secret: generateTokenSecret(kind) }).secret;
}

beforeAll(async () => {
  org = await makeOrg();
  for (const method of METHODS) spies.push(vi.spyOn(console, method).mockImplementation(() => {}));
});
afterAll(() => vi.restoreAllMocks());

it("no token secret reaches console output while every result code and every failure path runs", async () => {
  const http = (secret: string, bindings: Env = env, query: Parameters<typeof verifyUrl>[0] = {}) =>
    viaHandler(bearer(secret, "192.0.2.1", verifyUrl(query)), bindings);
  const statuses = new Set<number>();
  const results = new Set<number>();
  const record = async (res: Response) => {
    statuses.add(res.status);
    results.add((await res.json<{ result: number }>()).result);
  };

  const live = used(await makeToken(org));
  await record(await http(live.secret, env, { permission: ["analysis:execute"] })); // 0
  await record(await viaEntrypoint(verifyUrl())); // 1
  const malformed = `${live.secret.slice(0, -1)}${live.secret.endsWith("A") ? "B" : "A"}`;
  secrets.push(malformed);
  await record(await http(malformed)); // 2
  const unknown = unknownToken("org");
  await record(await http(unknown)); // 3
  const created = Date.now() - 2 * 86_400_000;
  await record(await http(used(await makeToken(org, { expiresAt: created + 86_400_000 }, created)).secret)); // 4
  const disabled = used(await makeToken(org));
  await disableToken(env, org.orgId, disabled.token.id, testActor, Date.now());
  await record(await http(disabled.secret)); // 5
  const revoked = used(await makeToken(org));
  await revokeToken(env, org.orgId, revoked.token.id, testActor, Date.now());
  await record(await http(revoked.secret)); // 6
  await record(await http(live.secret, env, { permission: ["environment:control:stop"] })); // 7
  await record(await http(live.secret, env, { project: "elsewhere" })); // 8
  const limited = unknownToken("group");
  await record(await http(limited, { ...env, UNKNOWN_TOKEN_LIMITER: refusingLimiter })); // 9
  const cold = used(await makeToken(org));
  resetIsolateCaches();
  await dropFromKv(cold.secret);
  await record(await http(cold.secret, envWithFailing(["DB", "TOKEN_CACHE"]).env)); // 10
  await record(await http(live.secret, env, { permission: ["two words"] })); // 11
  await record(await viaEntrypoint(verifyUrl({ session: live.secret }), { headers: { "X-Api-Key": unknown } })); // 11, two carriers

  // Failure paths that log: KV down, fill and usage write failing, limiter down, no pepper, regenerate.
  resetIsolateCaches();
  await record(await http(live.secret, envWithFailing("TOKEN_CACHE").env));
  resetIsolateCaches();
  const { env: writesFail, log } = countingEnv();
  log.around = (call, proceed) =>
    call.op === "put" || call.op === "batch" ? Promise.reject(new Error(`${call.op} refused`)) : proceed();
  await dropFromKv(live.secret);
  await record(await http(live.secret, writesFail));
  await record(await http(unknownToken("personal"), envWithFailing("UNKNOWN_TOKEN_LIMITER").env));
  await record(await http(live.secret, { ...env, TOKEN_PEPPER: "" }));
  const again = await regenerateToken(env, org.orgId, live.token.id, testActor, Date.now());
  used(again);
  await record(await http(live.secret));
  await record(await http(again.secret));

  // The RPC way in, for the same tokens.
  const ctx = createExecutionContext();
  for (const secret of secrets)
    await new TesseraRpc(ctx, envWithFailing("TOKEN_CACHE").env).verify(secret, { permission: ["x y"] });
  for (const secret of secrets) await exports.TesseraRpc.verify(secret);
  await waitOnExecutionContext(ctx);

  expect([...results].sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
  const output = printed();
  // The spies did see the failure paths, so an empty output cannot pass this test by accident.
  expect(output).toContain('"op":"token.read"');
  expect(output).toContain('"op":"token.lookup"');
  expect(output).toContain("TOKEN_PEPPER");
  // Booleans, so that a failure does not print the secret either.
  const leaked = secrets.map((s, i) => ({ i, whole: output.includes(s), random: output.includes(s.slice(4, 34)) }));
  expect(leaked.filter((l) => l.whole || l.random)).toEqual([]);
});

import { env } from "cloudflare:workers";
import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { EXPIRING_WINDOW_MS } from "../worker/limits";
import {
  copyToken,
  deleteToken,
  disableToken,
  editToken,
  enableToken,
  regenerateToken,
  revokeToken,
} from "../worker/tokens/store";
import { storeEnv } from "./support/d1";
import { makeOrg, makeToken, type OrgFixture, testActor } from "./support/fixtures";
import { resetIsolateCaches } from "./support/isolate";
import { dropFromKv } from "./support/kv-entries";
import { readVerify, verifyUrl, viaEntrypoint } from "./support/verify-client";

const DAY = 86_400_000;
const T0 = Date.UTC(2026, 10, 22, 12, 0, 0);
let org: OrgFixture;

beforeAll(async () => {
  org = await makeOrg(T0);
});
beforeEach(() => {
  resetIsolateCaches();
  vi.useFakeTimers({ toFake: ["Date"] });
  vi.setSystemTime(T0);
});
afterEach(() => vi.useRealTimers());

async function verify(secret: string, check: { project?: string } = {}) {
  const res = await viaEntrypoint(verifyUrl({ session: secret, ...check }));
  return readVerify(res);
}

describe("expiry, on the injected clock", () => {
  it("is valid until the millisecond before expiresAt and expired (code 4) at it, with no cache refresh in between", async () => {
    const expiresAt = T0 + 3 * DAY;
    const { secret } = await makeToken(org, { expiresAt }, T0);
    vi.setSystemTime(expiresAt - 1);
    expect(await verify(secret)).toMatchObject({
      result: 0,
      token: { status: "expiring", expiresAt: new Date(expiresAt).toISOString() },
    });
    vi.setSystemTime(expiresAt);
    expect(await verify(secret)).toMatchObject({ result: 4, error: "token_expired" });
    // The same from D1, with every cache tier cold.
    resetIsolateCaches();
    await dropFromKv(secret);
    expect(await verify(secret)).toMatchObject({ result: 4 });
  });

  it('is "active" 7 days or more before expiry and "expiring" under that', async () => {
    const expiresAt = T0 + 30 * DAY;
    const { secret } = await makeToken(org, { expiresAt }, T0);
    vi.setSystemTime(expiresAt - EXPIRING_WINDOW_MS);
    expect(await verify(secret)).toMatchObject({ result: 0, token: { status: "active" } });
    vi.setSystemTime(expiresAt - EXPIRING_WINDOW_MS + 1);
    expect(await verify(secret)).toMatchObject({ result: 0, token: { status: "expiring" } });
  });

  it("never expires a token without expiresAt", async () => {
    const { secret } = await makeToken(org, { expiresAt: null }, T0);
    vi.setSystemTime(T0 + 3650 * DAY);
    expect(await verify(secret)).toMatchObject({ result: 0, token: { status: "active", expiresAt: null } });
  });

  it("reports an expired token as expired even when it is also disabled (death outranks suspension)", async () => {
    const { secret, token } = await makeToken(org, { expiresAt: T0 + DAY }, T0);
    await disableToken(storeEnv(env), org.orgId, token.id, testActor, T0);
    vi.setSystemTime(T0 + DAY);
    expect(await verify(secret)).toMatchObject({ result: 4 });
  });
});

describe("state changes take effect at once", () => {
  it("disabled answers code 5 and enable brings the token back", async () => {
    const { secret, token } = await makeToken(org, {}, T0);
    expect(await verify(secret)).toMatchObject({ result: 0 });
    await disableToken(storeEnv(env), org.orgId, token.id, testActor, T0 + 1);
    expect(await verify(secret)).toMatchObject({ result: 5, error: "token_disabled" });
    await enableToken(storeEnv(env), org.orgId, token.id, testActor, T0 + 2);
    expect(await verify(secret)).toMatchObject({ result: 0 });
  });

  it("revoked answers code 6 and stays revoked: enable is refused", async () => {
    const { secret, token } = await makeToken(org, {}, T0);
    expect(await verify(secret)).toMatchObject({ result: 0 });
    await revokeToken(storeEnv(env), org.orgId, token.id, testActor, T0 + 1);
    expect(await verify(secret)).toMatchObject({ result: 6, error: "token_revoked" });
    await expect(enableToken(storeEnv(env), org.orgId, token.id, testActor, T0 + 2)).rejects.toMatchObject({
      code: "conflict",
    });
    expect(await verify(secret)).toMatchObject({ result: 6 });
  });

  it("revoked outranks disabled and expired", async () => {
    const { secret, token } = await makeToken(org, { expiresAt: T0 + DAY }, T0);
    await disableToken(storeEnv(env), org.orgId, token.id, testActor, T0);
    await revokeToken(storeEnv(env), org.orgId, token.id, testActor, T0);
    vi.setSystemTime(T0 + 2 * DAY);
    expect(await verify(secret)).toMatchObject({ result: 6 });
  });

  it("regenerate kills the old secret at once and the new one keeps id, scope and expiry", async () => {
    const expiresAt = T0 + 20 * DAY;
    const { secret: old, token } = await makeToken(org, { projects: [org.projectKeys.alpha], expiresAt }, T0);
    expect(await verify(old)).toMatchObject({ result: 0 });
    const { secret: fresh } = await regenerateToken(storeEnv(env), org.orgId, token.id, testActor, T0 + 1);
    expect(fresh).not.toBe(old);
    expect(await verify(old)).toMatchObject({ result: 3, error: "token_unknown" });
    expect(await verify(fresh, { project: org.projectKeys.alpha })).toMatchObject({
      result: 0,
      token: { id: token.id, projects: [org.projectKeys.alpha], expiresAt: new Date(expiresAt).toISOString() },
    });
    expect(await verify(fresh, { project: org.projectKeys.beta })).toMatchObject({ result: 8 });
    // Another isolate, with only KV and D1 to go by, agrees.
    resetIsolateCaches();
    expect(await verify(old)).toMatchObject({ result: 3 });
  });

  it("delete leaves a revoked answer behind, not a valid one", async () => {
    const { secret, token } = await makeToken(org, {}, T0);
    expect(await verify(secret)).toMatchObject({ result: 0 });
    await deleteToken(storeEnv(env), org.orgId, token.id, testActor, T0 + 1);
    expect(await verify(secret)).toMatchObject({ result: 6 });
    resetIsolateCaches();
    expect((await verify(secret)).valid).toBe(false);
  });

  it("narrowing the project list applies to the next verification", async () => {
    const { secret, token } = await makeToken(org, { projects: [org.projectKeys.alpha, org.projectKeys.beta] }, T0);
    expect(await verify(secret, { project: org.projectKeys.beta })).toMatchObject({ result: 0 });
    await editToken(storeEnv(env), org.orgId, token.id, { projects: [org.projectKeys.alpha] }, testActor, T0 + 1);
    expect(await verify(secret, { project: org.projectKeys.beta })).toMatchObject({ result: 8 });
    expect(await verify(secret, { project: org.projectKeys.alpha })).toMatchObject({ result: 0 });
  });

  it("a copy is a second, independent token with the same scope", async () => {
    const { secret, token } = await makeToken(org, { projects: [org.projectKeys.alpha] }, T0);
    const copy = await copyToken(storeEnv(env), org.orgId, token.id, {}, testActor, T0 + 1);
    expect(copy.secret).not.toBe(secret);
    expect(await verify(copy.secret, { project: org.projectKeys.alpha })).toMatchObject({
      result: 0,
      token: { id: copy.token.id },
    });
    await revokeToken(storeEnv(env), org.orgId, token.id, testActor, T0 + 2);
    expect(await verify(copy.secret)).toMatchObject({ result: 0 });
    expect(await verify(secret)).toMatchObject({ result: 6 });
  });
});

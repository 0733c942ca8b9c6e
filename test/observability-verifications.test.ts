import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { TesseraRpc } from "../worker/rpc";
import { generateTokenSecret } from "../worker/tokens/format";
import { revokeToken } from "../worker/tokens/store";
import { makeOrg, makeToken, type OrgFixture, testActor } from "./support/fixtures";
import { resetIsolateCaches } from "./support/isolate";
import { dropFromKv } from "./support/kv-entries";
import { bearer, readVerify, viaHandler } from "./support/verify-client";

// Issue 13, item 4: one Analytics Engine data point per verification, written after the answer is
// known (index1 = org, blob1..4 = token id, kind, result code, tier; double1 = µs, double2 = 1), and a
// dataset that throws never changes an answer.

let org: OrgFixture;
let points: AnalyticsEngineDataPoint[];
/** The test env with its dataset replaced by one that keeps what it is given. */
let recording: Env;

beforeAll(async () => {
  org = await makeOrg();
});
beforeEach(() => {
  resetIsolateCaches();
  points = [];
  recording = { ...env, VERIFICATIONS: { writeDataPoint: (point) => void points.push(point ?? {}) } };
});
afterEach(() => vi.restoreAllMocks());

async function verify(secret: string, bindings: Env = recording) {
  const res = await viaHandler(bearer(secret), bindings);
  return { status: res.status, body: await readVerify(res) };
}

/** A token only D1 holds: this isolate's memory and KV are empty for it. */
async function coldToken() {
  const made = await makeToken(org);
  resetIsolateCaches();
  await dropFromKv(made.secret);
  return made;
}

describe("a data point per verification", () => {
  it("names the org, the token, its kind, the result and the tier that answered: d1, then memory, then kv", async () => {
    const { secret, token } = await coldToken();
    expect((await verify(secret)).body.result).toBe(0);
    expect((await verify(secret)).body.result).toBe(0);
    resetIsolateCaches();
    expect((await verify(secret)).body.result).toBe(0);

    expect(points.map((p) => p.blobs)).toEqual([
      [token.id, "org", "valid", "d1"],
      [token.id, "org", "valid", "memory"],
      [token.id, "org", "valid", "kv"],
    ]);
    for (const point of points) {
      expect(point.indexes).toEqual([org.orgId]);
      expect(point.doubles).toEqual([expect.any(Number), 1]);
      expect(point.doubles![0]).toBeGreaterThanOrEqual(0);
      expect(Number.isInteger(point.doubles![0])).toBe(true);
    }
  });

  it("a refusal carries its code; a token no store knows has no org and no token id", async () => {
    const revoked = await makeToken(org);
    await revokeToken(env, org.orgId, revoked.token.id, testActor, Date.now());
    resetIsolateCaches();
    expect((await verify(revoked.secret)).body.result).toBe(6);
    expect((await verify(generateTokenSecret("org"))).body.result).toBe(3);
    expect((await verify("not-a-token")).body.result).toBe(2);

    expect(points.map((p) => ({ indexes: p.indexes, blobs: p.blobs }))).toEqual([
      { indexes: [org.orgId], blobs: [revoked.token.id, "org", "token_revoked", expect.stringMatching(/^(kv|d1)$/)] },
      { indexes: [], blobs: ["", "", "token_unknown", "d1"] },
      { indexes: [], blobs: ["", "", "token_malformed", "none"] },
    ]);
  });

  it("is written for the service-binding entrypoint too", async () => {
    const { secret, token } = await makeToken(org);
    const ctx = createExecutionContext();
    const answer = await new TesseraRpc(ctx, recording).verify(secret);
    await waitOnExecutionContext(ctx);
    expect(answer.result).toBe(0);
    expect(points.map((p) => p.blobs?.slice(0, 3))).toEqual([[token.id, "org", "valid"]]);
  });

  it("a dataset that throws changes no answer: valid stays valid, refused stays refused, and the failure is logged", async () => {
    const errors: unknown[] = [];
    vi.spyOn(console, "error").mockImplementation((line) => void errors.push(line));
    const throwing: Env = {
      ...env,
      VERIFICATIONS: {
        writeDataPoint: () => {
          throw new Error("analytics engine is down (test)");
        },
      },
    };
    const { secret } = await coldToken();
    expect(await verify(secret, throwing)).toMatchObject({ status: 200, body: { result: 0 } });
    expect(await verify(secret, throwing)).toMatchObject({ status: 200, body: { result: 0 } });
    expect(await verify(generateTokenSecret("org"), throwing)).toMatchObject({ status: 401, body: { result: 3 } });
    expect(errors).toContainEqual(
      expect.objectContaining({ event: "store.error", store: "analytics", op: "verification.write", error: "Error" }),
    );
  });
});

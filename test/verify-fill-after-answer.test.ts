import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import worker from "../worker/index";
import { memoryCache } from "../worker/tokens/memory-cache";
import { makeOrg, makeToken, type OrgFixture } from "./support/fixtures";
import { countingEnv, type IoCall } from "./support/io";
import { resetIsolateCaches } from "./support/isolate";
import { dropFromKv } from "./support/kv-entries";
import { bearer, readVerify, viaHandler } from "./support/verify-client";

// A miss's KV fill is background work: it must not send anything before the answer is handed back
// (measured with `npm run bench`: a fill read sent ahead of the answer doubled a miss's latency).

let org: OrgFixture;
beforeAll(async () => {
  org = await makeOrg();
});

const isLookup = (c: IoCall) => c.binding === "DB" && c.detail.includes("FROM tokens t");
const kvOp = (op: string) => (c: IoCall) => c.op === op;

describe("a miss answers before its cache fill starts", () => {
  it("at the answer only the miss's own KV read and D1 lookup have been sent; the fill follows", async () => {
    const { secret } = await makeToken(org);
    resetIsolateCaches();
    await viaHandler(bearer(secret)); // records the token's use, so the measured miss writes none
    memoryCache.clear();
    await dropFromKv(secret);
    const { env: counted, log } = countingEnv();
    const ctx = createExecutionContext();
    const res = await worker.fetch(bearer(secret), counted, ctx);
    expect(log.count("TOKEN_CACHE", kvOp("get"))).toBe(1);
    expect(log.count(undefined, isLookup)).toBe(1);
    expect(log.calls).toHaveLength(2);
    expect(await readVerify(res)).toMatchObject({ result: 0 });
    await waitOnExecutionContext(ctx);
    // The versioned fill, after: its KV re-read, its put, its D1 version check.
    expect(log.count("TOKEN_CACHE", kvOp("get"))).toBe(2);
    expect(log.count("TOKEN_CACHE", kvOp("put"))).toBe(1);
    expect(log.count("DB", (c) => !isLookup(c))).toBe(1);
  });
});

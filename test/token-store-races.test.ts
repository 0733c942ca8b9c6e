import { env } from "cloudflare:workers";
import { eq } from "drizzle-orm";
import { beforeAll, beforeEach, describe, expect, it } from "vitest";
import { database } from "../worker/db/client";
import { tokens } from "../worker/db/schema";
import { disableToken, editToken, enableToken } from "../worker/tokens/store";
import { makeOrg, makeToken, type OrgFixture, testActor } from "./support/fixtures";
import { countingEnv } from "./support/io";
import { resetIsolateCaches } from "./support/isolate";
import { kvEntryOf, kvKeyOf } from "./support/kv-entries";
import { bearer, readVerify, viaHandler } from "./support/verify-client";

// Two management actions on one token at the same moment (two admins, a bulk revoke and a click):
// whatever order their D1 writes and KV puts land in, the caches end on D1's last state.

let org: OrgFixture;
beforeAll(async () => {
  org = await makeOrg();
});
beforeEach(() => resetIsolateCaches());

/** A promise and the function that settles it. */
function gate() {
  let open: () => void = () => {};
  const opened = new Promise<void>((r) => (open = r));
  return { opened, open };
}

const versionOf = async (id: string) => (await database(env.DB).select({ v: tokens.version }).from(tokens).where(eq(tokens.id, id)).get())?.v;

describe("concurrent state changes", () => {
  it("a change whose KV put lands after a newer change's does not leave its older state in KV", async () => {
    const { secret, token } = await makeToken(org);
    await disableToken(env, org.orgId, token.id, testActor, Date.now());
    const key = await kvKeyOf(secret);
    // A: enable, whose first cache put is held back until B (disable again) has fully finished.
    const held = gate();
    const aReachedPut = gate();
    const { env: slowKv, log } = countingEnv();
    let puts = 0;
    log.around = async (call, proceed) => {
      if (call.op === "put" && call.detail === key && ++puts === 1) {
        aReachedPut.open();
        await held.opened;
      }
      return proceed();
    };
    const a = enableToken(slowKv, org.orgId, token.id, testActor, Date.now());
    await aReachedPut.opened;
    await disableToken(env, org.orgId, token.id, testActor, Date.now());
    held.open();
    await a;
    // D1 says disabled (B committed last). So must KV, and a cold isolate.
    expect((await database(env.DB).select().from(tokens).where(eq(tokens.id, token.id)).get())?.disabledAt).not.toBeNull();
    const entry = await kvEntryOf(secret);
    if (entry) expect(entry.token?.disabledAt).not.toBeNull();
    resetIsolateCaches();
    expect(await readVerify(await viaHandler(bearer(secret)))).toMatchObject({ result: 5 });
  });

  it("gives each of two racing changes its own version", async () => {
    const { token } = await makeToken(org);
    const before = await versionOf(token.id);
    // A reads the row, then its write waits until B has written.
    const held = gate();
    const aReachedWrite = gate();
    const { env: slowDb, log } = countingEnv();
    log.around = async (call, proceed) => {
      if (call.binding === "DB" && call.op === "batch") {
        aReachedWrite.open();
        await held.opened;
      }
      return proceed();
    };
    const a = editToken(slowDb, org.orgId, token.id, { name: "renamed by A" }, testActor, Date.now());
    await aReachedWrite.opened;
    await editToken(env, org.orgId, token.id, { description: "described by B" }, testActor, Date.now());
    held.open();
    await a;
    expect(await versionOf(token.id)).toBe(before! + 2);
  });
});

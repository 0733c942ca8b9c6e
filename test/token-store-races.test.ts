import { env } from "cloudflare:workers";
import { eq } from "drizzle-orm";
import { beforeAll, beforeEach, describe, expect, it } from "vitest";
import { database } from "../worker/db/client";
import { tokens } from "../worker/db/schema";
import { primarySession } from "../worker/db/session";
import { disableToken, editToken, enableToken, regenerateToken, revokeToken } from "../worker/tokens/store";
import { storeEnv } from "./support/d1";
import { makeOrg, makeToken, type OrgFixture, testActor } from "./support/fixtures";
import { countingEnv } from "./support/io";
import { resetIsolateCaches } from "./support/isolate";
import { kvEntryOf, kvKeyOf } from "./support/kv-entries";
import { bearer, readVerify, verifyUrl, viaHandler } from "./support/verify-client";

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

const versionOf = async (id: string) =>
  (await database(primarySession(env.DB)).select({ v: tokens.version }).from(tokens).where(eq(tokens.id, id)).get())?.v;

describe("concurrent state changes", () => {
  it("a change whose KV put lands after a newer change's does not leave its older state in KV", async () => {
    const { secret, token } = await makeToken(org);
    await disableToken(storeEnv(env), org.orgId, token.id, testActor, Date.now());
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
    const a = enableToken(storeEnv(slowKv), org.orgId, token.id, testActor, Date.now());
    await aReachedPut.opened;
    await disableToken(storeEnv(env), org.orgId, token.id, testActor, Date.now());
    held.open();
    await a;
    // D1 says disabled (B committed last). So must KV, and a cold isolate.
    expect(
      (await database(primarySession(env.DB)).select().from(tokens).where(eq(tokens.id, token.id)).get())?.disabledAt,
    ).not.toBeNull();
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
    const a = editToken(storeEnv(slowDb), org.orgId, token.id, { name: "renamed by A" }, testActor, Date.now());
    await aReachedWrite.opened;
    await editToken(storeEnv(env), org.orgId, token.id, { description: "described by B" }, testActor, Date.now());
    held.open();
    await a;
    expect(await versionOf(token.id)).toBe(before! + 2);
  });
});

describe("a regenerate landing between a change's read and its write", () => {
  type Change = "revoke" | "disable" | "enable" | "edit";
  const changes: {
    change: Change;
    run: (e: Env, id: string) => Promise<unknown>;
    expected: number;
    project?: string;
  }[] = [
    { change: "revoke", run: (e, id) => revokeToken(storeEnv(e), org.orgId, id, testActor, Date.now()), expected: 6 },
    { change: "disable", run: (e, id) => disableToken(storeEnv(e), org.orgId, id, testActor, Date.now()), expected: 5 },
    { change: "enable", run: (e, id) => enableToken(storeEnv(e), org.orgId, id, testActor, Date.now()), expected: 0 },
    {
      change: "edit",
      run: (e, id) =>
        editToken(storeEnv(e), org.orgId, id, { projects: [org.projectKeys.beta] }, testActor, Date.now()),
      expected: 8,
    },
  ];

  it.each(changes)(
    "leaves the new secret's cache entry on the state after the $change",
    async ({ change, run, expected }) => {
      const { secret: original, token } = await makeToken(org, {
        projects: [org.projectKeys.alpha, org.projectKeys.beta],
      });
      if (change === "enable") await disableToken(storeEnv(env), org.orgId, token.id, testActor, Date.now());
      // The change reads the row; before its write, a regenerate runs to the end (new hash, its entry cached).
      let regenerated: string | null = null;
      const { env: racing, log } = countingEnv();
      log.around = async (call, proceed) => {
        if (call.binding === "DB" && call.op === "batch" && regenerated === null) {
          regenerated = (await regenerateToken(storeEnv(env), org.orgId, token.id, testActor, Date.now())).secret;
        }
        return proceed();
      };
      await run(racing, token.id);
      expect(regenerated).not.toBeNull();
      // Another isolate answers from KV: it must say what D1 says.
      resetIsolateCaches();
      const url = verifyUrl({ project: org.projectKeys.alpha });
      expect(await readVerify(await viaHandler(bearer(regenerated!, "198.51.100.8", url)))).toMatchObject({
        result: expected,
      });
      expect((await kvEntryOf(regenerated!))?.v).toBe(await versionOf(token.id));
      // The hash the change read is buried: no token, no older state.
      expect(await kvEntryOf(original)).toMatchObject({ token: null });
      expect(await readVerify(await viaHandler(bearer(original, "198.51.100.8")))).toMatchObject({ result: 3 });
    },
  );

  it("of its own: the secret a racing regenerate handed out stops verifying too", async () => {
    const { token } = await makeToken(org);
    let overtaken: string | null = null;
    const { env: racing, log } = countingEnv();
    log.around = async (call, proceed) => {
      if (call.binding === "DB" && call.op === "batch" && overtaken === null) {
        overtaken = (await regenerateToken(storeEnv(env), org.orgId, token.id, testActor, Date.now())).secret;
      }
      return proceed();
    };
    const { secret } = await regenerateToken(storeEnv(racing), org.orgId, token.id, testActor, Date.now());
    resetIsolateCaches();
    expect(await readVerify(await viaHandler(bearer(overtaken!, "198.51.100.8")))).toMatchObject({ result: 3 });
    expect(await readVerify(await viaHandler(bearer(secret, "198.51.100.8")))).toMatchObject({ result: 0 });
  });
});

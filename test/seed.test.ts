import { env } from "cloudflare:workers";
import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { verifyPassword } from "../worker/accounts/password";
import { findUserByEmail, storedPassword } from "../worker/accounts/users";
import { database } from "../worker/db/client";
import { memberships, organizations, users } from "../worker/db/schema";
import { primarySession } from "../worker/db/session";
import { DEMO_EMAIL, seedDemo } from "../worker/seed/demo";
import { storeEnv } from "./support/d1";
import { readVerify, verifyUrl, viaEntrypoint } from "./support/verify-client";

async function expectSeedWorks(seeded: Awaited<ReturnType<typeof seedDemo>>) {
  if (!seeded.created) throw new Error("expected a seed");
  expect(seeded.tokens.map((t) => t.kind)).toEqual(["org", "group", "personal"]);
  for (const t of seeded.tokens) {
    const res = await viaEntrypoint(
      verifyUrl({ session: t.secret, permission: [t.example.permission], project: t.example.project }),
    );
    expect(await readVerify(res), t.kind).toMatchObject({ result: 0, token: { kind: t.kind, org: { slug: "demo" } } });
  }
  return seeded;
}

describe("npm run seed (worker/seed/demo.ts)", () => {
  it("on an empty instance makes the demo user its owner, with a password that logs in, and three working tokens", async () => {
    const seeded = await expectSeedWorks(await seedDemo(storeEnv(env), Date.now()));
    expect(seeded.user).toMatchObject({ email: DEMO_EMAIL, role: "owner" });
    const user = await findUserByEmail(database(primarySession(env.DB)), DEMO_EMAIL);
    expect(user?.isOwner).toBe(true);
    expect(await verifyPassword(seeded.user.password!, storedPassword(user!))).toBe(true);
    // The group token reaches the group's project only; the personal one its two named projects.
    const [, group, personal] = seeded.tokens;
    expect(await readVerify(await viaEntrypoint(verifyUrl({ session: group!.secret, project: "web" })))).toMatchObject({
      result: 8,
    });
    expect(
      await readVerify(await viaEntrypoint(verifyUrl({ session: personal!.secret, project: "mobile" }))),
    ).toMatchObject({ result: 8 });
  });

  it("a second run changes nothing and returns no secret", async () => {
    const before = await database(primarySession(env.DB)).select().from(organizations);
    expect(await seedDemo(storeEnv(env), Date.now())).toEqual({ created: false });
    expect(await database(primarySession(env.DB)).select().from(organizations)).toEqual(before);
  });

  it("on an instance that has users makes the demo user an organization admin, not an owner", async () => {
    const db = database(primarySession(env.DB));
    await db.delete(organizations).where(eq(organizations.slug, "demo"));
    await db.update(users).set({ email: "first-owner@example.com" }).where(eq(users.email, DEMO_EMAIL));
    const seeded = await expectSeedWorks(await seedDemo(storeEnv(env), Date.now()));
    expect(seeded.user.role).toBe("org_admin");
    const user = await findUserByEmail(db, DEMO_EMAIL);
    expect(user?.isOwner).toBe(false);
    expect(await verifyPassword(seeded.user.password!, storedPassword(user!))).toBe(true);
    expect(
      await db.select({ role: memberships.role }).from(memberships).where(eq(memberships.userId, user!.id)),
    ).toEqual([{ role: "org_admin" }]);
  });
});

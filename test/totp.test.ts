import { env } from "cloudflare:workers";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { TOTP_STEP_S } from "../worker/accounts/limits";
import { base32Decode, base32Encode, stepAt, totpAt } from "../worker/accounts/totp";
import { api, confirm, login, OWNER, setupOwner } from "./support/api-client";
import { auditRows } from "./support/audit";
import { addPerson } from "./support/people";

// Two-factor sign-in (docs/API.md "Your account", docs/DESIGN.md §5): TOTP per RFC 6238 with
// HMAC-SHA-1, six digits, 30-second steps, one step of drift either way, no code accepted twice;
// ten one-time recovery codes; asked at sign-in, for sudo, to turn it off; an organization's policy
// that refuses its admins without it.

const STEP_MS = TOTP_STEP_S * 1000;
// A fixed instant at the start of a step, so "one step later" is exact.
const T0 = Math.floor(Date.UTC(2026, 5, 1, 9) / STEP_MS) * STEP_MS;

let clock = T0;
function setClock(at: number) {
  clock = at;
  vi.useFakeTimers({ toFake: ["Date"] });
  vi.setSystemTime(at);
}
afterEach(() => vi.useRealTimers());

/** The code an authenticator app shows for `secret` (base32) at `at`. */
const codeAt = (secret: string, at = clock) => totpAt(base32Decode(secret)!, stepAt(at));

const ADMIN = { email: "admin@acme.test", password: "admin password 1234", role: "org_admin" as const };
const MEMBER = { email: "member@acme.test", password: "member password 1234", role: "org_member" as const };
let ownerCookie: string;

/** Enrolls the person behind `cookie`; answers the secret and the recovery codes. */
async function enroll(cookie: string, password: string): Promise<{ secret: string; recoveryCodes: string[] }> {
  const setup = await api("POST", "/api/me/two-factor/setup", { cookie, body: { password } });
  expect(setup.status, JSON.stringify(setup.body)).toBe(201);
  const secret = setup.body.secret as string;
  const enabled = await api("POST", "/api/me/two-factor/enable", {
    cookie,
    body: { password, code: await codeAt(secret) },
  });
  expect(enabled.status, JSON.stringify(enabled.body)).toBe(200);
  return { secret, recoveryCodes: enabled.body.recoveryCodes };
}

beforeAll(async () => {
  ownerCookie = (await setupOwner()).cookie;
  await confirm(ownerCookie, OWNER.password);
  await addPerson({ cookie: ownerCookie }, "acme", ADMIN);
  await addPerson({ cookie: ownerCookie }, "acme", MEMBER);
});

describe("RFC 6238 appendix B (SHA-1, 8 digits)", () => {
  const seed = new TextEncoder().encode("12345678901234567890");
  it.each([
    [59, "94287082"],
    [1111111109, "07081804"],
    [1111111111, "14050471"],
    [1234567890, "89005924"],
    [2000000000, "69279037"],
    [20000000000, "65353130"],
  ])("at %i s the code is %s", async (seconds, expected) => {
    expect(await totpAt(seed, stepAt(seconds * 1000), 8)).toBe(expected);
  });

  it("base32 reads back what it wrote, in any case and with spaces", () => {
    const bytes = crypto.getRandomValues(new Uint8Array(20));
    const text = base32Encode(bytes);
    expect(text).toMatch(/^[A-Z2-7]{32}$/);
    expect(base32Decode(text.toLowerCase().replace(/(.{4})/g, "$1 "))).toEqual(bytes);
    expect(base32Decode("not base32!")).toBeNull();
  });
});

describe("enrollment", () => {
  let cookie: string;
  beforeAll(async () => {
    cookie = await login(MEMBER.email, MEMBER.password);
  });

  it("a cookie without the password can neither start it nor finish it", async () => {
    setClock(T0);
    const none = await api("POST", "/api/me/two-factor/setup", { cookie, body: {} });
    expect(none.status).toBe(422);
    const wrong = await api("POST", "/api/me/two-factor/setup", { cookie, body: { password: "not the password" } });
    expect(wrong.status).toBe(403);
    expect(wrong.body.error.details.fields.password).toMatch(/not correct/);
    const setup = await api("POST", "/api/me/two-factor/setup", { cookie, body: { password: MEMBER.password } });
    const enable = await api("POST", "/api/me/two-factor/enable", {
      cookie,
      body: { password: "not the password", code: await codeAt(setup.body.secret) },
    });
    expect(enable.status).toBe(403);
    expect((await api("GET", "/api/me", { cookie })).body.twoFactor.enabled).toBe(false);
  });

  it("shows an otpauth:// URI and the base32 secret once, needs one right code, and answers ten recovery codes", async () => {
    setClock(T0 + 10 * STEP_MS);
    const setup = await api("POST", "/api/me/two-factor/setup", { cookie, body: { password: MEMBER.password } });
    expect(setup.status).toBe(201);
    const secret = setup.body.secret as string;
    expect(secret).toMatch(/^[A-Z2-7]{32}$/);
    expect(setup.body.uri).toMatch(/^otpauth:\/\/totp\/Tessera:member%40acme\.test\?/);
    const uri = new URL(setup.body.uri);
    expect(Object.fromEntries(uri.searchParams)).toEqual({
      secret,
      issuer: "Tessera",
      algorithm: "SHA1",
      digits: "6",
      period: "30",
    });
    const wrongCode = String((Number(await codeAt(secret)) + 1) % 1_000_000).padStart(6, "0");
    const wrong = await api("POST", "/api/me/two-factor/enable", {
      cookie,
      body: { password: MEMBER.password, code: wrongCode },
    });
    expect(wrong.status).toBe(403);
    expect(wrong.body.error.details.fields.code).toMatch(/code is not correct/);
    const enabled = await api("POST", "/api/me/two-factor/enable", {
      cookie,
      body: { password: MEMBER.password, code: await codeAt(secret) },
    });
    expect(enabled.status).toBe(200);
    expect(enabled.body.recoveryCodes).toHaveLength(10);
    expect(new Set(enabled.body.recoveryCodes).size).toBe(10);
    const me = await api("GET", "/api/me", { cookie });
    expect(me.body.twoFactor).toEqual({ enabled: true, recoveryCodesLeft: 10 });
    // Never answered again, never stored readable: the row holds a seal, the codes their hashes.
    expect(JSON.stringify((await api("GET", "/api/me/two-factor", { cookie })).body)).not.toContain(secret);
    const stored = JSON.stringify((await env.DB.prepare("SELECT * FROM user_two_factor").all()).results);
    expect(stored).not.toContain(secret);
    expect(stored).not.toContain(secret.toLowerCase());
    const codes = JSON.stringify((await env.DB.prepare("SELECT * FROM recovery_codes").all()).results);
    for (const code of enabled.body.recoveryCodes) expect(codes).not.toContain(code.replace("-", ""));
    expect(await auditRows("user.two_factor_enabled")).toHaveLength(1);
    // A second setup cannot replace a factor that is on.
    const again = await api("POST", "/api/me/two-factor/setup", { cookie, body: { password: MEMBER.password } });
    expect(again.status).toBe(409);
  });
});

describe("signing in with two factors", () => {
  let secret: string;
  let recovery: string[];
  const user = { email: "two@acme.test", password: "two factor password 1", role: "org_member" as const };
  beforeAll(async () => {
    await addPerson({ cookie: ownerCookie }, "acme", user);
    setClock(T0 + 100 * STEP_MS);
    ({ secret, recoveryCodes: recovery } = await enroll(await login(user.email, user.password), user.password));
    vi.useRealTimers();
  });
  const signIn = (code?: string, ip = "198.51.100.20", password = user.password) =>
    api("POST", "/api/session", { body: { email: user.email, password, code }, ip });

  it("asks for the code after the right password, and sets no cookie until it comes", async () => {
    setClock(T0 + 200 * STEP_MS);
    const res = await signIn();
    expect(res.status).toBe(401);
    expect(res.body.error.code).toBe("two_factor_code_required");
    expect(res.setCookie).toBeNull();
    // A wrong password is answered as before, whatever code comes with it.
    const wrongPassword = await signIn(await codeAt(secret), undefined, "not the password at all");
    expect(wrongPassword.body.error.code).toBe("unauthenticated");
    expect(wrongPassword.body.error.message).toMatch(/email or password/);
  });

  it("signs in with the current code, the step before or after, and never twice with one code", async () => {
    setClock(T0 + 300 * STEP_MS);
    const code = await codeAt(secret);
    const ok = await signIn(code);
    expect(ok.status, JSON.stringify(ok.body)).toBe(200);
    expect(ok.setCookie).toBeTruthy();
    const replay = await signIn(code);
    expect(replay.status).toBe(401);
    expect(replay.body.error.message).toMatch(/code is not correct/);
    // The next step's code, typed while the clock is still on this one (a fast phone clock).
    expect((await signIn(await codeAt(secret, clock + STEP_MS))).status).toBe(200);
    // Two steps behind is too old.
    setClock(T0 + 400 * STEP_MS);
    expect((await signIn(await codeAt(secret, clock - 2 * STEP_MS))).status).toBe(401);
    expect((await signIn(await codeAt(secret, clock - STEP_MS))).status).toBe(200);
    // Once a step is used, an earlier one is refused too.
    expect((await signIn(await codeAt(secret, clock - STEP_MS))).status).toBe(401);
  });

  it("a recovery code works once, in any case and without its dash", async () => {
    setClock(T0 + 500 * STEP_MS);
    const code = recovery[0]!;
    expect((await signIn(code.toUpperCase().replace("-", ""))).status).toBe(200);
    expect((await signIn(code)).status).toBe(401);
    expect((await auditRows("user.recovery_code_used")).length).toBe(1);
    const cookie = (await signIn(recovery[1]!)).setCookie!;
    expect((await api("GET", "/api/me", { cookie })).body.twoFactor.recoveryCodesLeft).toBe(8);
  });

  it("wrong codes count toward the same sign-in lockout as wrong passwords", async () => {
    setClock(T0 + 600 * STEP_MS);
    const ip = "198.51.100.77";
    for (let i = 0; i < 5; i++) expect((await signIn("000000", ip)).status).toBe(401);
    const locked = await signIn(await codeAt(secret), ip);
    expect(locked.status).toBe(429);
    expect(locked.headers.get("retry-after")).toBeTruthy();
    const failures = await auditRows("session.login_failed");
    expect(failures.some((r) => String(r.detail).includes('"factor":"code"'))).toBe(true);
  });

  it("sudo asks for the password and the code", async () => {
    setClock(T0 + 700 * STEP_MS);
    const cookie = (await signIn(await codeAt(secret), "198.51.100.21")).setCookie!;
    const noCode = await api("POST", "/api/session/confirm", { cookie, body: { password: user.password } });
    expect(noCode.status).toBe(422);
    expect(noCode.body.error.details.fields.code).toBeTruthy();
    const badCode = await api("POST", "/api/session/confirm", {
      cookie,
      body: { password: user.password, code: "123456" === (await codeAt(secret)) ? "654321" : "123456" },
    });
    expect(badCode.status).toBe(403);
    // The request without a code had the right password: only the wrong code is counted.
    expect(badCode.body.error.details.attemptsLeft).toBe(4);
    setClock(T0 + 701 * STEP_MS);
    const ok = await api("POST", "/api/session/confirm", {
      cookie,
      body: { password: user.password, code: await codeAt(secret) },
    });
    expect(ok.status).toBe(200);
    expect(ok.body.sudoUntil).toBeTruthy();
  });

  it("recovery codes are regenerated with the password and a code, and the old ones stop working", async () => {
    setClock(T0 + 800 * STEP_MS);
    const cookie = (await signIn(await codeAt(secret), "198.51.100.22")).setCookie!;
    const stolen = await api("POST", "/api/me/two-factor/recovery-codes", { cookie, body: {} });
    expect(stolen.status).toBe(422);
    // A stolen cookie and the password are not two factors: fresh recovery codes would pass sudo and sign-in.
    const passwordOnly = await api("POST", "/api/me/two-factor/recovery-codes", {
      cookie,
      body: { password: user.password },
    });
    expect(passwordOnly.status).toBe(422);
    expect(passwordOnly.body.error.details.fields.code).toBeTruthy();
    setClock(T0 + 801 * STEP_MS);
    const fresh = await api("POST", "/api/me/two-factor/recovery-codes", {
      cookie,
      body: { password: user.password, code: await codeAt(secret) },
    });
    expect(fresh.status).toBe(200);
    expect(fresh.body.recoveryCodes).toHaveLength(10);
    expect((await signIn(recovery[2]!, "198.51.100.23")).status).toBe(401);
    expect((await signIn(fresh.body.recoveryCodes[0], "198.51.100.23")).status).toBe(200);
    recovery = fresh.body.recoveryCodes.slice(1);
  });

  it("changing the password needs a code too: a stolen cookie and the password cannot lock the person out", async () => {
    setClock(T0 + 850 * STEP_MS);
    const cookie = (await signIn(await codeAt(secret), "198.51.100.26")).setCookie!;
    setClock(T0 + 851 * STEP_MS);
    const change = (newPassword: string, currentPassword: string, code?: string) =>
      api("POST", "/api/me/password", { cookie, body: { currentPassword, newPassword, ...(code && { code }) } });
    const passwordOnly = await change("taken over by mallory", user.password);
    expect(passwordOnly.status).toBe(422);
    expect(passwordOnly.body.error.details.fields.code).toBeTruthy();
    const changed = await change("my own new password 5", user.password, await codeAt(secret));
    expect(changed.status).toBe(204);
    setClock(T0 + 852 * STEP_MS);
    expect((await change(user.password, "my own new password 5", await codeAt(secret))).status).toBe(204);
  });

  it("turning it off needs the password and a code", async () => {
    setClock(T0 + 900 * STEP_MS);
    const cookie = (await signIn(await codeAt(secret), "198.51.100.24")).setCookie!;
    setClock(T0 + 901 * STEP_MS);
    const passwordOnly = await api("POST", "/api/me/two-factor/disable", { cookie, body: { password: user.password } });
    expect(passwordOnly.status).toBe(422);
    const codeOnly = await api("POST", "/api/me/two-factor/disable", {
      cookie,
      body: { password: "a wrong password!", code: await codeAt(secret) },
    });
    expect(codeOnly.status).toBe(403);
    const off = await api("POST", "/api/me/two-factor/disable", {
      cookie,
      body: { password: user.password, code: await codeAt(secret) },
    });
    expect(off.status).toBe(204);
    expect((await api("GET", "/api/me", { cookie })).body.twoFactor.enabled).toBe(false);
    expect((await signIn(undefined, "198.51.100.25")).status).toBe(200);
    expect(await auditRows("user.two_factor_disabled")).toHaveLength(1);
  });

  it("an admin token cannot use any of it", async () => {
    const made = await api("POST", "/api/orgs/acme/tokens", {
      cookie: ownerCookie,
      body: {
        kind: "org",
        name: "two-factor bot",
        expiresAt: null,
        projects: "*",
        permissions: ["manage:settings"],
        admin: true,
      },
    });
    expect(made.status, JSON.stringify(made.body)).toBe(201);
    const res = await api("POST", "/api/me/two-factor/setup", { token: made.body.secret, body: { password: "x" } });
    expect(res.status).toBe(403);
  });
});

describe("an organization's policy requiring two factors of its admins", () => {
  it("only someone with two factors turns it on, with sudo; admins without are refused with two_factor_required", async () => {
    setClock(T0 + 1000 * STEP_MS);
    const ownerNoSudo = await login(OWNER.email, OWNER.password);
    const refused = await api("PUT", "/api/orgs/acme/two-factor-policy", {
      cookie: ownerNoSudo,
      body: { requiredForAdmins: true },
    });
    expect(refused.body.error.code).toBe("sudo_required");
    await confirm(ownerNoSudo, OWNER.password);
    const notEnrolled = await api("PUT", "/api/orgs/acme/two-factor-policy", {
      cookie: ownerNoSudo,
      body: { requiredForAdmins: true },
    });
    expect(notEnrolled.status).toBe(422);
    expect(notEnrolled.body.error.details.fields.requiredForAdmins).toMatch(/your own account first/);

    const { secret } = await enroll(ownerNoSudo, OWNER.password);
    setClock(T0 + 1001 * STEP_MS);
    const owner = (
      await api("POST", "/api/session", {
        body: { ...OWNER, code: await codeAt(secret) },
      })
    ).setCookie!;
    await api("POST", "/api/session/confirm", {
      cookie: owner,
      body: { password: OWNER.password, code: await codeAt(secret, clock + STEP_MS) },
    });
    const on = await api("PUT", "/api/orgs/acme/two-factor-policy", {
      cookie: owner,
      body: { requiredForAdmins: true },
    });
    expect(on.status, JSON.stringify(on.body)).toBe(200);
    expect(on.body.requiredForAdmins).toBe(true);
    expect(await auditRows("org.two_factor_policy_changed")).toHaveLength(1);

    // An org admin without a second factor: refused on the organization's management API, reads included.
    const admin = await login(ADMIN.email, ADMIN.password);
    for (const path of ["/api/orgs/acme", "/api/orgs/acme/tokens", "/api/orgs/acme/members"]) {
      const res = await api("GET", path, { cookie: admin });
      expect(res.status, path).toBe(403);
      expect(res.body.error.code, path).toBe("two_factor_required");
    }
    // Their own account is not the organization's: they can still enroll.
    expect((await api("GET", "/api/me", { cookie: admin })).status).toBe(200);
    // Nor do they get the organization's data another way: no personal token there, even with sudo.
    await confirm(admin, ADMIN.password);
    const personal = await api("POST", "/api/me/tokens", {
      cookie: admin,
      body: { org: "acme", name: "side door", expiresAt: null, projects: "*", permissions: ["analysis:read"] },
    });
    expect(personal.status).toBe(403);
    expect(personal.body.error.code).toBe("two_factor_required");
    // A plain member is no admin: not affected.
    const member = await login("two@acme.test", "two factor password 1");
    expect((await api("GET", "/api/orgs/acme", { cookie: member })).status).toBe(200);
    // Admin tokens are not people: not affected.
    const bot = await api("POST", "/api/orgs/acme/tokens", {
      cookie: owner,
      body: {
        kind: "org",
        name: "policy bot",
        expiresAt: null,
        projects: "*",
        permissions: ["manage:settings"],
        admin: true,
      },
    });
    expect(bot.status, JSON.stringify(bot.body)).toBe(201);
    expect(
      (await api("GET", "/api/orgs/acme/two-factor-policy", { token: bot.body.secret })).body.requiredForAdmins,
    ).toBe(true);

    // Once the admin enrolls, the same requests pass.
    setClock(T0 + 1100 * STEP_MS);
    await enroll(admin, ADMIN.password);
    expect((await api("GET", "/api/orgs/acme/tokens", { cookie: admin })).status).toBe(200);
  });
});

describe("a seal the pepper cannot open (TOKEN_PEPPER rotated)", () => {
  it("refuses the app's codes without a 500; a recovery code still signs in and turns it off", async () => {
    const who = { email: "rotated@acme.test", password: "rotated password 123", role: "org_member" as const };
    await addPerson({ cookie: ownerCookie }, "acme", who);
    setClock(T0 + 2000 * STEP_MS);
    const { secret, recoveryCodes } = await enroll(await login(who.email, who.password), who.password);
    await env.DB.prepare(
      "UPDATE user_two_factor SET secret_sealed = 'v1.AAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' WHERE user_id = (SELECT id FROM users WHERE email = ?)",
    )
      .bind(who.email)
      .run();
    setClock(T0 + 2001 * STEP_MS);
    const refused = await api("POST", "/api/session", { body: { ...who, code: await codeAt(secret) } });
    expect(refused.status).toBe(401);
    const signedIn = await api("POST", "/api/session", { body: { ...who, code: recoveryCodes[0] } });
    expect(signedIn.status).toBe(200);
    const off = await api("POST", "/api/me/two-factor/disable", {
      cookie: signedIn.setCookie!,
      body: { password: who.password, code: recoveryCodes[1] },
    });
    expect(off.status).toBe(204);
  });
});

import { env } from "cloudflare:workers";
import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import {
  CONFIRM_MAX_FAILURES_PER_SESSION,
  LOGIN_MAX_FAILURES_PER_EMAIL,
  LOGIN_MAX_FAILURES_PER_EMAIL_NETWORK,
  LOGIN_MAX_FAILURES_PER_NETWORK,
  LOGIN_WINDOW_MS,
} from "../worker/accounts/limits";
import { HOUR_MS } from "../worker/limits";
import { type Answer, api, OWNER, setupOwner } from "./support/api-client";

// Each test runs in its own throttle window (an hour apart on a fake clock), so none inherits
// another's counts.
const T0 = Date.UTC(2026, 11, 1, 0, 0, 0);
let windowNo = 0;
beforeAll(async () => {
  await setupOwner();
});
beforeEach(() => {
  vi.useFakeTimers({ toFake: ["Date"] });
  vi.setSystemTime(T0 + ++windowNo * HOUR_MS);
});
afterEach(() => {
  vi.restoreAllMocks();
  vi.useRealTimers();
});

/** Fifty PBKDF2 checks take seconds on a busy machine. */
const SLOW = { timeout: 60_000 };
const attempt = (email: string, password: string, ip: string) =>
  api("POST", "/api/session", { body: { email, password }, ip });
const wrong = (email: string, ip: string, i = 0) => attempt(email, `wrong password ${i}`, ip);

/** Counts the PBKDF2 derivations the worker runs: one per password actually checked. */
function countPasswordChecks(): () => number {
  const spy = vi.spyOn(crypto.subtle, "deriveBits");
  return () => spy.mock.calls.length;
}

function expectThrottled(res: Answer): void {
  expect(res.status).toBe(429);
  expect(res.body.error.code).toBe("rate_limited");
  expect(Number(res.headers.get("retry-after"))).toBeGreaterThan(0);
  expect(Number(res.headers.get("retry-after"))).toBeLessThanOrEqual(LOGIN_WINDOW_MS / 1000);
  expect(res.setCookie).toBeNull();
}

describe("attempts are counted before the password is checked", () => {
  it("lets at most 5 of 20 parallel wrong passwords for one email reach the password check; the rest get 429", async () => {
    const checks = countPasswordChecks();
    const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => wrong(OWNER.email, "198.51.100.10", i)));
    expect(checks()).toBeLessThanOrEqual(LOGIN_MAX_FAILURES_PER_EMAIL_NETWORK);
    const refused = answers.filter((a) => a.status === 429);
    expect(answers.filter((a) => a.status === 401).length).toBe(checks());
    expect(refused.length).toBe(20 - checks());
    for (const res of refused) expectThrottled(res);
    const failures = await env.DB.prepare(
      "SELECT count(*) AS n FROM audit_events WHERE action = 'session.login_failed' AND at = ?",
    )
      .bind(Date.now())
      .first<{ n: number }>();
    expect(failures!.n).toBe(checks());
  });

  it("refuses even the right password from that network once it used its 5 tries, without checking it", async () => {
    for (let i = 0; i < LOGIN_MAX_FAILURES_PER_EMAIL_NETWORK; i++)
      expect((await wrong(OWNER.email, "198.51.100.11", i)).status).toBe(401);
    const checks = countPasswordChecks();
    expectThrottled(await attempt(OWNER.email, OWNER.password, "198.51.100.11"));
    expect(checks()).toBe(0);
    vi.setSystemTime(Date.now() + LOGIN_WINDOW_MS);
    expect((await attempt(OWNER.email, OWNER.password, "198.51.100.11")).status).toBe(200);
  });

  it("does not hold a success against the user: typos before it are forgiven on that network", async () => {
    for (let i = 0; i < LOGIN_MAX_FAILURES_PER_EMAIL_NETWORK - 1; i++)
      expect((await wrong(OWNER.email, "198.51.100.12", i)).status).toBe(401);
    expect((await attempt(OWNER.email, OWNER.password, "198.51.100.12")).status).toBe(200);
    for (let i = 0; i < LOGIN_MAX_FAILURES_PER_EMAIL_NETWORK; i++)
      expect((await wrong(OWNER.email, "198.51.100.12", i)).status).toBe(401);
    expectThrottled(await wrong(OWNER.email, "198.51.100.12"));
  });
});

describe("an attacker elsewhere cannot lock the user out", () => {
  it("leaves the user's own network its 5 tries after another network burned its own", async () => {
    for (let i = 0; i < 3 * LOGIN_MAX_FAILURES_PER_EMAIL_NETWORK; i++) await wrong(OWNER.email, "203.0.113.66", i);
    expectThrottled(await wrong(OWNER.email, "203.0.113.66"));
    // The real user, typing badly at first, from home.
    for (let i = 0; i < LOGIN_MAX_FAILURES_PER_EMAIL_NETWORK - 1; i++)
      expect((await wrong(OWNER.email, "198.51.100.13", i)).status).toBe(401);
    expect((await attempt(OWNER.email, OWNER.password, "198.51.100.13")).status).toBe(200);
  });

  it("locks the email everywhere only at the global cap of 50 failures from many networks", SLOW, async () => {
    const networks = LOGIN_MAX_FAILURES_PER_EMAIL / LOGIN_MAX_FAILURES_PER_EMAIL_NETWORK;
    for (let n = 0; n < networks; n++) {
      for (let i = 0; i < LOGIN_MAX_FAILURES_PER_EMAIL_NETWORK; i++)
        expect((await wrong(OWNER.email, `192.0.2.${n + 1}`, i)).status).toBe(401);
    }
    expectThrottled(await attempt(OWNER.email, OWNER.password, "198.51.100.14"));
    vi.setSystemTime(Date.now() + LOGIN_WINDOW_MS);
    expect((await attempt(OWNER.email, OWNER.password, "198.51.100.14")).status).toBe(200);
  });

  it("does not let refused attempts from one network eat the email's global count", SLOW, async () => {
    // More attempts from one network than the global cap: 5 are checked, the rest are refused and must not count toward it.
    for (let i = 0; i < LOGIN_MAX_FAILURES_PER_EMAIL + 10; i++) await wrong(OWNER.email, "203.0.113.67", i);
    expect((await attempt(OWNER.email, OWNER.password, "198.51.100.15")).status).toBe(200);
  });

  it(`still counts a network's failures across emails (${LOGIN_MAX_FAILURES_PER_NETWORK})`, async () => {
    const ip = "203.0.113.68";
    for (let i = 0; i < LOGIN_MAX_FAILURES_PER_NETWORK; i++)
      expect((await wrong(`spray${i}@example.com`, ip)).status).toBe(401);
    expectThrottled(await wrong("spray-last@example.com", ip));
    expect((await attempt(OWNER.email, OWNER.password, "198.51.100.16")).status).toBe(200);
  });
});

describe("IPv6 clients are counted by their /64", () => {
  it("treats every address of one /64 as one network, and another /64 as another", async () => {
    for (let i = 0; i < LOGIN_MAX_FAILURES_PER_EMAIL_NETWORK; i++) {
      expect((await wrong(OWNER.email, `2001:db8:aa:1::${(i + 1).toString(16)}`, i)).status).toBe(401);
    }
    expectThrottled(await wrong(OWNER.email, "2001:0db8:00aa:0001:ffff:ffff:ffff:ffff"));
    expectThrottled(await attempt(OWNER.email, OWNER.password, "2001:db8:aa:1:1234::"));
    expect((await attempt(OWNER.email, OWNER.password, "2001:db8:aa:2::1")).status).toBe(200);
  });

  it("counts an IPv4-mapped address as its IPv4 address", async () => {
    for (let i = 0; i < LOGIN_MAX_FAILURES_PER_EMAIL_NETWORK; i++)
      expect((await wrong(OWNER.email, "198.51.100.17", i)).status).toBe(401);
    expectThrottled(await attempt(OWNER.email, OWNER.password, "::ffff:198.51.100.17"));
  });
});

describe("password confirmations", () => {
  it("are throttled per session and never lock the user's sign-in", async () => {
    const session = (await attempt(OWNER.email, OWNER.password, "198.51.100.18")).setCookie!;
    const confirm = (password: string) =>
      api("POST", "/api/session/confirm", { cookie: session, body: { password }, ip: "198.51.100.18" });
    for (let i = 0; i < CONFIRM_MAX_FAILURES_PER_SESSION; i++)
      expect((await confirm(`typo ${i} password`)).status).toBe(403);
    expectThrottled(await confirm(OWNER.password));
    const change = await api("POST", "/api/me/password", {
      cookie: session,
      body: { currentPassword: OWNER.password, newPassword: "never set this one" },
      ip: "198.51.100.18",
    });
    expectThrottled(change);
    // Sign-in from the same network is untouched, and a new session may confirm.
    const fresh = (await attempt(OWNER.email, OWNER.password, "198.51.100.18")).setCookie!;
    expect(
      (
        await api("POST", "/api/session/confirm", {
          cookie: fresh,
          body: { password: OWNER.password },
          ip: "198.51.100.18",
        })
      ).status,
    ).toBe(200);
  });
});

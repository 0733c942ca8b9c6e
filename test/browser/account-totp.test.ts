// Issue 16 item 13 in the console: Your account. A person sees their sessions and signs another one
// out, turns on two-factor sign-in with an authenticator app (the test is the app: it reads the QR
// code the page draws, and computes the code from the setup key shown, RFC 6238 with WebCrypto), saves
// the recovery codes, signs in again with a code, and changes their password; an admin without two
// factors in an organization that requires them is sent to turn them on. Uses the owner
// console.test.ts creates (or creates it).
import jsQR from "jsqr";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { PNG } from "pngjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { call, launch, newPage, ORG, OWNER, shot, signInOwner } from "./browser";

const TESS = { email: "tess@acme.test", name: "Tess", password: "tess chose this 2026" };
const NEW_PASSWORD = "tess changed it 2026!";
const UMA = { email: "uma@acme.test", name: "Uma", password: "uma chose this 2026" };

let browser: Browser;
let page: Page;
const contexts: BrowserContext[] = [];

beforeAll(async () => {
  browser = await launch();
});
afterAll(async () => {
  for (const c of contexts) await c.close();
  await browser?.close();
});

async function profile(): Promise<Page> {
  const { context, page: p } = await newPage(browser);
  contexts.push(context);
  return p;
}

/** A new profile in which the invited person registers through the link, which signs them in. */
async function joinByInvitation(secret: string, person: { name: string; password: string }): Promise<Page> {
  const p = await profile();
  await p.goto("/login");
  const joined = await call(p, "POST", "/api/invitations/register", {
    secret,
    name: person.name,
    password: person.password,
  });
  expect(joined.status).toBe(201);
  return p;
}

/** What an authenticator app shows for a base32 key at `at` (HMAC-SHA-1, 6 digits, 30 s). */
async function totp(key: string, at: number): Promise<string> {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let bits = "";
  for (const ch of key.replace(/\s/g, "")) bits += alphabet.indexOf(ch).toString(2).padStart(5, "0");
  const bytes = new Uint8Array(Math.floor(bits.length / 8));
  for (let i = 0; i < bytes.length; i++) bytes[i] = Number.parseInt(bits.slice(i * 8, i * 8 + 8), 2);
  const counter = new DataView(new ArrayBuffer(8));
  counter.setUint32(4, Math.floor(at / 30_000));
  const hmac = await crypto.subtle.importKey("raw", bytes, { name: "HMAC", hash: "SHA-1" }, false, ["sign"]);
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", hmac, counter.buffer));
  const o = mac[19]! & 15;
  const n = ((mac[o]! & 127) << 24) | (mac[o + 1]! << 16) | (mac[o + 2]! << 8) | mac[o + 3]!;
  return String(n % 1_000_000).padStart(6, "0");
}

const heading = (name: string | RegExp, p = page) => p.getByRole("heading", { level: 1, name }).waitFor();
const status = (text: string, p = page) => p.getByRole("status").filter({ hasText: text }).waitFor();

describe("your account", () => {
  let other: Page;
  let owner: Page;
  let key = "";
  /** The recovery codes shown once at enrollment: sudo takes one where a code is asked. */
  let recovery: string[] = [];

  beforeAll(async () => {
    // The owner invites Tess; she registers through the link, which signs her in (this page).
    owner = await profile();
    expect(await signInOwner(owner)).toBeLessThan(300);
    expect((await call(owner, "POST", "/api/session/confirm", { password: OWNER.password })).status).toBe(200);
    const added = await call(owner, "POST", `/api/orgs/${ORG.slug}/members`, { email: TESS.email, role: "org_member" });
    expect(added.status).toBe(202);
    page = await joinByInvitation(added.body.secret, TESS);
    // A second session of hers, elsewhere.
    other = await profile();
    await other.goto("/login");
    expect((await call(other, "POST", "/api/session", { email: TESS.email, password: TESS.password })).status).toBe(
      200,
    );
  });

  it("lists her sessions and signs the other one out", async () => {
    await page.goto("/account");
    await heading("Your account");
    const rows = page.getByRole("region", { name: "Sessions" }).getByRole("row");
    await page.getByText("This session").waitFor();
    expect(await rows.count()).toBe(3);
    await shot(page, "account", { docs: true });
    const otherRow = rows.filter({ has: page.getByRole("button", { name: /^Sign out / }) });
    await otherRow.getByRole("button", { name: /^Sign out / }).click();
    await status("Session signed out.");
    await expect.poll(() => rows.count()).toBe(2);
    expect((await call(other, "GET", "/api/me")).status).toBe(401);
  });

  it("turns on two-factor sign-in with a code computed from the key shown, and shows ten recovery codes once", async () => {
    const section = page.getByRole("region", { name: "Two-factor sign-in" });
    await section.getByLabel("Password", { exact: true }).fill(TESS.password);
    await section.getByRole("button", { name: "Set up two-factor sign-in" }).click();
    const shown = section.getByLabel("Setup key");
    await shown.waitFor();
    key = await shown.inputValue();
    expect(key.replace(/\s/g, "")).toMatch(/^[A-Z2-7]{32}$/);
    const uri = await section.getByRole("link", { name: /^otpauth:\/\/totp\// }).getAttribute("href");
    expect(uri).toContain(`secret=${key.replace(/\s/g, "")}`);
    // What a phone camera sees: the QR code as drawn on the page reads back as the same link.
    const png = PNG.sync.read(
      await section.getByRole("img", { name: "QR code for your authenticator app" }).screenshot(),
    );
    expect(jsQR(new Uint8ClampedArray(png.data), png.width, png.height)?.data).toBe(uri);
    await section.getByLabel("Code from the app").fill(await totp(key, Date.now()));
    await section.getByRole("button", { name: "Turn on" }).click();
    const codes = page.getByRole("dialog", { name: "Your recovery codes" });
    await codes.waitFor();
    expect(await codes.getByRole("listitem").count()).toBe(10);
    recovery = (await codes.getByRole("listitem").allTextContents()).map((c) => c.trim());
    await codes.getByRole("button", { name: "Copy" }).click();
    await codes.getByText("Copied to the clipboard.").waitFor();
    expect((await page.evaluate(() => navigator.clipboard.readText())).trim().split("\n")).toHaveLength(10);
    await shot(page, "account-recovery-codes");
    await codes.getByRole("button", { name: "Done" }).click();
    await page.getByText("10 recovery codes left").waitFor();
  });

  it("signs in again with the password, then a code from the app", async () => {
    await page.getByRole("button", { name: "Sign out" }).first().click();
    await page.goto("/login");
    await page.getByLabel("Email").fill(TESS.email);
    await page.getByLabel("Password").fill(TESS.password);
    await page.getByRole("button", { name: "Sign in" }).click();
    const code = page.getByLabel("Authentication code");
    await code.waitFor();
    await shot(page, "sign-in-code");
    // The enrollment used this step's code: the app's next one (accepted one step ahead) signs in.
    await code.fill(await totp(key, Date.now() + 30_000));
    await page.getByRole("button", { name: "Verify" }).click();
    await page.getByRole("link", { name: "Your account" }).waitFor();
    expect((await call(page, "GET", "/api/me")).body.twoFactor.enabled).toBe(true);
  });

  it("regenerates her recovery codes with the password and one of the old codes, which all stop working", async () => {
    await page.getByRole("link", { name: "Your account" }).click();
    await page.getByRole("button", { name: "Regenerate recovery codes" }).click();
    const dialog = page.getByRole("dialog", { name: "Regenerate recovery codes" });
    await dialog.getByLabel("Password").fill(TESS.password);
    await dialog.getByLabel("Code from your app, or a recovery code").fill(recovery[0]!);
    await dialog.getByRole("button", { name: "Regenerate" }).click();
    const codes = page.getByRole("dialog", { name: "Your recovery codes" });
    await codes.waitFor();
    const fresh = (await codes.getByRole("listitem").allTextContents()).map((c) => c.trim());
    expect(fresh).toHaveLength(10);
    expect(fresh).not.toContain(recovery[1]);
    expect(
      (await call(page, "POST", "/api/session/confirm", { password: TESS.password, code: recovery[1] })).status,
    ).toBe(403);
    await codes.getByRole("button", { name: "Done" }).click();
    await page.getByText("10 recovery codes left").waitFor();
    recovery = fresh;
  });

  it("changes her password: the current one and a code are asked, and the new one signs in", async () => {
    await page.getByRole("link", { name: "Your account" }).click();
    await heading("Your account");
    await page.getByLabel("Current password").fill("not my password at all");
    await page.getByLabel("New password").fill(NEW_PASSWORD);
    // Her second factor is on: a stolen cookie with her password alone could not lock her out.
    await page.getByLabel("Code from your app, or a recovery code").fill(recovery[0]!);
    await page.getByRole("button", { name: "Change password" }).click();
    await page.getByText(/password is not correct/).waitFor();
    await page.getByLabel("Current password").fill(TESS.password);
    await page.getByRole("button", { name: "Change password" }).click();
    await status("Password changed. Your other sessions were signed out.");
    const old = await call(page, "POST", "/api/session", { email: TESS.email, password: TESS.password });
    expect(old.body.error.code).toBe("unauthenticated");
    const fresh = await call(page, "POST", "/api/session", { email: TESS.email, password: NEW_PASSWORD });
    expect(fresh.body.error.code).toBe("two_factor_code_required");
  });

  it("an organization's settings offer the two-factor policy, refused to an owner without two factors", async () => {
    await owner.goto(`/orgs/${ORG.slug}/settings`);
    const policy = owner.getByRole("button", { name: "Require two-factor sign-in for admins" });
    await policy.click();
    // The PUT needs sudo; the owner's earlier confirmation may still hold, else the prompt asks.
    const refusal = owner.getByText("Turn on two-factor sign-in for your own account first");
    const sudo = owner.getByRole("dialog", { name: "Confirm your password" });
    await refusal.or(sudo).first().waitFor();
    if (await sudo.isVisible()) {
      await sudo.getByLabel("Password").fill(OWNER.password);
      await sudo.getByRole("button", { name: "Confirm" }).click();
    }
    await refusal.waitFor();
    expect((await call(owner, "GET", `/api/orgs/${ORG.slug}/two-factor-policy`)).body.requiredForAdmins).toBe(false);
  });

  it("an admin without two factors, in an organization that requires them, is sent to turn them on", async () => {
    // Tess (two factors on) administers a new organization and sets its policy; Uma, an admin there without
    // them, opens the organization's tokens and lands on her account page, told why.
    const slug = `tfa-${Date.now().toString(36)}`;
    expect((await call(owner, "POST", "/api/session/confirm", { password: OWNER.password })).status).toBe(200);
    expect((await call(owner, "POST", "/api/orgs", { slug, name: "Two factors" })).status).toBe(201);
    const tess = await call(owner, "POST", `/api/orgs/${slug}/members`, { email: TESS.email, role: "org_admin" });
    expect(tess.status).toBe(201);
    const sudo = await call(page, "POST", "/api/session/confirm", { password: NEW_PASSWORD, code: recovery[1] });
    expect(sudo.status).toBe(200);
    const policy = await call(page, "PUT", `/api/orgs/${slug}/two-factor-policy`, { requiredForAdmins: true });
    expect(policy.status).toBe(200);
    // The owner, without two factors, is now refused there too; Tess invites.
    expect((await call(owner, "GET", `/api/orgs/${slug}/members`)).body.error.code).toBe("two_factor_required");
    const invited = await call(page, "POST", `/api/orgs/${slug}/members`, { email: UMA.email, role: "org_admin" });
    expect(invited.status).toBe(202);
    const uma = await joinByInvitation(invited.body.secret, UMA);
    await uma.goto(`/orgs/${slug}/tokens`);
    await uma.waitForURL(/\/account\?required=1$/);
    await heading("Your account", uma);
    await uma.getByRole("alert").filter({ hasText: "requires two-factor sign-in" }).waitFor();
    await uma.getByRole("button", { name: "Set up two-factor sign-in" }).waitFor();
  });
});

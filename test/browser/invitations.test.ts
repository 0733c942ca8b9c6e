// Issue 11 item 2 in the console: nobody chooses another person's password. An org admin invites by
// email and sees the one-time link once (Copy); it is listed as Invited and can be revoked. The
// invitee opens it signed out and chooses their own name and password, or, signed in as the invited
// email, accepts. The instance owner gives a person who lost their password a reset link instead.
// Uses the owner and organization console.test.ts creates (or creates them if it has not run).
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { afterSudo, baseUrl, call, launch, newPage, ORG, OWNER, shot, signInOwner } from "./browser";

const INVITEE = { email: "ivy@acme.test", name: "Ivy", password: "ivy chose this 2026" };
const LATER = { email: "lee@acme.test", name: "Lee", password: "lee chose this 2026" };
const LINK = new RegExp(`^${baseUrl.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}/invite#tsi_[A-Za-z0-9_-]{43}$`);

let browser: Browser;
let page: Page;
const contexts: BrowserContext[] = [];
/** The invitation link for INVITEE, as the console showed it once. */
let ivyLink = "";

beforeAll(async () => {
  browser = await launch();
  page = (await newPage(browser)).page;
});
afterAll(async () => {
  for (const c of contexts) await c.close();
  await browser?.close();
});

const heading = (name: string | RegExp, p = page) => p.getByRole("heading", { level: 1, name }).waitFor();
const dialog = (name: string | RegExp, p = page) => p.getByRole("dialog", { name });

/** A fresh browser profile with no session: what an invitee opening a link from an email has. */
async function stranger(): Promise<Page> {
  const { context, page: p } = await newPage(browser);
  contexts.push(context);
  return p;
}

/** Confirms the owner's password if the console asks, then reads, copies and closes the one-time link. */
async function linkShownOnce(title: string): Promise<string> {
  const shown = await afterSudo(page, title);
  await shown.getByText("you will not see it again").waitFor();
  const link = await shown.getByLabel("Link").inputValue();
  await shown.getByRole("button", { name: "Copy" }).click();
  await shown.getByText("Copied to the clipboard.").waitFor();
  expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(link);
  await shot(page, `link-${title.replace(/\W+/g, "-").toLowerCase()}`);
  await shown.getByRole("button", { name: "Done" }).click();
  await shown.waitFor({ state: "detached" });
  return link;
}

async function invite(email: string, role: string): Promise<string> {
  await page.getByRole("button", { name: "New member" }).click();
  const d = dialog("New member");
  // Nobody chooses a password for someone else: the dialog has no such field.
  expect(await d.getByLabel(/password/i).count()).toBe(0);
  await d.getByLabel("Email").fill(email);
  await d.getByLabel("Role", { exact: true }).selectOption({ label: role });
  await d.getByRole("button", { name: "Add" }).click();
  return linkShownOnce(`Invitation for ${email}`);
}

const row = (email: string, p = page) =>
  p.getByRole("row").filter({ has: p.getByRole("cell", { name: email, exact: true }) });

describe("invitations in the console", () => {
  it("an org admin invites by email: the link is shown once with Copy, listed as Invited, and revocable", async () => {
    expect(await signInOwner(page)).toBeLessThan(300);
    await page.goto(`/orgs/${ORG.slug}/members`);
    await heading("Members");

    ivyLink = await invite(INVITEE.email, "Admin");
    expect(ivyLink).toMatch(LINK);
    await row(INVITEE.email).getByText("Invited").waitFor();
    // The list never shows the link again.
    expect(await page.content()).not.toContain(ivyLink.split("#")[1]);

    const doomed = await invite("gone@acme.test", "Member");
    await row("gone@acme.test").getByText("Invited").waitFor();
    await shot(page, "members-invited", { docs: true });
    await page.getByRole("button", { name: "Revoke the invitation for gone@acme.test" }).click();
    const confirm = dialog("Revoke the invitation for “gone@acme.test”?");
    await confirm.getByRole("button", { name: "Revoke" }).click();
    await confirm.waitFor({ state: "detached" });
    await row("gone@acme.test").waitFor({ state: "detached" });
    const p = await stranger();
    await p.goto(doomed);
    await heading("This link does not work", p);
  });

  it("signed out, the invitee opens the link, chooses their own name and password, and is signed in", async () => {
    const p = await stranger();
    await p.goto(ivyLink);
    await heading(`Join ${ORG.name}`, p);
    await p.getByText(INVITEE.email).first().waitFor();
    await p.getByLabel("Your name").fill(INVITEE.name);
    await p.getByLabel("Choose a password").fill("too short");
    await p.getByRole("button", { name: "Create account and join" }).click();
    // The browser refuses a short password before anything is sent; the rules are setup's.
    expect(await p.getByLabel("Choose a password").evaluate((el: HTMLInputElement) => el.validity.tooShort)).toBe(true);
    await p.getByLabel("Choose a password").fill(INVITEE.password);
    await shot(p, "invite-register", { docs: true });
    await p.getByRole("button", { name: "Create account and join" }).click();
    // An admin lands on the organization's tokens, signed in; the link is out of the address bar.
    await heading("Tokens", p);
    expect(p.url()).not.toContain("tsi_");
    expect((await call(p, "GET", "/api/me")).body.user).toMatchObject({ email: INVITEE.email, name: INVITEE.name });
    // Used: the link does not work a second time.
    const again = await stranger();
    await again.goto(ivyLink);
    await heading("This link does not work", again);
    // The owner's list now shows a member, no invitation.
    await page.reload();
    await heading("Members");
    await row(INVITEE.email).getByRole("cell", { name: "Member", exact: true }).waitFor();
    expect(await row(INVITEE.email).getByText("Invited").count()).toBe(0);
  });

  it("signed in, a person accepts an invitation for their own email; another account is told it is not theirs", async () => {
    const link = await invite(LATER.email, "Member");
    // Meanwhile Lee got an account through another organization's invitation.
    const lee = await stranger();
    await lee.goto(link);
    await heading(`Join ${ORG.name}`, lee);
    await call(page, "POST", "/api/session/confirm", { password: OWNER.password });
    const other = await call(page, "POST", "/api/orgs", { slug: "invitees", name: "Invitees" });
    expect(other.status).toBe(201);
    const invited = await call(page, "POST", "/api/orgs/invitees/members", { email: LATER.email, role: "org_member" });
    expect(invited.status).toBe(202);
    expect(
      (
        await call(lee, "POST", "/api/invitations/register", {
          secret: invited.body.secret,
          name: LATER.name,
          password: LATER.password,
        })
      ).status,
    ).toBe(201);

    // Ivy, signed in, cannot take Lee's invitation.
    const ivy = await stranger();
    await ivy.goto(link);
    await heading(`Join ${ORG.name}`, ivy);
    expect((await call(ivy, "POST", "/api/session", { email: INVITEE.email, password: INVITEE.password })).status).toBe(
      200,
    );
    await ivy.reload();
    await ivy.getByText("but this invitation is for").waitFor();
    expect(await ivy.getByRole("button", { name: "Accept invitation" }).count()).toBe(0);

    await lee.reload();
    await heading(`Join ${ORG.name}`, lee);
    await shot(lee, "invite-accept");
    await lee.getByRole("button", { name: "Accept invitation" }).click();
    await heading("My tokens", lee);
    const me = (await call(lee, "GET", "/api/me")).body;
    expect(me.memberships.map((m: { org: { slug: string } }) => m.org.slug).sort()).toEqual(["acme", "invitees"]);
    expect(me.user.name).toBe(LATER.name);
  });

  it("someone who got an account meanwhile is offered to sign in, and comes back to the invitation", async () => {
    const KIM = { email: "kim@acme.test", name: "Kim", password: "kim chose this 2026" };
    const link = await invite(KIM.email, "Member");
    await call(page, "POST", "/api/session/confirm", { password: OWNER.password });
    const elsewhere = await call(page, "POST", "/api/orgs/invitees/members", { email: KIM.email, role: "org_member" });
    const kim = await stranger();
    await kim.goto("/");
    expect(
      (await call(kim, "POST", "/api/invitations/register", { secret: elsewhere.body.secret, ...KIM })).status,
    ).toBe(201);
    await call(kim, "DELETE", "/api/session");

    await kim.goto(link);
    await heading(`Join ${ORG.name}`, kim);
    await kim.getByLabel("Your name").fill(KIM.name);
    await kim.getByLabel("Choose a password").fill(KIM.password);
    await kim.getByRole("button", { name: "Create account and join" }).click();
    await kim.getByRole("link", { name: `Sign in as ${KIM.email}` }).click();
    // The invitation's secret rides in the login page's fragment, never in its query.
    expect(new URL(kim.url()).search).toBe("");
    await kim.getByLabel("Email").fill(KIM.email);
    await kim.getByLabel("Password").fill(KIM.password);
    await kim.getByRole("button", { name: "Sign in" }).click();
    await heading(`Join ${ORG.name}`, kim);
    await kim.getByRole("button", { name: "Accept invitation" }).click();
    await heading("My tokens", kim);
  });

  it("the instance owner gives a member a password reset link; the member chooses the new password", async () => {
    await page.reload();
    await heading("Members");
    await page.getByRole("button", { name: `Reset the password of ${INVITEE.email}` }).click();
    await dialog(`Password reset link for “${INVITEE.email}”?`).getByRole("button", { name: "Create link" }).click();
    const link = await linkShownOnce(`Password reset for ${INVITEE.email}`);
    expect(link).toMatch(/\/reset#tsr_[A-Za-z0-9_-]{43}$/);

    const p = await stranger();
    await p.goto(link);
    await heading("Choose a new password", p);
    await p.getByLabel("New password").fill("ivy's next password 2027");
    await p.getByRole("button", { name: "Set password" }).click();
    await heading("Password changed", p);
    await p.getByRole("link", { name: "Sign in" }).click();
    await p.getByLabel("Email").fill(INVITEE.email);
    await p.getByLabel("Password").fill("ivy's next password 2027");
    await p.getByRole("button", { name: "Sign in" }).click();
    await heading("Tokens", p);
    // An org admin who is not the owner sees no such action.
    await p.goto(`/orgs/${ORG.slug}/members`);
    await heading("Members", p);
    await row(OWNER.email, p).waitFor();
    expect(await p.getByRole("button", { name: /Reset the password/ }).count()).toBe(0);
  });
});

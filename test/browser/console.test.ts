// The console end to end, in the order a new instance lives it: first run, sign-in, projects,
// a scoped token made, copied and verified, edited, regenerated, revoked in bulk, the password
// prompt after the confirmation lapsed, and what a plain member sees. Tests share the instance
// and run in order; each saves a screenshot of its last screen.
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { afterSudo, baseUrl, launch, newPage, OWNER, persist, shot, verify } from "./browser";
import { d1, readText, SETUP_TOKEN } from "./server.mjs";

const MEMBER = { email: "mia@acme.test", password: "member password 2026" };
const SECRET = /^tso_[0-9A-Za-z]{36}$/;

let browser: Browser;
let page: Page;
/** Secrets the tests made, by token name; the console itself never shows them twice. */
const secrets = new Map<string, string>();
let ciTokenUrl = "";

beforeAll(async () => {
  browser = await launch();
  page = (await newPage(browser)).page;
});
afterAll(async () => {
  await browser?.close();
});

const heading = (name: string | RegExp, p = page) => p.getByRole("heading", { level: 1, name }).waitFor();
const dialog = (name: string | RegExp, p = page) => p.getByRole("dialog", { name });

/** Fills the create dialog's common fields and submits; returns the secret shown once. */
async function createToken(name: string, fill: (d: ReturnType<typeof dialog>) => Promise<void>): Promise<string> {
  await page.getByRole("button", { name: "New token" }).click();
  const d = dialog("New token");
  await d.getByLabel("Name", { exact: true }).fill(name);
  await fill(d);
  await d.getByRole("button", { name: "Create token" }).click();
  const shown = await afterSudo(page, `Your token “${name}”`);
  const secret = await shown.getByLabel("Token").inputValue();
  secrets.set(name, secret);
  // Done closes at once only after Copy (or Download): otherwise it asks first (test/browser/daily-work.test.ts).
  await shown.getByRole("button", { name: "Copy" }).click();
  await shown.getByRole("button", { name: "Done" }).click();
  await shown.waitFor({ state: "detached" });
  return secret;
}

describe("console", () => {
  it("first run: /setup creates the owner and the first organization, then opens its tokens", async () => {
    // Without the deployment's setup token nobody claims the instance: the refusal names the field.
    await page.goto("/");
    await heading("Welcome to Tessera");
    expect(new URL(page.url()).pathname).toBe("/setup");
    await page.getByLabel("Setup token").fill("a guess");
    await page.getByLabel("Your email").fill("mallory@evil.test");
    await page.getByLabel("Password").fill("mallory owns this now");
    await page.getByLabel("Organization name").fill("Pwned");
    await page.getByRole("button", { name: "Create owner and organization" }).click();
    await page.getByText("not this deployment's SETUP_TOKEN").waitFor();
    // The link `npm run dev` prints carries the token in its fragment: the field is filled, the address bar cleared.
    await page.goto(`/#token=${SETUP_TOKEN}`);
    await heading("Welcome to Tessera");
    expect(await page.getByLabel("Setup token").inputValue()).toBe(SETUP_TOKEN);
    expect(new URL(page.url()).hash).toBe("");
    await page.getByLabel("Your email").fill(OWNER.email);
    await page.getByLabel("Password").fill("too short");
    await page.getByLabel("Organization name").fill("Acme Corp");
    expect(await page.getByLabel("Organization slug").inputValue()).toBe("acme-corp");
    await page.getByLabel("Organization slug").fill("acme");
    await shot(page, "setup", { docs: true });
    // The browser refuses a short password before anything is sent.
    await page.getByRole("button", { name: "Create owner and organization" }).click();
    expect(await page.getByLabel("Password").evaluate((el) => (el as HTMLInputElement).validity.tooShort)).toBe(true);
    await page.getByLabel("Password").fill(OWNER.password);
    await page.getByRole("button", { name: "Create owner and organization" }).click();
    await heading("Tokens");
    expect(new URL(page.url()).pathname).toBe("/orgs/acme/tokens");
    await page.getByText("No tokens yet.").waitFor();
    await shot(page, "tokens-empty");
  });

  it("sign-in: a wrong password is refused in words; the right one returns to the page asked for", async () => {
    const { context, page: p } = await newPage(browser);
    await p.goto("/orgs/acme/projects");
    await heading("Sign in to Tessera", p);
    await p.getByLabel("Email").fill(OWNER.email);
    await p.getByLabel("Password").fill("not the password");
    await p.getByRole("button", { name: "Sign in" }).click();
    await p.getByRole("alert").waitFor();
    expect(await p.getByRole("alert").textContent()).toMatch(/password/i);
    await shot(p, "login-error", { docs: true });
    await p.getByLabel("Password").fill(OWNER.password);
    await p.getByRole("button", { name: "Sign in" }).click();
    await heading("Projects", p);
    expect(new URL(p.url()).pathname).toBe("/orgs/acme/projects");
    await shot(p, "login-done");
    await context.close();
  });

  it("projects: an admin adds the projects tokens will be scoped to", async () => {
    await page.getByRole("link", { name: "Projects" }).click();
    await heading("Projects");
    await page.getByText("No projects yet.").waitFor();
    for (const [key, name] of [
      ["web", "Web shop"],
      ["api", "Public API"],
      ["docs", "Documentation"],
    ] as const) {
      await page.getByRole("button", { name: "New project" }).click();
      const d = dialog("New project");
      await d.getByLabel("Key").fill(key);
      await d.getByLabel("Name").fill(name);
      await d.getByRole("button", { name: "Create" }).click();
      // A new project widens every token for all projects at once: the first one asks for the password,
      // then the request goes on by itself.
      if (key === "web") {
        const sudo = page.getByRole("dialog", { name: "Confirm your password" });
        await sudo.getByLabel("Password").fill(OWNER.password);
        await sudo.getByRole("button", { name: "Confirm" }).click();
      }
      await d.waitFor({ state: "detached" });
      await page.getByRole("cell", { name: key, exact: true }).waitFor();
    }
    await shot(page, "projects");
  });

  it("create: a token scoped to chosen projects and methods; its secret is copied once and verifies", async () => {
    await page.getByRole("link", { name: "Tokens", exact: true }).click();
    await heading("Tokens");
    await page.getByRole("button", { name: "New token" }).click();
    const d = dialog("New token");
    await d.getByLabel("Name", { exact: true }).fill("CI main");
    await d.getByLabel("Description (optional)").fill("Runs the analysis on every push to main");
    // No expiration shows its warning; 30 days is what we keep.
    await d.getByLabel("Expires").selectOption("none");
    await d.getByText("A token that never expires").waitFor();
    await d.getByLabel("Expires").selectOption("30");
    await d.getByText("The token will expire on").waitFor();
    // Projects from the searchable selection dialog.
    await d.getByRole("button", { name: "Select projects…" }).click();
    const picker = dialog("Select projects");
    await picker.getByLabel("Search projects").fill("we");
    await picker.getByRole("checkbox", { name: /web/ }).check();
    await picker.getByLabel("Search projects").fill("");
    await picker.getByRole("checkbox", { name: /api/ }).check();
    await picker.getByRole("button", { name: "Select 2 projects" }).click();
    await picker.waitFor({ state: "detached" });
    await d.getByText("web, api").or(d.getByText("api, web")).waitFor();
    // Custom methods with search and "Only checked".
    await d.getByLabel("Search methods").fill("analysis");
    await d.getByRole("checkbox", { name: /analysis:execute/ }).check();
    await d.getByLabel("Search methods").fill("");
    await d.getByLabel("Only checked").check();
    expect(await d.getByRole("list").getByRole("checkbox").count()).toBe(1);
    await shot(page, "create-token", { docs: true });
    // The password was confirmed for the first project, minutes ago: no second prompt.
    await d.getByRole("button", { name: "Create token" }).click();

    const shown = dialog("Your token “CI main”");
    await shown.waitFor();
    await shown.getByText("you will not see it again").waitFor();
    await shown.getByRole("button", { name: "Copy" }).click();
    await shown.getByText("Copied to the clipboard.").waitFor();
    const copied = await page.evaluate(() => navigator.clipboard.readText());
    expect(copied).toMatch(SECRET);
    expect(copied).toBe(await shown.getByLabel("Token").inputValue());
    await shot(page, "token-secret", { docs: true });
    secrets.set("CI main", copied);
    const [download] = await Promise.all([
      page.waitForEvent("download"),
      shown.getByRole("button", { name: "Download" }).click(),
    ]);
    expect(download.suggestedFilename()).toBe("ci-main.token.txt");
    expect(readText((await download.path())!).trim()).toBe(copied);

    const ok = await verify(copied, { permission: "analysis:execute", project: "web" });
    expect(ok.status).toBe(200);
    expect(ok.body.valid).toBe(true);
    expect((await verify(copied, { project: "docs" })).body.error).toBe("project_out_of_scope");
    expect((await verify(copied, { permission: "issues:write", project: "web" })).body.error).toBe("permission_denied");

    // Closing the dialog drops the secret: not in the page, the address or storage.
    await shown.getByRole("button", { name: "Done" }).click();
    await shown.waitFor({ state: "detached" });
    await page.getByRole("link", { name: "CI main" }).waitFor();
    expect(await page.content()).not.toContain(copied);
    expect(page.url()).not.toContain(copied);
    expect(await page.evaluate(() => localStorage.length + sessionStorage.length)).toBe(0);
    await shot(page, "tokens", { docs: true });
  });

  it("edit projects: a chosen-projects token gains a project, and verification follows at once", async () => {
    await page.getByRole("link", { name: "CI main" }).click();
    await heading("CI main");
    ciTokenUrl = new URL(page.url()).pathname;
    expect(ciTokenUrl).toMatch(/^\/orgs\/acme\/tokens\/[^/]+$/);
    await page.getByRole("button", { name: "Edit projects" }).click();
    const picker = dialog("Select projects");
    await picker.getByRole("checkbox", { name: /docs/ }).check();
    await picker.getByRole("button", { name: "Use 3 projects" }).click();
    await picker.waitFor({ state: "detached" });
    await page.getByText("api, docs, web").waitFor();
    const answer = await verify(secrets.get("CI main")!, { project: "docs" });
    expect(answer.status).toBe(200);
    await shot(page, "token-details", { docs: true });
  });

  it("deep link: the token's address reloads to the same view", async () => {
    await page.goto(ciTokenUrl);
    await heading("CI main");
    await page.getByText("api, docs, web").waitFor();
    await page.getByText(`by ${OWNER.email} (you)`).waitFor();
    await shot(page, "deep-link");
  });

  it("regenerate: a new secret is shown once; the old one stops verifying", async () => {
    const old = secrets.get("CI main")!;
    await page.getByRole("button", { name: "Regenerate" }).click();
    const confirm = dialog("Regenerate token");
    await confirm.getByRole("button", { name: "Regenerate" }).click();
    const shown = dialog("Your token “CI main”");
    await shown.waitFor();
    const fresh = await shown.getByLabel("Token").inputValue();
    expect(fresh).toMatch(SECRET);
    expect(fresh).not.toBe(old);
    await shown.getByRole("button", { name: "Copy" }).click();
    await shown.getByRole("button", { name: "Done" }).click();
    await shown.waitFor({ state: "detached" });
    expect((await verify(fresh, { project: "docs" })).status).toBe(200);
    expect((await verify(old)).body.valid).toBe(false);
    secrets.set("CI main", fresh);
    await shot(page, "token-regenerated");
  });

  it("copy: a new token with the same scope and its own secret, opened after the secret is shown", async () => {
    await page.getByRole("button", { name: "Copy", exact: true }).click();
    const d = dialog("Copy “CI main”");
    expect(await d.getByLabel("Name", { exact: true }).inputValue()).toBe("CI main (copy)");
    await d.getByLabel("Name", { exact: true }).fill("CI release");
    await d.getByRole("button", { name: "Create copy" }).click();
    const shown = dialog("Your token “CI release”");
    await shown.waitFor();
    const secret = await shown.getByLabel("Token").inputValue();
    secrets.set("CI release", secret);
    await shown.getByRole("button", { name: "Copy" }).click();
    await shown.getByRole("button", { name: "Done" }).click();
    await heading("CI release");
    await page.getByText("api, docs, web").waitFor();
    expect(secret).not.toBe(secrets.get("CI main"));
    expect((await verify(secret, { project: "docs", permission: "analysis:execute" })).status).toBe(200);
    await shot(page, "token-copied");
  });

  it("delete: a token is revoked and erased, and the list no longer shows it", async () => {
    await page.getByRole("button", { name: "Delete" }).click();
    const confirm = dialog("Delete token?");
    await confirm.getByText("This cannot be undone").waitFor();
    await confirm.getByRole("button", { name: "Delete" }).click();
    await heading("Tokens");
    await page.getByRole("link", { name: "CI main" }).waitFor();
    expect(await page.getByRole("link", { name: "CI release" }).count()).toBe(0);
    expect((await verify(secrets.get("CI release")!)).body.valid).toBe(false);
    await shot(page, "token-deleted");
  });

  it("keyboard: the create dialog opens from the keyboard, keeps focus inside, and Escape gives it back", async () => {
    await page.getByRole("link", { name: "Tokens", exact: true }).click();
    await heading("Tokens");
    const open = page.getByRole("button", { name: "New token" });
    await open.focus();
    await page.keyboard.press("Enter");
    const d = dialog("New token");
    await d.waitFor();
    const focused = () =>
      page.evaluate(
        () => document.activeElement?.getAttribute("aria-label") ?? document.activeElement?.textContent ?? "",
      );
    await expect
      .poll(() => d.getByLabel("Name", { exact: true }).evaluate((el) => el === document.activeElement))
      .toBe(true);
    // Once the projects and permissions have loaded, "Create token" is the last control.
    await d.getByRole("button", { name: "Select projects…" }).waitFor();
    // Backwards from the first field, forwards from the last button: focus wraps, never leaves.
    await d.getByRole("button", { name: "Close" }).focus();
    await page.keyboard.press("Shift+Tab");
    expect(await focused()).toBe("Create token");
    await page.keyboard.press("Tab");
    expect(await focused()).toBe("Close");
    // Enter on an empty form is refused by the browser, next to the field.
    await d.getByLabel("Name", { exact: true }).focus();
    await page.keyboard.press("Enter");
    expect(
      await d.getByLabel("Name", { exact: true }).evaluate((el) => (el as HTMLInputElement).validity.valueMissing),
    ).toBe(true);
    await shot(page, "create-keyboard");
    await page.keyboard.press("Escape");
    await d.waitFor({ state: "detached" });
    await expect.poll(() => open.evaluate((el) => el === document.activeElement)).toBe(true);
  });

  it("bulk revoke: two tokens selected in the list are revoked together", async () => {
    await page.getByRole("link", { name: "Tokens", exact: true }).click();
    await heading("Tokens");
    const deploy = await createToken("Deploy bot", async (d) => {
      await d.getByLabel("All projects, current and future").check();
      await d.getByLabel("Permission set").selectOption({ label: "Execute analysis" });
    });
    const nightly = await createToken("Nightly job", async (d) => {
      await d.getByLabel("All projects, current and future").check();
      await d.getByLabel("Expires").selectOption("7");
      await d.getByLabel("Search methods").fill("issues:read");
      await d.getByRole("checkbox", { name: /issues:read/ }).check();
    });
    expect((await verify(deploy)).status).toBe(200);
    // A 7-day preset runs to the end of its day: Active, not About to expire (issue 16, item 5).
    await page
      .getByRole("row", { name: /Nightly job/ })
      .getByText("Active")
      .waitFor();

    await page.getByLabel("Select Deploy bot").check();
    await page.getByLabel("Select Nightly job").check();
    await page.getByText("2 selected").waitFor();
    await shot(page, "tokens-selected", { docs: true });
    await page.getByRole("button", { name: "Revoke", exact: true }).click();
    const confirm = dialog("Revoke 2 tokens?");
    await confirm.getByRole("button", { name: "Revoke" }).click();
    await confirm.waitFor({ state: "detached" });
    await page
      .getByRole("row", { name: /Deploy bot/ })
      .getByText("Revoked", { exact: true })
      .waitFor();
    await page
      .getByRole("row", { name: /Nightly job/ })
      .getByText("Revoked", { exact: true })
      .waitFor();
    expect((await verify(deploy)).body.error).toBe("token_revoked");
    expect((await verify(nightly)).body.error).toBe("token_revoked");
    expect((await verify(secrets.get("CI main")!)).status).toBe(200);

    // Filter by status and search narrow the list.
    await page.getByLabel("Status").selectOption("revoked");
    await page.getByRole("link", { name: "CI main" }).waitFor({ state: "detached" });
    await page.getByLabel("Search tokens").fill("deploy");
    await page.getByRole("link", { name: "Nightly job" }).waitFor({ state: "detached" });
    await page.getByRole("link", { name: "Deploy bot" }).waitFor();
    await shot(page, "tokens-filtered");
    await page
      .getByRole("button", { name: "Clear the filters" })
      .or(page.getByLabel("Search tokens"))
      .first()
      .waitFor();
  });

  it("sudo: once the confirmation has lapsed, an action asks for the password again, then completes; enable follows", async () => {
    d1(persist, "UPDATE sessions SET sudo_until = 1");
    await page.goto(ciTokenUrl);
    await heading("CI main");
    await page.getByRole("button", { name: "Disable" }).click();
    await dialog("Disable token?").getByRole("button", { name: "Disable" }).click();
    const sudo = dialog("Confirm your password");
    await sudo.waitFor();
    await sudo.getByLabel("Password").fill("wrong password");
    await sudo.getByRole("button", { name: "Confirm" }).click();
    await sudo.locator(".err").waitFor();
    await shot(page, "sudo-prompt", { docs: true });
    await sudo.getByLabel("Password").fill(OWNER.password);
    await sudo.getByRole("button", { name: "Confirm" }).click();
    await sudo.waitFor({ state: "detached" });
    await page.locator(".badge", { hasText: "Disabled" }).waitFor();
    expect((await verify(secrets.get("CI main")!)).body.error).toBe("token_disabled");
    await shot(page, "token-disabled");
    // Within the 5 minutes, the next change goes through without asking.
    await page.getByRole("button", { name: "Enable" }).click();
    await dialog("Enable token?").getByRole("button", { name: "Enable" }).click();
    await page.locator(".badge", { hasText: "Active" }).waitFor();
    expect(await dialog("Confirm your password").count()).toBe(0);
    expect((await verify(secrets.get("CI main")!)).status).toBe(200);
  });

  it("audit log: the changes above are listed, newest first", async () => {
    await page.getByRole("link", { name: "Audit log" }).click();
    await heading("Audit log");
    // Actions in words (the raw name is the title).
    const table = page.getByRole("table");
    await table.getByText("Disabled token").first().waitFor();
    await table.getByText("Created token").first().waitFor();
    expect(await table.getByText("Disabled token").first().getAttribute("title")).toBe("token.disabled");
    // People by email and tokens by name, from the API's labels (no id to decode).
    await page.locator("td", { hasText: OWNER.email }).first().waitFor();
    await page.getByRole("table").getByRole("link", { name: "CI main" }).first().waitFor();
    await shot(page, "audit", { docs: true });
  });

  it("groups: a group's page lists and makes its own tokens (tsg_)", async () => {
    await page.getByRole("link", { name: "Groups" }).click();
    await heading("Groups");
    await page.getByRole("button", { name: "New group" }).click();
    const d = dialog("New group");
    await d.getByLabel("Name").fill("Platform team");
    await d.getByLabel("Slug").fill("platform");
    await d.getByRole("button", { name: "Create" }).click();
    await d.waitFor({ state: "detached" });
    await page.getByRole("link", { name: "Platform team" }).click();
    await heading("Group platform: tokens");
    await page.getByText("No tokens yet.").waitFor();
    const secret = await createToken("Platform deploys", async (c) => {
      // The group is given by the page: no owner choice to make.
      expect(await c.getByLabel("The organization").count()).toBe(0);
      await c.getByLabel("All projects, current and future").check();
      await c.getByLabel("Permission set").selectOption({ label: "Execute analysis" });
    });
    expect(secret).toMatch(/^tsg_[0-9A-Za-z]{36}$/);
    await page
      .getByRole("row", { name: /Platform deploys/ })
      .getByText("Group Platform team")
      .waitFor();
    expect((await verify(secret, { permission: "analysis:execute" })).body.valid).toBe(true);
    await shot(page, "group-tokens", { docs: true });
    // A token over all projects cannot be narrowed: no project editing is offered.
    await page.getByRole("link", { name: "Platform deploys" }).click();
    await heading("Platform deploys");
    await page.getByText("cannot be narrowed").waitFor();
    expect(await page.getByRole("button", { name: "Edit projects" }).count()).toBe(0);
  });

  it("catalog: permission sets and methods are listed, and the owner adds a method", async () => {
    await page.getByRole("link", { name: "Permissions" }).click();
    await heading("Permissions");
    await page.getByRole("cell", { name: /^IDE plugins/ }).waitFor();
    await page.getByRole("button", { name: "New permission", exact: true }).click();
    const d = dialog("New permission");
    await d.getByLabel("Method").fill("report:export");
    await d.getByLabel("Description").fill("Export reports as PDF");
    await d.getByRole("button", { name: "Add" }).click();
    await d.waitFor({ state: "detached" });
    await page.getByRole("cell", { name: "report:export", exact: true }).waitFor();
    await shot(page, "permissions", { docs: true });
  });

  it("settings: the webhook URL is checked next to its field, then saved", async () => {
    // A Standard Webhooks secret: whsec_ and the base64 of 32 bytes.
    const SIGNING_SECRET = `whsec_${btoa("a-shared-secret-of-32-characters")}`;
    await page.getByRole("link", { name: "Settings" }).click();
    await heading("Settings");
    await page.getByLabel("Webhook URL").fill("http://hooks.acme.test/tessera");
    await page.getByLabel("Signing secret").fill(SIGNING_SECRET);
    await page.getByRole("button", { name: "Save webhook" }).click();
    await page.getByText("must be an https:// URL").waitFor();
    expect(await page.getByLabel("Webhook URL").getAttribute("aria-invalid")).toBe("true");
    await page.getByLabel("Webhook URL").fill("https://hooks.acme.test/tessera");
    await page.getByRole("button", { name: "Save webhook" }).click();
    await page.getByText("Saved.").waitFor();
    await page.reload();
    await heading("Settings");
    expect(await page.getByLabel("Webhook URL").inputValue()).toBe("https://hooks.acme.test/tessera");
    // With a secret stored, the URL changes alone.
    await page.getByText("leave empty to keep the current secret").waitFor();
    await page.getByLabel("Webhook URL").fill("https://hooks.acme.test/tessera-2");
    await page.getByRole("button", { name: "Save webhook" }).click();
    await page.getByText("Saved.").waitFor();
    await page.reload();
    await heading("Settings");
    expect(await page.getByLabel("Webhook URL").inputValue()).toBe("https://hooks.acme.test/tessera-2");
    expect(d1(persist, "SELECT webhook_secret FROM organizations WHERE slug = 'acme'")).toContain(SIGNING_SECRET);
    await shot(page, "settings", { docs: true });
  });

  it("member: a plain member gets their own tokens and read-only pages, and no admin action", async () => {
    await page.getByRole("link", { name: "Members" }).click();
    await heading("Members");
    await page.getByRole("button", { name: "New member" }).click();
    const d = dialog("New member");
    await d.getByLabel("Email").fill(MEMBER.email);
    await d.getByLabel("Role", { exact: true }).selectOption({ label: "Member" });
    await d.getByRole("button", { name: "Add" }).click();
    // A new person is invited: the one-time link is theirs to open; they choose their own password.
    const invited = dialog(`Invitation for ${MEMBER.email}`);
    await invited.waitFor();
    const link = await invited.getByLabel("Link").inputValue();
    await invited.getByRole("button", { name: "Copy" }).click();
    await invited.getByRole("button", { name: "Done" }).click();
    await invited.waitFor({ state: "detached" });
    await page.getByRole("cell", { name: MEMBER.email, exact: true }).waitFor();

    const { context, page: p } = await newPage(browser);
    await p.goto(link);
    await p.getByLabel("Your name").fill("Mia");
    await p.getByLabel("Choose a password").fill(MEMBER.password);
    await p.getByRole("button", { name: "Create account and join" }).click();
    // A member's place is their own tokens; the organization's are for its admins.
    await heading("My tokens", p);
    await p.getByText("No tokens yet.").waitFor();
    const nav = p.getByRole("navigation", { name: "Console" });
    await nav.getByRole("link", { name: "Projects" }).waitFor();
    for (const link of ["Tokens", "Audit log", "Settings"])
      expect(await nav.getByRole("link", { name: link, exact: true }).count()).toBe(0);
    // Their own tokens are theirs to make: a personal token (tsp_) in their organization.
    await p.getByRole("button", { name: "New token" }).click();
    const mine = dialog("New personal token", p);
    await mine.getByLabel("Name", { exact: true }).fill("Mia's IDE");
    await mine.getByLabel("All projects, current and future").check();
    await mine.getByLabel("Permission set").selectOption({ label: "IDE plugins" });
    expect(await mine.getByLabel("Admin: this token").count()).toBe(0);
    await mine.getByRole("button", { name: "Create token" }).click();
    const sudo = dialog("Confirm your password", p);
    await sudo.getByLabel("Password").fill(MEMBER.password);
    await sudo.getByRole("button", { name: "Confirm" }).click();
    const shown = dialog("Your token “Mia's IDE”", p);
    const personal = await shown.getByLabel("Token").inputValue();
    expect(personal).toMatch(/^tsp_[0-9A-Za-z]{36}$/);
    await shown.getByRole("button", { name: "Copy" }).click();
    await shown.getByRole("button", { name: "Done" }).click();
    await p.getByRole("link", { name: "Mia's IDE" }).waitFor();
    expect((await verify(personal)).body.valid).toBe(true);
    await shot(p, "member-my-tokens", { docs: true });

    await nav.getByRole("link", { name: "Projects" }).click();
    await heading("Projects", p);
    await p.getByRole("cell", { name: "web", exact: true }).waitFor();
    expect(await p.getByRole("button", { name: "New project" }).count()).toBe(0);
    expect(await p.getByRole("button", { name: /Remove/ }).count()).toBe(0);
    await nav.getByRole("link", { name: "Members" }).click();
    await heading("Members", p);
    await p.getByRole("cell", { name: MEMBER.email, exact: true }).waitFor();
    expect(await p.getByRole("button", { name: "New member" }).count()).toBe(0);

    // Typing an admin's address leads to a refusal in words, with nothing to click.
    await p.goto(ciTokenUrl);
    await heading("Token not found", p);
    await p.getByRole("alert").waitFor();
    for (const action of ["Edit", "Regenerate", "Copy", "Enable", "Disable", "Revoke", "Delete", "Edit projects"]) {
      expect(await p.getByRole("button", { name: action, exact: true }).count()).toBe(0);
    }
    await p.goto("/orgs/acme/tokens");
    await heading("Tokens", p);
    await p.getByRole("alert").waitFor();
    expect(await p.getByRole("button", { name: "New token" }).count()).toBe(0);
    expect(await p.getByRole("checkbox").count()).toBe(0);
    await shot(p, "member-refused");
    await context.close();
  });

  it("organizations: the owner adds one and the switcher moves between them", async () => {
    await page.getByRole("link", { name: "Organizations" }).click();
    await heading("Organizations");
    await page.getByRole("button", { name: "New organization" }).click();
    const d = dialog("New organization");
    await d.getByLabel("Name").fill("Beta Labs");
    await d.getByLabel("Slug").fill("beta");
    await d.getByRole("button", { name: "Create" }).click();
    await d.waitFor({ state: "detached" });
    await page.getByRole("link", { name: "Beta Labs" }).click();
    await heading("Tokens");
    expect(new URL(page.url()).pathname).toBe("/orgs/beta/tokens");
    await page.getByText("No tokens yet.").waitFor();
    await page.getByLabel("Organization").selectOption({ label: "Acme Corp" });
    await page.getByRole("link", { name: "CI main" }).waitFor();
    expect(new URL(page.url()).pathname).toBe("/orgs/acme/tokens");
    await shot(page, "switcher");
  });

  it("dark mode: the console follows the system's colour scheme", async () => {
    const { context, page: p } = await newPage(browser, { colorScheme: "dark" });
    await p.goto("/login");
    await p.getByLabel("Email").fill(OWNER.email);
    await p.getByLabel("Password").fill(OWNER.password);
    await p.getByRole("button", { name: "Sign in" }).click();
    await heading("Tokens", p);
    await p.getByRole("link", { name: "CI main", exact: true }).waitFor();
    const background = await p.evaluate(() => getComputedStyle(document.documentElement).backgroundColor);
    expect(background).toBe("rgb(13, 17, 23)");
    await shot(p, "tokens-dark", { docs: true });
    await context.close();
  });

  it("headers: the console is served with a strict CSP and no inline script", async () => {
    const res = await fetch(`${baseUrl}/orgs/acme/tokens`, {
      headers: { "Sec-Fetch-Mode": "navigate", Accept: "text/html" },
    });
    const csp = res.headers.get("content-security-policy") ?? "";
    expect(csp).toContain("default-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toContain("unsafe-inline");
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
    expect(res.headers.get("referrer-policy")).toBe("no-referrer");
    const html = await res.text();
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
  });
});

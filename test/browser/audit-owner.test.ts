// Issue 16, items 11 and 12: the audit log's filters kept in the address, before → after, deleted
// targets as text, a token's History tab; the owner's cron jobs with Run now; renaming a project and
// a group and changing a member's role. Uses the owner and organization console.test.ts creates.
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { call, launch, newPage, ORG, OWNER, shot, signInOwner } from "./browser";

let browser: Browser;
let page: Page;
const AUDIT = `/orgs/${ORG.slug}/audit`;
const MEMBER = { email: "ao-member@acme.test", password: "audit owner member 123" };

beforeAll(async () => {
  browser = await launch();
  ({ page } = await newPage(browser));
  expect(await signInOwner(page)).toBeLessThan(300);
  expect((await call(page, "POST", "/api/session/confirm", { password: OWNER.password })).status).toBe(200);
  await call(page, "POST", `/api/orgs/${ORG.slug}/projects`, { key: "ao-a", name: "AO A" });
});
afterAll(async () => {
  await browser?.close();
});

const heading = (name: string | RegExp) => page.getByRole("heading", { level: 1, name }).waitFor();

async function apiToken(name: string): Promise<string> {
  const res = await call(page, "POST", `/api/orgs/${ORG.slug}/tokens`, {
    kind: "org",
    name,
    expiresAt: null,
    projects: ["ao-a"],
    permissions: ["analysis:execute"],
  });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.token.id;
}

describe("the audit log", () => {
  it("keeps its filters in the address (reload, Back, the export), with before → after and deleted targets", async () => {
    const id = await apiToken("ao first name");
    expect((await call(page, "PATCH", `/api/orgs/${ORG.slug}/tokens/${id}`, { name: "ao second name" })).status).toBe(
      200,
    );
    const doomed = await apiToken("ao doomed");
    expect((await call(page, "DELETE", `/api/orgs/${ORG.slug}/tokens/${doomed}`)).status).toBe(204);

    await page.goto(AUDIT);
    await heading("Audit log");
    const filters = page.getByRole("form", { name: "Filter events" });
    await filters.getByLabel("Action").selectOption("token.updated");
    await filters.getByLabel("By").fill(OWNER.email);
    await filters.getByLabel("About").fill(id);
    await filters.getByRole("button", { name: "Apply" }).click();
    await page.waitForURL(/action=token\.updated/);
    const query = new URL(page.url()).searchParams;
    expect(query.get("actor")).toBe(OWNER.email);
    // The header and the one event.
    await expect.poll(() => page.getByRole("row").count()).toBe(2);
    const row = page.getByRole("row").filter({ hasText: "Changed token" }).filter({ hasText: "ao second name" });
    await row.getByText("Changed token").waitFor();
    expect(await row.textContent()).toContain("name: ao first name → ao second name");
    await shot(page, "audit-filtered", { docs: true });

    // A reload keeps the filters, in the list and in the controls.
    await page.reload();
    await row.getByText("Changed token").waitFor();
    expect(await filters.getByLabel("Action").inputValue()).toBe("token.updated");
    expect(await filters.getByLabel("By").inputValue()).toBe(OWNER.email);
    expect(await filters.getByLabel("About").inputValue()).toBe(id);

    // The export downloads the same filtered list.
    const csvHref = await page.getByRole("link", { name: "CSV" }).getAttribute("href");
    expect(csvHref).toContain("action=token.updated");
    const csv = await page.evaluate(async (href) => (await fetch(href!)).text(), csvHref);
    expect(csv.trimEnd().split("\r\n")).toHaveLength(2);
    expect(csv).toContain("ao second name");

    // Back returns to the unfiltered list, Forward to the filtered one.
    await page.goBack();
    await page.waitForURL((u) => u.search === "");
    await page
      .getByRole("row", { name: /Deleted token/ })
      .first()
      .waitFor();
    await page.goForward();
    await page.waitForURL(/action=token\.updated/);
    await expect.poll(() => page.getByRole("row").count()).toBe(2);
    await row.waitFor();

    // A deleted target reads "(deleted)" and links nowhere.
    await page.goto(`${AUDIT}?target=${doomed}`);
    const gone = page.getByRole("row", { name: /Deleted token/ });
    await gone.getByText("ao doomed (deleted)").waitFor();
    expect(await gone.getByRole("link", { name: /ao doomed/ }).count()).toBe(0);
    const live = page.goto(`${AUDIT}?target=${id}`);
    await live;
    await page
      .getByRole("row", { name: /Created token/ })
      .getByRole("link", { name: "ao second name" })
      .waitFor();
  });

  it("a token's History tab lists what happened to it, and stays open on reload", async () => {
    const id = await apiToken("ao history");
    expect(
      (await call(page, "PATCH", `/api/orgs/${ORG.slug}/tokens/${id}`, { description: "now described" })).status,
    ).toBe(200);
    await page.goto(`/orgs/${ORG.slug}/tokens/${id}`);
    await heading("ao history");
    await page.getByRole("tab", { name: "History" }).click();
    await page.waitForURL(/tab=history/);
    const panel = page.getByRole("tabpanel");
    await panel.getByRole("row", { name: /Changed token/ }).waitFor();
    expect(await panel.getByRole("row", { name: /Created token/ }).count()).toBe(1);
    expect(await panel.textContent()).toContain("description: none → now described");
    expect(await page.locator("dl.facts").isVisible()).toBe(false);
    // The usage chart belongs to the details, and goes with them.
    expect(await page.getByRole("heading", { name: "Usage" }).isVisible()).toBe(false);
    await page.reload();
    await panel.getByRole("row", { name: /Changed token/ }).waitFor();
    expect(await page.getByRole("tab", { name: "History" }).getAttribute("aria-selected")).toBe("true");
    // The keyboard moves between tabs.
    await page.getByRole("tab", { name: "History" }).focus();
    await page.keyboard.press("ArrowLeft");
    await page.waitForURL((u) => !u.search.includes("tab="));
    expect(await page.locator("dl.facts").isVisible()).toBe(true);
    await page.getByRole("heading", { name: "Usage" }).waitFor();
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe("Details");
  });
});

describe("the owner's tools", () => {
  it("cron jobs: Run now runs them and shows each one's last run", async () => {
    await page.goto("/");
    await page.getByRole("link", { name: "Cron jobs" }).click();
    await heading("Cron jobs");
    await page.getByRole("row", { name: /^expiry/ }).waitFor();
    await page.getByRole("button", { name: "Run now" }).click();
    await page.getByText("The cron jobs ran.").waitFor();
    for (const job of ["expiry", "notices", "purge", "grace", "retention"]) {
      const row = page.getByRole("row", { name: new RegExp(`^${job}`) });
      await row.getByText(/^Run now, \d+ ms$/).waitFor();
      expect(await row.textContent()).toMatch(/Done|Stopped/);
    }
    await shot(page, "cron-jobs", { docs: true });
    // The run is in the instance audit log, in words.
    await page.getByRole("link", { name: "Instance events" }).click();
    await heading("Instance audit log");
    await page
      .getByRole("row", { name: /Ran the cron jobs/ })
      .first()
      .waitFor();
  });
});

describe("an organization's structure", () => {
  it("renames a project and a group", async () => {
    await call(page, "POST", `/api/orgs/${ORG.slug}/groups`, { slug: "ao-team", name: "AO Team" });
    await page.goto(`/orgs/${ORG.slug}/projects`);
    await heading("Projects");
    await page.getByRole("button", { name: "Rename ao-a" }).click();
    let d = page.getByRole("dialog", { name: "Rename project “ao-a”" });
    expect(await d.getByLabel("Name").inputValue()).toBe("AO A");
    await d.getByLabel("Name").fill("AO Alpha");
    await d.getByRole("button", { name: "Rename" }).click();
    await d.waitFor({ state: "detached" });
    await page.getByRole("row", { name: /ao-a/ }).getByText("AO Alpha").waitFor();

    await page.goto(`/orgs/${ORG.slug}/groups`);
    await heading("Groups");
    await page.getByRole("button", { name: "Rename AO Team" }).click();
    d = page.getByRole("dialog", { name: "Rename group “AO Team”" });
    await d.getByLabel("Name").fill("AO Squad");
    await d.getByRole("button", { name: "Rename" }).click();
    await d.waitFor({ state: "detached" });
    await page.getByRole("link", { name: "AO Squad" }).waitFor();
    const changed = await call(page, "GET", `/api/orgs/${ORG.slug}/audit?action=group.updated&limit=1`);
    expect(changed.body.items[0].detail.changes).toEqual({ name: { from: "AO Team", to: "AO Squad" } });
  });

  it("changes a member's role and the ceiling of their personal tokens", async () => {
    const invited = await call(page, "POST", `/api/orgs/${ORG.slug}/members`, {
      email: MEMBER.email,
      role: "org_member",
    });
    expect(invited.status).toBe(202);
    const other = await newPage(browser);
    await other.page.goto("/");
    const joined = await call(other.page, "POST", "/api/invitations/register", {
      secret: invited.body.secret,
      name: "AO Member",
      password: MEMBER.password,
    });
    expect(joined.status).toBe(201);
    await other.context.close();

    await page.goto(`/orgs/${ORG.slug}/members`);
    await heading("Members");
    await page.getByRole("button", { name: `Edit ${MEMBER.email}` }).click();
    const d = page.getByRole("dialog", { name: `Edit member “${MEMBER.email}”` });
    const role = d.getByLabel("Role");
    // A membership of the whole organization takes organization roles only.
    expect(await role.locator("option").allTextContents()).toEqual(["Member", "Admin"]);
    await role.selectOption("org_admin");
    await d.getByLabel("Only these").check();
    await d.getByLabel("analysis:execute").check();
    await d.getByRole("button", { name: "Save" }).click();
    const sudo = page.getByRole("dialog", { name: "Confirm your password" });
    await sudo.or(page.getByText("Member saved.")).waitFor();
    if (await sudo.isVisible()) {
      await sudo.getByLabel("Password").fill(OWNER.password);
      await sudo.getByRole("button", { name: "Confirm" }).click();
    }
    await page.getByText("Member saved.").waitFor();
    const row = page.getByRole("row", { name: new RegExp(MEMBER.email) });
    await row.getByText("Admin").waitFor();
    expect(await row.textContent()).toContain("Up to 1 permission");
  });
});
